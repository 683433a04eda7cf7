"""Pure parsing: (file name, bytes, clock reading) -> RawArticle | Rejected. No I/O.

A `.txt` article is UTF-8 text. An optional header block of `Key: value` lines (Title, Outlet or
Source, URL, Published or Date) ends at the first blank line. Otherwise the first line is the title
when it looks like one (short, no sentence-final full stop, followed by more text), the rest
the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from newspipe.contract import RawArticle, Source, doc_id

SUPPORTED_SUFFIXES = (".txt",)
# A headline is short: the longest of the seeds' real headlines has 8 words; wire headlines rarely
# pass 20. A first line longer than that is a lead paragraph (seeds 001 and 002).
MAX_TITLE_WORDS = 20
MAX_TITLE_CHARS = 200
MIN_BODY_CHARS = 20
_HEADER = re.compile(r"^(title|outlet|source|url|published|date)\s*:\s*(.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str


def parse(name: str, data: bytes, now: datetime) -> RawArticle | Rejected:
    if not name.lower().endswith(SUPPORTED_SUFFIXES):
        return Rejected(name, f"unsupported file type: expected one of {SUPPORTED_SUFFIXES}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Rejected(
            name,
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} is invalid"
            " (save the file as UTF-8)",
        )
    if "\x00" in text:
        return Rejected(name, "binary content: the file contains NUL bytes")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header, text = _split_header(text)
    title, body = _split_title(text)
    title = header.get("title", title)
    if len(body) < MIN_BODY_CHARS:
        return Rejected(name, f"no article body: fewer than {MIN_BODY_CHARS} characters of text")
    published = _parse_date(header.get("published") or header.get("date"))
    return RawArticle(
        id=doc_id(body),
        title=title,
        body=body,
        source=Source(
            path=name, outlet=header.get("outlet") or header.get("source"), url=header.get("url")
        ),
        published_at=published,
        ingested_at=now,
    )


def _split_header(text: str) -> tuple[dict[str, str], str]:
    lines = text.lstrip("\n").split("\n")
    header: dict[str, str] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            return (header, "\n".join(lines[i + 1 :])) if header else ({}, text)
        match = _HEADER.match(line.strip())
        if not match:
            return {}, text
        header[match.group(1).lower()] = match.group(2).strip()
    return {}, text


def _split_title(text: str) -> tuple[str | None, str]:
    stripped = text.strip()
    first, _, rest = stripped.partition("\n")
    first = first.strip()
    if rest.strip() and looks_like_title(first):
        return first, rest.strip()
    return None, stripped


def looks_like_title(line: str) -> bool:
    words = line.split()
    return (
        0 < len(words) <= MAX_TITLE_WORDS
        and len(line) <= MAX_TITLE_CHARS
        and not line.endswith((".", ",", ";", ":"))
    )


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
