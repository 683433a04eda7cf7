"""Plain text (.txt) and Markdown (.md) files.

A text file may open with a header block of `Key: value` lines (Title, Outlet or Source, URL,
Published or Date, Language, Author) ending at the first blank line. A Markdown file may open with
YAML front matter between `---` lines (the same keys); its first heading is the title, and its
text is what markdown-it renders, without the markup (links keep their words, images go).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from markdown_it import MarkdownIt

from services.ingest.decode import decode
from services.ingest.draft import Draft

_HEADER = re.compile(
    r"^(title|outlet|source|url|published|date|language|author)\s*:\s*(.+)$", re.IGNORECASE
)
# Header keys by contract field (a header's "Source" is the outlet, "Date" the publication date).
_HEADER_FIELDS = {"source": "outlet", "date": "published"}
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
# Front matter names, as static-site generators and exporters write them.
FRONT_MATTER_FIELDS = {
    "title": "title", "headline": "title", "outlet": "outlet", "source": "outlet",
    "site": "outlet", "publisher": "outlet", "url": "url", "link": "url", "canonical": "url",
    "published": "published", "date": "published", "published_at": "published",
    "language": "language", "lang": "language", "author": "author", "authors": "author",
}  # fmt: skip


def read_text(data: bytes) -> list[Draft]:
    text, encoding = decode(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header, body = split_header(text)
    draft = Draft("txt", body, encoding=encoding)
    for key, value in header.items():
        draft.give(_HEADER_FIELDS.get(key, key), value, "header")
    return [draft]


def split_header(text: str) -> tuple[dict[str, str], str]:
    lines = text.lstrip("\n").split("\n")
    header: dict[str, str] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            return (header, "\n".join(lines[i + 1 :])) if header else ({}, text)
        match = _HEADER.match(line.strip())
        if not match:
            return {}, text
        header.setdefault(match.group(1).lower(), match.group(2).strip())
    # Header lines up to the end of the file: a header only if it names a Title; a lone
    # "Source: the UN said ..." line is more likely prose.
    return (header, "") if "title" in header else ({}, text)


def read_markdown(data: bytes) -> list[Draft]:
    text, encoding = decode(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front: dict[str, Any] = {}
    if match := _FRONT_MATTER.match(text):
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            front, text = loaded, text[match.end() :]
    title, body = _render(text)
    draft = Draft("md", body, encoding=encoding)
    extra: dict[str, Any] = {}
    for key, value in front.items():
        target = FRONT_MATTER_FIELDS.get(str(key).lower())
        if target:
            draft.give(target, value, "front-matter")
        else:
            extra[str(key)] = value
    draft.give("title", title, "heading")
    draft.meta.update(extra)
    return [draft]


def _render(text: str) -> tuple[str | None, str]:
    """(the first level-1 heading, the text as paragraphs). Block by block from markdown-it's
    tokens: each heading, paragraph, list item, quote or table cell's inline text is one line."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    title: str | None = None
    blocks: list[str] = []
    for i, token in enumerate(tokens):
        if token.type != "inline":
            continue
        words = _lines(token)
        opener = tokens[i - 1] if i else None
        heading = opener is not None and opener.type == "heading_open" and opener.tag == "h1"
        if heading and title is None and not blocks:
            title = words
            continue
        if words:
            blocks.append(words)
    return title, "\n\n".join(blocks)


def _lines(token: Any) -> str:
    """An inline token's text with its soft line breaks as spaces."""
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())
