"""What event an article reports, as evidence for story linking: its principal people, where the
event took place (a city named in the title or lead, preferring one after a locative preposition),
and when (explicit dates in the lead; weekdays resolved against the publication date)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from newspipe.contract import Entity
from newspipe.text import fold, paragraph_end
from services.enrich.entities import Mention

PLACE_KINDS = frozenset({"city", "town", "capital", "oasis", "base", "landmark", "crossing"})
LOCATIVE = re.compile(
    r"(?:\bin|\bat|\bto|\bhosted by|\bà|\ben|\bau|\bdans|\bفي|\bب)\s*"
    r"(?:(?:the|la|le|l')\s*)?"  # "in the desert town of", "dans la ville de", "في مدينة"
    r"(?:(?:\S+\s+){0,3}?(?:town|city|capital|oasis|ville|cite|localite|مدينة|بلدة)\s+"
    r"(?:of\s+|de\s+|d')?)?$"
)
# Month names as they are folded (newspipe.text.fold), with abbreviations; Arabic in both the
# Egyptian/Maghrebi and the Levantine series ("أكتوبر/تشرين الأول").
_MONTH_NAMES = (
    ("january jan", "janvier janv", "يناير", "كانون الثاني", "جانفي"),
    ("february feb", "fevrier fevr fev", "فبراير", "شباط", "فيفري"),
    ("march mar", "mars", "مارس", "اذار"),
    ("april apr", "avril avr", "ابريل", "نيسان", "افريل"),
    ("may", "mai", "مايو", "ايار", "ماي"),
    ("june jun", "juin", "يونيو", "حزيران", "جوان"),
    ("july jul", "juillet juil", "يوليو", "تموز", "جويلية"),
    ("august aug", "aout", "اغسطس", "اب", "اوت"),
    ("september sept sep", "septembre", "سبتمبر", "ايلول"),
    ("october oct", "octobre", "اكتوبر", "تشرين الاول"),
    ("november nov", "novembre", "نوفمبر", "تشرين الثاني"),
    ("december dec", "decembre", "ديسمبر", "كانون الاول"),
)
MONTHS = {
    fold(name): i + 1
    for i, variants in enumerate(_MONTH_NAMES)
    for group in variants
    for name in (group.split() if group.isascii() else [group])
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_YEAR = r"(?:,?\s+((?:19|20)\d\d)\b)?"  # optional: datelines and most leads leave it out
_DATE_MDY = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?!\d)(?:st|nd|rd|th)?{_YEAR}")
_DATE_DMY = re.compile(rf"\b(\d{{1,2}})(?:er)?\s+({_MONTH})\b\.?(?:\s*/\s*(?:{_MONTH})\b)?{_YEAR}")
_YEAR_ALONE = re.compile(r"(?<!\d)(20[0-4]\d)(?!\d)")


def latest_year(text: str) -> list[str]:
    """The latest year the text names ([] when none): when the article was written, roughly (it
    names past years, rarely later ones)."""
    years = _YEAR_ALONE.findall(text)
    return [max(years)] if years else []


# A figure as written: 1,200 / 1.200 / 1 200 / ١٢٠٠ (\d and int() take Arabic-Indic digits).
_FIGURE = re.compile(r"\d+(?:[,.\u066c\u00a0 ]\d{3}(?!\d))*")
_NOT_DIGIT = re.compile(r"\D")
FIGURE_MIN = 11  # smaller numbers (days, "two brigades", 5+5) are in every kind of report


def stated_figures(text: str) -> list[str]:
    """The numbers the text states that can tell one event from another: tolls, counts, sums (27
    dead and 106 injured; 300 mercenaries), the same in every language. Years (1900-2100) and
    numbers under FIGURE_MIN are left out; sorted, each once, as decimal strings."""
    found = set()
    for m in _FIGURE.findall(text):
        value = int(m if m.isdigit() else _NOT_DIGIT.sub("", m))
        if value >= FIGURE_MIN and not 1900 <= value <= 2100:
            found.add(value)
    return [str(v) for v in sorted(found)]


WEEKDAYS = (
    {
        w: i
        for i, w in enumerate(
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        )
    }
    | {
        w: i
        for i, w in enumerate(
            ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
        )
    }
    | {
        fold(w): i  # folded as the text is (alef and ta-marbuta variants unified)
        for i, w in enumerate(
            ["الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"]
        )
    }
)
_WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b")


def event_features(
    text: str,
    lead_end: int,
    mentions: list[Mention],
    entities: list[Entity],
    kinds: dict[str, str],
    published: datetime | None,
    within: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    # Who: the first two paragraphs (seed 000 names the two generals in its second paragraph).
    actors_end = paragraph_end(text, lead_end, 1200)
    return {
        "actors": principal_people(mentions, entities, actors_end),
        "lead_actors": principal_people(mentions, entities, lead_end, repeated=False),
        "places": event_places(text, lead_end, mentions, kinds, within),
        "dates": event_dates(text[:lead_end], published),
        "years": latest_year(text),  # "years": a list, like the other evidence
        "figures": stated_figures(text),
    }


def principal_people(
    mentions: list[Mention], entities: list[Entity], end: int, repeated: bool = True
) -> list[str]:
    """People named before `end` (or, with `repeated`, at least twice): the event's actors."""
    near_top = {m.entity_id for m in mentions if m.start < end}
    return sorted(
        e.id
        for e in entities
        if e.type == "PERSON"
        and not e.id.startswith("ambiguous:")
        and (e.id in near_top or (repeated and e.count >= 2))
    )


