"""Saved web pages (.html, .htm, .xhtml) and single-file archives (.mhtml, .mht).

trafilatura finds the article's main text (navigation, teasers, related-article lists, comments and
footers dropped) and the page's metadata: title, publication date (htmldate: meta tags, JSON-LD,
then the page's text, never after the file's arrival), site name, canonical URL, author, language.
Inline teasers of other stories that sit between the article's paragraphs ("Read also: ...") are
then removed by the prefixes in knowledge/boilerplate.yaml.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from services.ingest.decode import NotText, decode
from services.ingest.draft import MIN_BODY_CHARS, Draft

BOILERPLATE_FILE = Path(__file__).resolve().parents[1] / "knowledge" / "boilerplate.yaml"
# A page declares its charset in its first bytes (HTML's rule: within the first 1,024; 4 KB
# covers pages with long inline scripts before the tag).
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_DECLARED_SCAN_BYTES = 4096
_LANG = re.compile(r"""<html[^>]*?\slang\s*=\s*["']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)""", re.I)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_TITLE_SEPARATOR = re.compile(r"\s+[|–—:-]{1,2}\s+")
MAX_SITE_WORDS = 5
PAGE_LANGUAGES = ("en", "fr", "ar")  # the languages of the track's sources
_META_KEEP = ("description", "categories", "tags", "image", "pagetype")


def read_html(data: bytes, now: datetime, fmt: str = "html", url: str | None = None) -> list[Draft]:
    declared = _CHARSET.search(data[:_DECLARED_SCAN_BYTES])
    text, encoding = decode(data, declared.group(1).decode("ascii") if declared else None)
    return [_extract(text, encoding, now, fmt, url)]


def read_mhtml(data: bytes, now: datetime) -> list[Draft]:
    """A browser's "save as single file": a MIME message whose text/html part is the page."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            url = part.get("Content-Location") or message.get("Snapshot-Content-Location")
            charset = part.get_content_charset()
            text, encoding = decode(payload, charset)
            return [_extract(text, encoding, now, "mhtml", str(url) if url else None)]
    raise NotText("no text/html part in the MHTML archive")


@cache
def _our_languages_for_page_dates() -> None:
    """htmldate reads a date written in a page's text with dateparser over every locale it knows:
    127 ms of CPU a page on tests/data/formats/pages, most of it compiling locale patterns again
    and again. Our sources write English, French and Arabic: with those three, 17 ms, and the same
    date on all 40 pages. Its settings are htmldate 1.9-1.11's own (extractors.py)."""
    import htmldate.extractors
    from dateparser import DateDataParser

    if not callable(getattr(htmldate.extractors, "get_external_parser", None)):
        return  # another htmldate: its own parser, slower but right
    parser = DateDataParser(
        languages=list(PAGE_LANGUAGES),
        settings={
            "NORMALIZE": True,
            "PARSERS": ["custom-formats", "absolute-time"],
            "PREFER_DATES_FROM": "past",
            "PREFER_LOCALE_DATE_ORDER": True,
            "RETURN_AS_TIMEZONE_AWARE": False,
            "STRICT_PARSING": True,
        },
    )
    htmldate.extractors.get_external_parser = lru_cache(maxsize=None)(lambda: parser)


def _extract(page: str, encoding: str, now: datetime, fmt: str, url: str | None) -> Draft:
    import trafilatura  # 0.6 s to import: only when a page arrives

    _our_languages_for_page_dates()

    found = trafilatura.bare_extraction(
        page,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params={
            "extensive_search": True,
            "original_date": True,
            "max_date": now.strftime("%Y-%m-%d"),
        },
    )
    doc: dict[str, Any] = {}
    if found is not None:
        doc = found if isinstance(found, dict) else found.as_dict()
    body = drop_teasers(doc.get("text") or "")
    if len(body.strip()) < MIN_BODY_CHARS:
        raise NotText(
            "no article text found in the page (trafilatura found no main text"
            f"{': only ' + repr(body.strip()) if body.strip() else ''})"
        )
    draft = Draft(fmt, body, encoding=encoding)
    for name, key in (("title", "title"), ("published", "date")):
        draft.give(name, doc.get(key), "html-meta")
    if _declared_site(page, doc.get("sitename")):
        draft.give("outlet", doc.get("sitename"), "html-meta")
    draft.give("outlet", _title_site(page, doc.get("title")), "html-meta")
    draft.give("url", doc.get("url") or url, "html-meta")
    draft.give("author", doc.get("author"), "html-meta")
    lang = _LANG.search(page[:_DECLARED_SCAN_BYTES])
    draft.give("language", doc.get("language") or (lang.group(1) if lang else None), "html-meta")
    for key in _META_KEEP:
        if doc.get(key):
            draft.meta[key] = doc[key]
    return draft


def _declared_site(page: str, sitename: str | None) -> bool:
    """Does the page declare `sitename` (og:site_name, a JSON-LD publisher, a quoted attribute)?
    trafilatura names a page without one after its host ("alwasat.ly"): that is the URL's
    outlet (draft.py maps known domains), not the page's own metadata."""
    return bool(sitename) and (f'"{sitename}"' in page or f"'{sitename}'" in page)


def _title_site(page: str, title: str | None) -> str | None:
    """The site named after the headline in the page's <title>: "Headline | Site name"."""
    match = _TITLE.search(page)
    if match is None or not title:
        return None
    parts = _TITLE_SEPARATOR.split(" ".join(html.unescape(match.group(1)).split()))
    site = parts[-1].strip() if len(parts) > 1 else ""
    headline = " ".join(parts[:-1])
    fits = _fold(title) in _fold(headline) or _fold(headline) in _fold(title)
    return site if site and fits and len(site.split()) <= MAX_SITE_WORDS else None


def _fold(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


@cache
def _teasers() -> tuple[re.Pattern[str], int]:
    data = yaml.safe_load(BOILERPLATE_FILE.read_text("utf-8"))
    prefixes = sorted({p for forms in data["teaser_prefixes"].values() for p in forms}, key=len)
    pattern = "|".join(re.escape(p) for p in reversed(prefixes))
    return re.compile(rf"^\W*(?:{pattern})(?:\W|$)", re.I), int(data["teaser_max_words"])


def drop_teasers(text: str) -> str:
    """The text without short lines that open with a teaser prefix ("Read also: ...")."""
    pattern, max_words = _teasers()
    return "\n".join(
        line
        for line in text.splitlines()
        if not (pattern.match(line.strip()) and len(line.split()) <= max_words)
    )
