"""Exports of monitoring services and scrapers: JSON (.json: one article object, an array of them,
or an object holding the array: {"articles": [...]}, {"results": [...]}, Elasticsearch's
{"hits": {"hits": [{"_source": ...}]}}) and JSON Lines (.jsonl, .ndjson: one object per line).

Each object is one article. Its fields are read by the names common exports use (FIELD_NAMES:
NewsAPI, GDELT, Event Registry, news-please, Media Cloud, trafilatura, schema.org, our own
documents); every other field is kept under source.meta. An object that is not an article (not
JSON, no text, a text cut short as NewsAPI's free tier gives it) is one Problem with its line or
position, and the rest of the file goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from services.ingest.decode import NotText, decode
from services.ingest.draft import Draft

# Contract field -> names exports use for it, most specific first.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "body": (
        "body", "text", "full_text", "fulltext", "maintext", "article_text", "articleBody",
        "content", "story_text", "raw_text",
    ),
    "title": ("title", "headline", "name", "title_page"),
    "url": ("url", "link", "uri", "canonical_url", "article_url", "source_url", "sourceurl"),
    "outlet": (
        "outlet", "source", "source_name", "sitename", "site_name", "publisher", "media_name",
        "source_domain", "domain", "feed",
    ),
    "published": (
        "published", "published_at", "publishedAt", "publish_date", "date_publish",
        "datePublished", "pubDate", "dateTime", "date", "seendate", "publication_date",
        "created_at", "timestamp",
    ),
    "language": ("language", "lang", "language_code", "inLanguage"),
    "author": ("author", "authors", "byline", "creator"),
}  # fmt: skip
# Lists an export wraps its articles in.
_CONTAINERS = ("articles", "results", "items", "data", "docs", "documents", "stories", "entries")
# NewsAPI's free tier cuts `content` at 200 characters and appends "[+1234 chars]".
_CUT = re.compile(r"\[\+\d+ chars\]\s*$")


@dataclass(frozen=True)
class Problem:
    record: int
    reason: str
    raw: str  # the record as it was in the file, to put aside


def read_jsonl(data: bytes) -> list[Draft | Problem]:
    text, encoding = decode(data)
    out: list[Draft | Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            out.append(Problem(number, f"not JSON: {exc}", line))
            continue
        out.append(_record(value, number, "jsonl", encoding, line))
    if not out:
        raise NotText("empty export: no JSON object on any line")
    return out


def read_json(data: bytes) -> list[Draft | Problem]:
    text, encoding = decode(data)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "\n{" in text.strip():  # JSON Lines saved as .json
            return read_jsonl(data)
        raise NotText(f"not JSON: {exc}") from None
    records = _articles_in(value)
    if records is None:
        return [_record(value, None, "json", encoding, text)]
    if not records:
        raise NotText("empty export: the JSON holds an empty list of articles")
    return [
        _record(item, number, "json", encoding, orjson.dumps(item).decode())
        for number, item in enumerate(records, start=1)
    ]


def _articles_in(value: Any) -> list[Any] | None:
    """The list of article objects, or None when `value` is one article."""
    if isinstance(value, list):
        return value
    if not isinstance(value, dict) or _first(value, FIELD_NAMES["body"]) is not None:
        return None
    hits = value.get("hits")
    if isinstance(hits, dict) and isinstance(hits.get("hits"), list):
        return list(hits["hits"])
    for key in _CONTAINERS:
        inner = value.get(key)
        if isinstance(inner, list):
            return inner
        if isinstance(inner, dict) and (found := _articles_in(inner)) is not None:
            return found  # Event Registry: {"articles": {"results": [...]}}
    return None


def _record(value: Any, number: int | None, fmt: str, encoding: str, raw: str) -> Draft | Problem:
    at = number or 1
    if not isinstance(value, dict):
        return Problem(at, f"not an article object but a JSON {type(value).__name__}", raw)
    if isinstance(value.get("_source"), dict):  # an Elasticsearch hit
        value = value["_source"]
    used: set[str] = set()
    body_key, body = _first(value, FIELD_NAMES["body"]) or (None, None)
    if not isinstance(body, str) or not body.strip():
        return Problem(at, _no_text(value), raw)
    if cut := _CUT.search(body):
        reason = (
            f"the text in {body_key!r} is cut short ({cut.group(0).strip()!r}): not the article"
        )
        return Problem(at, reason, raw)
    used.add(str(body_key))
    draft = Draft(fmt, body, encoding=encoding, record=number, raw=raw)
    for name in ("title", "url", "outlet", "published", "language", "author"):
        if (found := _first(value, FIELD_NAMES[name])) is not None:
            used.add(found[0])
            draft.give(name, found[1], "json")
    if "published" not in draft.found and value.get("date") and value.get("time"):
        draft.give("published", f"{value['date']}T{value['time']}", "json")
    draft.meta = {k: v for k, v in value.items() if k not in used}
    return draft


def _first(record: dict[str, Any], names: tuple[str, ...]) -> tuple[str, Any] | None:
    lowered = {str(k).lower(): k for k in record}
    for name in names:
        key = lowered.get(name.lower())
        if key is not None and record[key] not in (None, "", [], {}):
            return str(key), record[key]
    return None


def _no_text(record: dict[str, Any]) -> str:
    fields = ", ".join(sorted(map(str, record))[:12]) or "none"
    names = ", ".join(FIELD_NAMES["body"][:6])
    return f"no article text: none of the fields {names}, ... holds text (fields: {fields})"