def event_places(
    text: str,
    lead_end: int,
    mentions: list[Mention],
    kinds: dict[str, str],
    within: dict[str, str] | None = None,
) -> list[str]:
    """Cities in the title/lead; those after a locative preposition first, at most two. A facility
    or district counts as the city it is `within` (knowledge pack attribute `in`)."""
    within = within or {}
    scored: dict[str, int] = {}
    for m in mentions:
        if m.start >= lead_end or kinds.get(m.entity_id) not in PLACE_KINDS:
            continue
        before = fold(text[max(0, m.start - 30) : m.start])
        score = 2 if LOCATIVE.search(before) else 1
        place = within.get(m.entity_id, m.entity_id)
        scored[place] = max(scored.get(place, 0), score)
    best = sorted(scored.items(), key=lambda kv: -kv[1])
    return [p for p, s in best if s == best[0][1]][:2] if best else []


def event_dates(lead: str, published: datetime | None) -> list[str]:
    """ISO dates in the lead; a date without its year is given the year that puts it nearest the
    publication (_mk: a meeting announced for next week, a clash last December), else kept as
    "--MM-DD" (ISO 8601)."""
    folded = fold(lead)
    found: set[str] = set()
    for m in _DATE_MDY.finditer(folded):
        found.update(_mk(m.group(3), MONTHS[m.group(1)], int(m.group(2)), published))
    for m in _DATE_DMY.finditer(folded):
        found.update(_mk(m.group(3), MONTHS[m.group(2)], int(m.group(1)), published))
    if published and not found:
        for m in _WEEKDAY.finditer(folded):
            back = (published.weekday() - WEEKDAYS[m.group(1)]) % 7
            found.add((published - timedelta(days=back)).date().isoformat())
    return sorted(found)


def _mk(year: str | None, mo: int, d: int, published: datetime | None) -> list[str]:
    if _valid(2000, mo, d) is None:  # 2000 is a leap year: every valid month-day exists in it
        return []
    if year is not None:
        full = _valid(int(year), mo, d)
    elif published is None:
        return [f"--{mo:02d}-{d:02d}"]
    else:  # the occurrence nearest the publication, a day ahead counting as two behind (reports
        # are mostly of the past; a date ahead is an announcement, and a near one): last
        # December's clash, next week's meeting
        day = published.date()
        near = [c for y in (day.year - 1, day.year, day.year + 1) if (c := _valid(y, mo, d))]
        full = min(
            near, key=lambda c: (day - c).days if c <= day else 2 * (c - day).days, default=None
        )  # none: 29 February far from a leap year
    return [full.isoformat()] if full else []


def _valid(y: int, mo: int, d: int) -> date | None:
    try:
        return date(y, mo, d)
    except ValueError:
        return None
