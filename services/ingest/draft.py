"""From what a format reader found to a RawArticle (pure): metadata fields with their origin, the
sidecar's overrides, what the text itself says (dateline, credit), the URL's outlet, the title
rule, the size limit and the empty-body rule. Every format ends here, so every article is held
to the same contract and the same limits.

Precedence, per field: the sidecar; the file's own metadata (header block, page <head>, export
field, e-mail header, front matter); the text (dateline, closing credit); a PDF's info dictionary
(its creation date is the file's, often not the article's); the URL's domain; the first line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, get_args

from newspipe.contract import MetaField, Origin, RawArticle, Source, doc_id
from services.ingest.credits import find_credit, find_dateline, outlets

FIELDS: tuple[MetaField, ...] = get_args(MetaField)
# A headline is short: the longest of the seeds' real headlines has 8 words; wire headlines rarely
# pass 20. A first line longer than that is a lead paragraph (seeds 001 and 002).
MAX_TITLE_WORDS = 20
MAX_TITLE_CHARS = 200
MIN_BODY_CHARS = 20
MAX_BYTES_SETTING = "NEWSPIPE_INGEST__MAX_BYTES"
# Origins weaker than what the text says: a PDF's creation date and author are the file's.
_WEAK: frozenset[Origin] = frozenset({"pdf-meta", "url", "first-line"})
# A date more than a day after the file arrived is wrong (a time zone error, a typo): not used.
FUTURE_TOLERANCE = timedelta(days=1)
# ISO 639-2 codes some exports use (Event Registry: "eng"), and language names.
_LANGUAGES = {
    "eng": "en", "english": "en", "ara": "ar", "arabic": "ar", "fra": "fr", "fre": "fr",
    "french": "fr", "français": "fr", "francais": "fr", "العربية": "ar",
}  # fmt: skip
_DOMAIN = re.compile(r"^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)+$", re.I)
# A value in source.meta is kept whole up to this many characters of JSON (an export's raw HTML
# or full-text duplicate would otherwise travel with every copy of the article).
MAX_META_VALUE_CHARS = 2_000


@dataclass
class Draft:
    """One article as a format reader found it. `found` maps a field of FIELDS to its value and
    origin; `meta` holds the rest of what the source gave."""

    format: str
    body: str
    found: dict[str, tuple[Any, Origin]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    encoding: str | None = None
    record: int | None = None  # an export's line or position
    raw: str | None = None  # an export's record as it was in the file, to put aside if unusable

    def give(self, name: str, value: Any, origin: Origin) -> None:
        """Record `value` for field `name` unless it is empty or the field has a value already."""
        if name not in self.found and value not in (None, "", [], {}):
            self.found[name] = (value, origin)


class Unusable(ValueError):
    """The draft cannot become an article; the message is the reason."""


def finish(
    draft: Draft,
    name: str,
    now: datetime,
    max_bytes: int | None = None,
    sidecar: dict[str, Any] | None = None,
    sidecar_overrides: bool = True,
) -> RawArticle:
    """The article, or Unusable. A sidecar's fields override the file's (`sidecar_overrides`) or
    only fill what the file lacks (an export: the sidecar then speaks for every record)."""
    body = _clean(draft.body)
    found = dict(draft.found)
    if sidecar:
        for key, value in sidecar.items():
            if sidecar_overrides or key not in found:
                found[key] = (value, "sidecar")
    title = _text(found.get("title"))
    if title is None and (first := split_title(body))[0] is not None:
        title, body = first[0], first[1]
        found["title"] = (title, "first-line")
    elif title is not None:
        body = _without_title(body, title)
    if not body and title and len(title) >= MIN_BODY_CHARS:
        body = title  # a file holding only a title
    if len(body) < MIN_BODY_CHARS:
        raise Unusable(_no_body(title, body))
    _from_text(found, body, now)
    _check_size(title, body, max_bytes)
    published = _date(found.get("published"), now)
    if published is None:
        found.pop("published", None)
    return RawArticle(
        id=doc_id(body),
        title=title,
        body=body,
        source=Source(
            path=name,
            outlet=_text(found.get("outlet")),
            url=_text(found.get("url")),
            encoding=draft.encoding,
            format=draft.format,
            record=draft.record,
            author=_author(found.get("author")),
            language=_language(found.get("language")),
            provenance={k: found[k][1] for k in FIELDS if k in found},
            meta=_bounded(draft.meta),
        ),
        published_at=published,
        ingested_at=now,
    )


def _from_text(found: dict[str, tuple[Any, Origin]], body: str, now: datetime) -> None:
    """Dateline, closing credit and URL fill what the metadata left empty (or only weakly said)."""
    weak = {k for k, (_, origin) in found.items() if origin in _WEAK}
    dated = "published" in found and "published" not in weak
    if not dated or "outlet" not in found:
        dateline = find_dateline(body, now)
        if dateline is not None and dateline.published is not None and not dated:
            found["published"] = (dateline.published, "dateline")
        if dateline is not None and dateline.outlet and "outlet" not in found:
            found["outlet"] = (dateline.outlet, "dateline")
    if "outlet" not in found and (credit := find_credit(body)):
        found["outlet"] = (credit, "credit")
    url = _text(found.get("url"))
    if "outlet" not in found and url and (outlet := outlets().from_url(url)):
        found["outlet"] = (outlet, "url")
    given = _text(found.get("outlet"))
    if given and _DOMAIN.match(given):  # an export's "source_domain": the outlet's name if known
        found["outlet"] = (outlets().from_url(f"https://{given}") or given, found["outlet"][1])


def _clean(body: str) -> str:
    body = body.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    return re.sub(r"\n{3,}", "\n\n", body).strip()


def _text(entry: tuple[Any, Origin] | None) -> str | None:
    if entry is None:
        return None
    value = entry[0]
    if isinstance(value, dict):  # NewsAPI's source: {"id": ..., "name": ...}
        value = value.get("name") or value.get("title")
    if isinstance(value, list):
        value = value[0] if value else None
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def _author(entry: tuple[Any, Origin] | None) -> str | None:
    if entry is not None and isinstance(entry[0], list):  # authors: ["A", {"name": "B"}]
        names = [a.get("name") if isinstance(a, dict) else a for a in entry[0]]
        return ", ".join(str(n) for n in names if n) or None
    return _text(entry)


def _language(entry: tuple[Any, Origin] | None) -> str | None:
    text = _text(entry)
    if text is None:
        return None
    code = re.split(r"[-_]", text.strip().lower())[0]
    return _LANGUAGES.get(code, code) if code else None


def parse_date(value: Any) -> datetime | None:
    """A date as sources write it: a datetime or date; ISO 8601 ("2020-10-23", "...T10:00:00Z"); an
    e-mail date (RFC 2822); GDELT's "20201023T101500Z"; a PDF's "D:20201023101500+02'00'"; epoch
    seconds or milliseconds; else whatever dateparser reads ("23 October 2020", "23 أكتوبر 2020").
    Naive times are taken as UTC."""
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, date):  # YAML front matter's `date: 2022-06-14`
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    elif isinstance(value, str) and value.strip():
        parsed = _date_text(value.strip())
    else:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date_text(text: str) -> datetime | None:
    pdf = re.match(r"^D:(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?", text)
    if pdf:  # the zone suffix is dropped: a PDF's date is at best the file's
        y, mo, d, h, mi, s = (
            int(g) if g else 1 if i < 3 else 0 for i, g in enumerate(pdf.groups())
        )
        return datetime(y, mo, d, h, mi, s)
    compact = re.match(r"^(\d{8})T?(\d{6})?Z?$", text)
    if compact:
        return datetime.strptime(compact.group(1) + (compact.group(2) or "000000"), "%Y%m%d%H%M%S")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    import dateparser  # 0.3 s to import: only for dates written in words

    found: datetime | None = dateparser.parse(
        text, settings={"REQUIRE_PARTS": ["day", "month", "year"]}
    )
    return found


def _date(entry: tuple[Any, Origin] | None, now: datetime) -> datetime | None:
    if entry is None:
        return None
    parsed = parse_date(entry[0])
    if parsed is None or parsed > now + FUTURE_TOLERANCE or parsed.year < 1900:
        return None
    return parsed


def _bounded(meta: dict[str, Any]) -> dict[str, Any]:
    import orjson

    kept: dict[str, Any] = {}
    for key, value in meta.items():
        try:
            size = len(orjson.dumps(value))
        except TypeError:
            value, size = str(value), len(str(value))
        kept[str(key)] = (
            value
            if size <= MAX_META_VALUE_CHARS
            else f"[{size:,} characters, more than the {MAX_META_VALUE_CHARS:,} kept]"
        )
    return kept


def _check_size(title: str | None, body: str, max_bytes: int | None) -> None:
    if max_bytes is None:
        return
    size = len(body.encode("utf-8")) + len((title or "").encode("utf-8"))
    if size > max_bytes:
        raise Unusable(too_large(size, max_bytes, " of article text"))


def too_large(size: int, limit: int, detail: str = "", setting: str = MAX_BYTES_SETTING) -> str:
    """The one wording of a size refusal (inbox.too_large refuses files unread with it)."""
    return (
        f"too large: {size:,} bytes ({size / 2**20:.1f} MB){detail} > limit {limit:,} bytes"
        f" ({limit / 2**20:.1f} MB); raise {setting} to accept it"
    )


def _no_body(title: str | None, body: str) -> str:
    if title is not None and (not body or body == title):
        return (
            f"no article body: the file holds only the title {title!r} ({len(title)} characters);"
            f" a title alone is indexed from {MIN_BODY_CHARS} characters"
        )
    return f"no article body: fewer than {MIN_BODY_CHARS} characters of text"


def _without_title(body: str, title: str) -> str:
    """The body without a first line that repeats the title (pages and PDFs print it)."""
    first, _, rest = body.partition("\n")
    if _folded(first) == _folded(title) and rest.strip():
        return rest.strip()
    return body


def _folded(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def split_title(text: str) -> tuple[str | None, str]:
    """(first line, rest) when the first line looks like a headline followed by more text."""
    stripped = text.strip()
    first, _, rest = stripped.partition("\n")
    first = first.strip()
    if rest.strip() and looks_like_title(first):
        return first, rest.strip()
    if "\n" not in stripped and looks_like_title(stripped):
        return stripped, ""  # a lone headline: the title is the only text there is
    return None, stripped


def looks_like_title(line: str) -> bool:
    words = line.split()
    return (
        0 < len(words) <= MAX_TITLE_WORDS
        and len(line) <= MAX_TITLE_CHARS
        and not line.endswith((".", ",", ";", ":"))
    )
