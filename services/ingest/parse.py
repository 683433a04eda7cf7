"""Pure parsing: (file name, bytes, clock reading, size limit, sidecar bytes) -> Parsed | Rejected.
No I/O.

The format comes from the name's suffix (SUFFIXES), except that content decides first for a PDF
(`%PDF`) or an HTML page (`<!DOCTYPE html`, `<html`) under another name. Each format's reader
(formats/) returns drafts; draft.finish() holds each to the one contract and limit. An export
(JSON, JSON Lines) yields many articles: a bad record is a Rejected with its line or position
(Parsed.problems) and the good ones go on; a file with no good record at all is Rejected whole.

A sidecar `name.meta.json` (the watch loop and replay find it) supplies or overrides title,
outlet, url, published, language and author; its other fields go under source.meta.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from newspipe.contract import RawArticle
from services.ingest.decode import NotText
from services.ingest.draft import (
    MAX_BYTES_SETTING,
    MIN_BODY_CHARS,
    Draft,
    Unusable,
    finish,
    looks_like_title,
    too_large,
)
from services.ingest.formats.export import FIELD_NAMES, Problem, read_json, read_jsonl
from services.ingest.formats.html import read_html, read_mhtml
from services.ingest.formats.mail import read_email
from services.ingest.formats.pdf import read_pdf
from services.ingest.formats.plain import read_markdown, read_text

__all__ = ["MAX_BYTES_SETTING", "MIN_BODY_CHARS", "Parsed", "Rejected", "looks_like_title", "parse"]

SUFFIXES = {
    ".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".html": "html",
    ".htm": "html", ".xhtml": "html", ".mhtml": "mhtml", ".mht": "mhtml", ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".pdf": "pdf", ".eml": "eml",
}  # fmt: skip
SUPPORTED_SUFFIXES = tuple(SUFFIXES)
# Formats whose file is the article's text: the article limit applies to the file itself.
TEXT_FORMATS = ("txt", "md")
EXPORTS = ("json", "jsonl")
SIDECAR_SUFFIX = ".meta.json"
# Reasons listed in a rejected export's message before "... and N more".
MAX_LISTED_PROBLEMS = 20
_HTML_START = (b"<!doctype html", b"<html")

Reader = Callable[[bytes, datetime], list[Draft | Problem] | list[Draft]]
READERS: dict[str, Reader] = {
    "txt": lambda data, now: read_text(data),
    "md": lambda data, now: read_markdown(data),
    "html": read_html,
    "mhtml": read_mhtml,
    "json": lambda data, now: read_json(data),
    "jsonl": lambda data, now: read_jsonl(data),
    "pdf": lambda data, now: read_pdf(data),
    "eml": read_email,
}


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str
    record: int | None = None  # an export's line or position
    raw: str | None = None  # that record as it was in the file, to put aside


@dataclass(frozen=True)
class Parsed:
    articles: list[RawArticle]
    problems: list[Rejected] = field(default_factory=list)  # an export's bad records


def file_format(name: str, data: bytes) -> str | None:
    if data.startswith(b"%PDF"):
        return "pdf"
    fmt = SUFFIXES.get("." + name.rpartition(".")[2].lower()) if "." in name else None
    if fmt in ("txt", None) and data.lstrip()[:20].lower().startswith(_HTML_START):
        return "html" if fmt else None
    return fmt


def parse(
    name: str,
    data: bytes,
    now: datetime,
    max_bytes: int | None = None,
    sidecar: bytes | None = None,
) -> Parsed | Rejected:
    """`name` is the path relative to the inbox; it becomes `Source.path` as given."""
    fmt = file_format(name, data[:64])
    if fmt is None:
        return Rejected(name, f"unsupported file type: expected one of {SUPPORTED_SUFFIXES}")
    if max_bytes is not None and fmt in TEXT_FORMATS and len(data) > max_bytes:
        return Rejected(name, too_large(len(data), max_bytes))
    try:
        fields, extra = read_sidecar(sidecar) if sidecar is not None else ({}, {})
        drafts = READERS[fmt](data, now)
    except (NotText, Unusable) as exc:
        return Rejected(name, str(exc))
    articles: list[RawArticle] = []
    problems: list[Rejected] = []
    for draft in drafts:
        if isinstance(draft, Problem):
            problems.append(
                Rejected(name, _at(fmt, draft.record, draft.reason), draft.record, draft.raw)
            )
            continue
        draft.meta.update(extra)
        # Each record of an export its own instant, in file order: the link stage takes the
        # earliest seen (ingested_at, then id) as a group's original, and ties broken by id made
        # it re-decide earlier records as later ones came (1.25 corrections an article).
        at = now + timedelta(microseconds=len(articles))
        try:
            articles.append(finish(draft, name, at, max_bytes, fields, fmt not in EXPORTS))
        except Unusable as exc:
            if draft.record is None:
                return Rejected(name, _text_size(str(exc), data, draft))
            problems.append(
                Rejected(name, _at(fmt, draft.record, str(exc)), draft.record, draft.raw)
            )
    if not articles:
        return Rejected(name, _none_usable(problems))
    return Parsed(articles, problems)


def read_sidecar(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(contract fields, other fields) of a sidecar: one JSON object, named as exports name them."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Unusable(f"its sidecar {SIDECAR_SUFFIX} file is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise Unusable(f"its sidecar {SIDECAR_SUFFIX} file is not a JSON object")
    names = {alias.lower(): f for f, aliases in FIELD_NAMES.items() for alias in aliases}
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, item in value.items():
        target = names.get(str(key).lower())
        if target is not None and target != "body":
            fields.setdefault(target, item)
        else:
            extra[str(key)] = item
    return fields, extra


def _at(fmt: str, record: int, reason: str) -> str:
    return f"{'line' if fmt == 'jsonl' else 'record'} {record}: {reason}"


def _none_usable(problems: list[Rejected]) -> str:
    listed = "; ".join(p.reason for p in problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    return f"no usable article in the export: {listed}" + (f"; and {more} more" if more > 0 else "")


def _text_size(reason: str, data: bytes, draft: Draft) -> str:
    """A text file over the limit once in UTF-8 says so, and what it was on disk."""
    if reason.startswith("too large") and draft.encoding not in (None, "utf-8", "utf-8-sig"):
        return reason.replace(
            " of article text",
            f" as UTF-8 text (the file is {len(data):,} bytes of {draft.encoding})",
        )
    return reason
