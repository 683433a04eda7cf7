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
LOCATIVE = re.compile(r"(?:\bin|\bat|\bto|\bhosted by|\bà|\ben|\bau|\bفي|\bب)\s*(?:the\s+)?$")
MONTHS = {
    **{
        m: i + 1
        for i, m in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ]
        )
    },
    **{
        m: i + 1
        for i, m in enumerate(
            [
                "janvier",
                "fevrier",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "aout",
                "septembre",
                "octobre",
                "novembre",
                "decembre",
            ]
        )
    },
    **{
        m: i + 1
        for i, m in enumerate(
            [
                "يناير",
                "فبراير",
                "مارس",
                "ابريل",
                "مايو",
                "يونيو",
                "يوليو",
                "اغسطس",
                "سبتمبر",
                "اكتوبر",
                "نوفمبر",
                "ديسمبر",
            ]
        )
    },
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE_MDY = re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})")
_DATE_DMY = re.compile(rf"\b(\d{{1,2}})(?:er)?\s+({_MONTH})\s+(\d{{4}})")
WEEKDAYS = {
    w: i
    for i, w in enumerate(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    )
} | {
    w: i
    for i, w in enumerate(["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"])
}
_WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b")


def event_features(
    text: str,
    lead_end: int,
    mentions: list[Mention],
    entities: list[Entity],
    kinds: dict[str, str],
    published: datetime | None,
) -> dict[str, list[str]]:
    # Who: the first two paragraphs (seed 000 names the two generals in its second paragraph).
    actors_end = paragraph_end(text, lead_end, 1200)
    return {
        "actors": principal_people(mentions, entities, actors_end),
        "lead_actors": principal_people(mentions, entities, lead_end, repeated=False),
        "places": event_places(text, lead_end, mentions, kinds),
        "dates": event_dates(text[:lead_end], published),
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
    text: str, lead_end: int, mentions: list[Mention], kinds: dict[str, str]
) -> list[str]:
    """Cities in the title/lead; those after a locative preposition first, at most two."""
    scored: dict[str, int] = {}
    for m in mentions:
        if m.start >= lead_end or kinds.get(m.entity_id) not in PLACE_KINDS:
            continue
        before = fold(text[max(0, m.start - 30) : m.start])
        score = 2 if LOCATIVE.search(before) else 1
        scored[m.entity_id] = max(scored.get(m.entity_id, 0), score)
    best = sorted(scored.items(), key=lambda kv: -kv[1])
    return [p for p, s in best if s == best[0][1]][:2] if best else []


def event_dates(lead: str, published: datetime | None) -> list[str]:
    folded = fold(lead)
    found: list[date] = []
    for m in _DATE_MDY.finditer(folded):
        found += _mk(int(m.group(3)), MONTHS[m.group(1)], int(m.group(2)))
    for m in _DATE_DMY.finditer(folded):
        found += _mk(int(m.group(3)), MONTHS[m.group(2)], int(m.group(1)))
    if published and not found:
        for m in _WEEKDAY.finditer(folded):
            back = (published.weekday() - WEEKDAYS[m.group(1)]) % 7
            found.append((published - timedelta(days=back)).date())
    return sorted({d.isoformat() for d in found})


def _mk(y: int, mo: int, d: int) -> list[date]:
    try:
        return [date(y, mo, d)]
    except ValueError:
        return []
