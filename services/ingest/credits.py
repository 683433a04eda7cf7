"""What a text says about its own origin (pure): the dateline that opens a wire story ("TRIPOLI,
Oct 23 (Reuters) -", "طرابلس - 23 أكتوبر (رويترز) -"), a closing credit ("(Reporting by ...)",
"— AFP", "Source: Libya Observer"), and the outlet a URL's domain names.

Outlets, their credit forms and domains are data: knowledge/outlets.yaml. Dates are read by
dateparser (English, French, Arabic month names); a dateline without a year takes the latest year
the lead's weekday names ("on Friday") fits, between the latest year the text mentions and the
file's arrival; else the arrival's year if that makes it recent; else no date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import yaml

OUTLETS_FILE = Path(__file__).with_name("knowledge") / "outlets.yaml"
CALENDAR_FILE = Path(__file__).with_name("knowledge") / "calendar.yaml"
# The lead, where a wire story names the day of its event ("... said on Friday").
LEAD_CHARS = 600
# A dateline is short: "BENGHAZI, Libya, Jan. 5 (Xinhua) --" is 35 characters; 100 leaves room for
# a long place and a full date while excluding a sentence that merely contains a dash.
MAX_DATELINE_CHARS = 100
MAX_DATELINE_WORDS = 12
# A date in a dateline is at most "le jeudi 5 mai 2016" / "Jan. 5, 2023": longer is prose.
MAX_DATE_WORDS = 5
# A dateline may follow a standfirst: one short paragraph (a subtitle), or two; a paragraph longer
# than this is the story itself.
DATELINE_PARAGRAPHS = 3
MAX_STANDFIRST_WORDS = 40
# The separator that ends a dateline: a dash (hyphen, en, em, double hyphen) with a space on at
# least one side, or Al Wasat's colon ("بنغازي - بوابة الوسط:").
_SEPARATOR = re.compile(r"\s+(?:--|[-–—])\s*|\s*(?:--|[-–—])\s+|\)\s*(?:--|[-–—])|:\s")
_PAREN = re.compile(r"\(([^()]{1,60})\)")
_ACRONYM = re.compile(r"^[A-Z]{2,6}$")  # (QNA), (MENA), (KUNA): an agency credited by acronym
_ARABIC = re.compile(r"[\u0600-\u06ff]")
# A year-less dateline is dated in the arrival's year only when that puts it at most this long
# before the arrival: wire copy is filed within days of its dateline.
RECENT_DATELINE = timedelta(days=14)
_YEAR = re.compile(r"(?<!\d)(19[89]\d|20\d\d)(?!\d)")
_UPPER_PLACE = re.compile(r"^[A-Z][A-Z .'’-]{2,}(?:,\s*[A-Z][\w.]*)*$")
_CAPITAL_PLACE = re.compile(r"^[A-Z][\w'’.-]*(?:\s[A-Z][\w'’.-]*){0,2}$")
_ARABIC_PLACE = re.compile(r"^[\u0600-\u06ff]+(?:\s[\u0600-\u06ff]+){0,2}$")
# A closing credit line: short, at the end of the text ("4 mars 2020 à 17h46 par AFP": 6 words).
MAX_CREDIT_LINE_CHARS = 160
MAX_CREDIT_WORDS = 8
_BYLINE = re.compile(r"^(?:by|from|par|de|avec|©|\(c\))\s", re.I)
# A credit closing the last paragraph on its own line's end: "... outskirts.    -AFP", "=Lana=".
_TRAILING_CREDIT = re.compile(r"(?:\s{2,}|[.»”\"]\s*)[-–—=]+\s*([^\s=][^=]{0,30}?)\s*=?\s*$")
_SOURCE_LINE = re.compile(r"^(?:source|sources|المصدر|source\s?)\s*:\s*(.{2,60}?)\.?$", re.I)
# Reuters signs its stories with their reporters and editors: "(Reporting by ...; Editing by ...)".
_REUTERS_SIGNATURE = re.compile(r"^\(?(?:Reporting|Additional reporting|Writing) by\b.*", re.S)


@dataclass(frozen=True)
class Dateline:
    place: str | None
    published: datetime | None
    outlet: str | None


class Outlets:
    """Outlet names by credit form and by web domain (knowledge/outlets.yaml)."""

    def __init__(self, entries: list[dict[str, object]]) -> None:
        self.by_credit: dict[str, str] = {}
        self.by_domain: dict[str, str] = {}
        for entry in entries:
            name = str(entry["name"])
            for form in [name, *map(str, entry.get("credits", []))]:  # type: ignore[call-overload]
                self.by_credit[_fold(form)] = name
            for domain in map(str, entry.get("domains", [])):  # type: ignore[call-overload]
                self.by_domain[domain.lower()] = name
        forms = sorted(self.by_credit, key=len, reverse=True)
        self.short = _words([f for f in forms if len(f) <= 3])  # matched as written
        self.long = _words([f for f in forms if len(f) > 3])  # matched case-folded

    def credited(self, text: str) -> str | None:
        """The outlet `text` names (a credit form, case and dots folded), or None."""
        return self.by_credit.get(_fold(text.strip()))

    def named_in(self, text: str) -> str | None:
        """The first outlet whose credit form occurs in `text` as whole words."""
        joined = _joined(text)
        match = self.long.search(joined.casefold()) or self.short.search(joined)
        return self.by_credit[match.group(0)] if match else None

    def from_url(self, url: str) -> str | None:
        """The outlet a URL's domain belongs to: a known outlet's name, else the domain itself
        without "www." (the most specific name the URL gives)."""
        try:
            host = (urlsplit(url.strip()).hostname or "").lower()
        except ValueError:
            return None
        host = re.sub(r"^(?:www\d?|m|amp|mobile)\.", "", host)
        if "." not in host:
            return None
        parts = host.split(".")
        for i in range(len(parts) - 1):
            if (name := self.by_domain.get(".".join(parts[i:]))) is not None:
                return name
        return host


def _words(forms: list[str]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, forms)) + r")(?!\w)")


@cache
def outlets(path: Path = OUTLETS_FILE) -> Outlets:
    return Outlets(yaml.safe_load(path.read_text("utf-8"))["outlets"])


def _fold(text: str) -> str:
    """Case folded for forms of 4+ letters; short upper-case credits (AP, AA) stay as written so
    that "ap" or "aa" in prose is not a credit. Dots and extra spaces go: "A.F.P." = "AFP"."""
    text = _joined(text)
    return text if len(text) <= 3 else text.casefold()


def _joined(text: str) -> str:
    """Dots and runs of spaces as one space; single letters in a row as one token ("أ ف ب",
    "A.F.P.")."""
    text = re.sub(r"\s+", " ", text.replace(".", " ").strip())
    return re.sub(r"(?<=\b\w) (?=\w\b)", "", text)


def find_dateline(body: str, now: datetime, known: Outlets | None = None) -> Dateline | None:
    """The dateline opening `body` (or one of its first paragraphs, after a standfirst), if it
    has one: place, date, credited outlet (each may be None, but not both date and outlet)."""
    known = known or outlets()
    paragraphs = [p for p in re.split(r"\n\s*\n", body.strip(), maxsplit=3) if p.strip()]
    for i, paragraph in enumerate(paragraphs[:DATELINE_PARAGRAPHS]):
        found = _dateline(paragraph.strip(), body, now, known, alone=i + 1 < len(paragraphs))
        if found is not None:
            return found
        if i + 1 < len(paragraphs) and len(paragraph.split()) > MAX_STANDFIRST_WORDS:
            return None  # a full paragraph of prose: the story has begun without a dateline
    return None


def _dateline(text: str, body: str, now: datetime, known: Outlets, alone: bool) -> Dateline | None:
    """`alone`: `text` is a paragraph with more after it (a dateline may be a line of its own:
    "London, 4 November 2020:")."""
    head = text[: MAX_DATELINE_CHARS + 60]
    zone: str | None
    if alone and len(text) <= MAX_DATELINE_CHARS and "\n" not in text:
        zone, rest = text.rstrip(":-–— "), ""
    else:
        zone, rest = _find_zone(head, known)
    if zone is None or len(zone.split()) > MAX_DATELINE_WORDS:
        return None
    outlet = _zone_outlet(zone, known) or _after_separator(rest, known)
    pieces = _pieces(zone)
    place = pieces[0] if pieces and _is_place(pieces[0]) else None
    date, date_place = _zone_date(pieces, body, now)
    place = place or date_place
    if (outlet is None and date is None) or (place is None and outlet is None):
        return None
    return Dateline(place, date, outlet)


def _find_zone(head: str, known: Outlets) -> tuple[str | None, str]:
    """(the dateline zone, the text after it): up to a dash or colon separator (past a lone place
    before it: "طرابلس - 23 أكتوبر (رويترز) -"), or up to a credited agency's parenthesis
    ("Tripoli, 09.08.2016(Lana) The army ..."), or a short first line on its own."""
    seps = [m for m in _SEPARATOR.finditer(head) if m.start() <= MAX_DATELINE_CHARS][:2]
    credit = next(
        (m for m in _PAREN.finditer(head) if m.end() <= MAX_DATELINE_CHARS and _credit(m, known)),
        None,
    )
    if credit is not None:  # separators inside the credit's parenthesis do not count
        seps = [m for m in seps if not credit.start() < m.start() < credit.end() - 1]
    if credit is not None and (not seps or credit.end() <= seps[0].start() + 1):
        return head[: credit.end()], head[credit.end() :]
    line, newline, after = head.partition("\n")
    if seps:
        sep = seps[0]
        zone = _zone(head, sep)
        if _is_place(zone) and len(seps) > 1:
            zone, sep = _zone(head, seps[1]), seps[1]
        elif _is_place(zone) and newline and len(line) <= MAX_DATELINE_CHARS:
            return line, after  # "القاهرة - بوابة الوسط الخميس 05 مايو 2016" on its own line
        return zone, head[sep.end() :]
    if newline and len(line) <= MAX_DATELINE_CHARS:
        return line, after
    return None, head


def _credit(match: re.Match[str], known: Outlets) -> bool:
    inner = match.group(1).strip()
    return bool(known.credited(inner) or known.named_in(inner) or _ACRONYM.match(inner))


def _pieces(zone: str) -> list[str]:
    """The zone's comma-separated parts, parenthesised credits' contents among them (a date in
    "(UrduPoint News / Sputnik - 13th July, 2020)")."""
    zone = re.sub(r"\s+(?:--|[-–—/])\s+", ", ", zone)
    inner = ", ".join(m.group(1) for m in _PAREN.finditer(zone))
    plain = _PAREN.sub(",", zone) + (", " + re.sub(r"\s[-–—/]\s", ", ", inner) if inner else "")
    pieces: list[str] = []
    for piece in (p.strip() for p in re.split(r"[,،]", plain)):
        if pieces and _YEAR.fullmatch(piece):
            pieces[-1] += f" {piece}"  # "Jan. 5, 2023": the year belongs to the date before it
        elif piece:
            pieces.append(piece)
    return pieces


def _zone_date(pieces: list[str], body: str, now: datetime) -> tuple[datetime | None, str | None]:
    """The first date among the pieces, and a place written before it in the same piece."""
    for piece in (p for p in pieces if re.search(r"\d", p)):
        words = piece.split()
        for cut in range(min(3, len(words))):  # "طرابلس 23 أكتوبر": the place, then the date
            if (date := _date(" ".join(words[cut:]), body, now)) is not None:
                before = " ".join(words[:cut])
                return date, before if cut and _is_place(before) else None
    return None, None


def _zone(head: str, sep: re.Match[str]) -> str:
    return head[: sep.start() + (1 if head[sep.start()] == ")" else 0)]


def _zone_outlet(zone: str, known: Outlets) -> str | None:
    """A parenthesised credit ("(Reuters)", "(QNA)", "(UrduPoint News / Sputnik - ...)", a
    name such as "(Infosplusgabon)"), else an outlet named after the place ("القاهرة - بوابة
    الوسط الخميس ...")."""
    pieces = _pieces(zone)
    place_first = bool(pieces) and _is_place(pieces[0])
    for inner in (str(m).strip() for m in _PAREN.findall(zone)):
        if (name := known.credited(inner) or known.named_in(inner)) is not None:
            return name
        if _ACRONYM.match(inner) or (place_first and _looks_like_name(inner)):
            return inner
    return known.named_in(zone) if place_first else None


def _after_separator(rest: str, known: Outlets) -> str | None:
    """Al Wasat's form: "بنغازي - بوابة الوسط: ...": the outlet between the dash and a colon."""
    colon = rest.find(":", 0, 40)
    return known.credited(rest[:colon]) if colon > 0 else None


def _is_place(piece: str) -> bool:
    return bool(
        _UPPER_PLACE.match(piece) or _CAPITAL_PLACE.match(piece) or _ARABIC_PLACE.match(piece)
    )


def _date(piece: str, body: str, now: datetime) -> datetime | None:
    piece = re.sub(r"^(?:le|du|on)\s+", "", piece.strip(), flags=re.I)
    if len(piece.split()) > MAX_DATE_WORDS:
        return None
    base = now.astimezone(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    parsed = _read_date(piece, base)
    if parsed is None:
        return None
    if not _YEAR.search(piece):
        parsed = _with_year(parsed, body, base + timedelta(days=1))
    if parsed is None or parsed > base + timedelta(days=1):
        return None
    return parsed.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _read_date(piece: str, base: datetime) -> datetime | None:
    """dateparser's reading of one dateline piece (cached: a feed repeats its dateline forms)."""
    import dateparser  # 0.3 s to import: only when a text has a dateline to read

    parsed: datetime | None = dateparser.parse(
        piece,
        languages=["ar"] if _ARABIC.search(piece) else ["en", "fr"],
        settings={
            "PREFER_DATES_FROM": "past",
            "RELATIVE_BASE": base,
            "REQUIRE_PARTS": ["day", "month"],
            "RETURN_AS_TIMEZONE_AWARE": False,
            "DATE_ORDER": "DMY",  # 09.08.2016 is 9 August in Libyan, Arab and French sources
        },
    )
    return parsed


def _with_year(date: datetime, body: str, base: datetime) -> datetime | None:
    """A dateline without a year. A story is never older than the latest year it mentions, nor
    later than its arrival. Among those years:
    - the one whose date falls on the weekday the lead names ("on Friday": the dateline's day,
      else the day before);
    - when several do, the latest year the text names if it is one of them, else no date (a
      weekday recurs on a date every five or six years: taking the earliest read a real Reuters
      dateline of 2024, whose text names only 2011, as 2014);
    - with one candidate year, that one;
    - with no evidence, the arrival's year if that makes the date recent (a story arriving as it
      is published); else no date at all: a wrong year would date an archived story years off."""
    mentioned = [int(y) for y in _YEAR.findall(body) if int(y) <= base.year]
    candidates = [
        d
        for year in range(max(mentioned, default=base.year + 1), base.year + 1)
        if (d := _on_year(date, year)) is not None and d <= base
    ]
    days = _weekdays_named(body[:LEAD_CHARS])
    for shift in (0, 1):  # filed the same day, or the day after the event it names
        fits = [d for d in candidates if (d.weekday() - shift) % 7 in days]
        if len(fits) == 1 or (fits and fits[0].year == max(mentioned, default=0)):
            return fits[0]  # the only one, or the year the text names
        if fits:
            return None  # a weekday recurs on a date every few years: which year is a guess
    if len(candidates) == 1 and not days:
        return candidates[0]
    recent = _on_year(date, base.year)
    if recent is not None and recent > base:
        recent = _on_year(date, base.year - 1)
    return recent if recent is not None and base - recent <= RECENT_DATELINE else None


def _on_year(date: datetime, year: int) -> datetime | None:
    try:
        return date.replace(year=year)
    except ValueError:  # 29 February
        return None


@cache
def _weekday_pattern() -> tuple[re.Pattern[str], dict[str, int]]:
    data = yaml.safe_load(CALENDAR_FILE.read_text("utf-8"))
    index = {n.casefold(): i for names in data["weekdays"].values() for i, n in enumerate(names)}
    for variants in data.get("variants", {}).values():
        index.update({str(n).casefold(): int(i) for n, i in variants.items()})
    names = sorted(index, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(?:ال)?(?:" + "|".join(map(re.escape, names)) + r")(?!\w)")
    return pattern, index


def _weekdays_named(lead: str) -> set[int]:
    pattern, index = _weekday_pattern()
    found = set()
    for match in pattern.finditer(lead.casefold()):
        word = match.group(0)
        found.add(index.get(word, index.get(word.removeprefix("ال"), -1)))
    return found - {-1}


def _looks_like_name(text: str) -> bool:
    """ "Libya Update", "Al-Marsad": a few capitalised words (connectors aside), no sentence."""
    words = text.split()
    return 0 < len(words) <= 5 and all(
        w[0].isupper() or w.lower() in ("of", "the", "de", "du", "la", "le", "al", "el", "and")
        for w in words
    )


def find_credit(body: str, known: Outlets | None = None) -> str | None:
    """The outlet a credit names: a byline on the first line ("By AFP", "From Al Jazeera.",
    "© 2020 AFP | ..."), or the closing line: "(Reporting by ...)" (Reuters), "— AFP", "Avec
    AFP", "=Lana=", "... par AFP", "Source: Libya Observer" (a known outlet's name, or the name
    as written when it looks like one)."""
    known = known or outlets()
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    if not lines:
        return None
    first = re.split(r"(?<=[.!?])\s|\s\|\s", lines[0], maxsplit=1)[0]  # "From Al Jazeera. Any ..."
    last = lines[-1]
    byline = _BYLINE.match(first) and len(first.split()) <= MAX_CREDIT_WORDS
    if byline and (name := known.named_in(first)) is not None:
        return name
    if _REUTERS_SIGNATURE.match(last):
        return known.credited("Reuters")
    if len(last) <= MAX_CREDIT_LINE_CHARS and (match := _SOURCE_LINE.match(last)):
        name = match.group(1).strip()
        return known.credited(name) or (name if _looks_like_name(name) else None)
    if len(last.split()) <= MAX_CREDIT_WORDS:
        return known.named_in(last)
    if tail := _TRAILING_CREDIT.search(last):
        return known.credited(tail.group(1))
    return None
