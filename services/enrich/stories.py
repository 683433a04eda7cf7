"""The story rule (pure): whether two member records report the same real-world event, and which
entities select an article's story candidates. Thresholds and their reasons: ADR 0003."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from services.enrich.lsh import jaccard
from services.enrich.members import MemberRecord

STORY_JACCARD = 0.25
# Real reports name few people, and the other language's names only through the pack: the same
# kind of event (topic sets overlapping by half) with enough shared entities (background ones
# left out) is a same-event signal too: two at the same event place, two of which one is an actor
# of either article (a person in its first paragraphs), three anywhere.
STORY_TOPIC_JACCARD = 0.5
STORY_SHARED_AT_PLACE = 2
STORY_SHARED_ENTITIES = 3
STORY_AFFINITY = 0.45  # weighted Jaccard of entity profiles (knowledge/linking.yaml)
STORY_AFFINITY_AT_PLACE = 0.35  # ...when both name the same event place (not a background one)
# Figures are language-free: two reports of the same kind of event that state the same two
# figures (a toll of 32 dead and 159 injured, in English and in French) report one event.
STORY_SHARED_FIGURES = 2
STORY_WINDOW_DAYS = 10
DATE_TOLERANCE_DAYS = 2
PROFILE_KEYS = 6  # an article's heaviest entities are its candidate keys


def affinity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Weighted Jaccard of two entity profiles."""
    keys = a.keys() | b.keys()
    top = sum(max(a.get(k, 0.0), b.get(k, 0.0)) for k in keys)
    return sum(min(a.get(k, 0.0), b.get(k, 0.0)) for k in keys) / top if top else 0.0


def event_affinity(
    a: MemberRecord, b: MemberRecord, background: frozenset[str], wording: float | None = None
) -> float | None:
    """The profile affinity of two articles that report the same real-world event, None if they
    do not. Same event: no conflicting time, place or date, and two shared actors (`background`
    entities left out), or a shared lead actor at the same place, or close entity profiles, or
    much shared wording (`wording`: their signatures' Jaccard, when already known), or the same
    event place (not a background one) and fairly close profiles, or the same event date and two
    shared entities, or the same kind of event on the same date with a shared entity, or the same
    kind of event stating the same figures, or the same kind of event with enough shared entities
    (two, if one of them is an actor)."""
    if not within_window(a.day, b.day):
        return None
    pa, pb = set(a.places), set(b.places)
    if a.dates and b.dates and not _dates_close(a.dates, b.dates):
        return None
    same_date = bool(a.dates and b.dates)  # both dated, and (above) on close dates
    # Background places (Tripoli) are named as the seat of government as often as the place of an
    # event: when the two name the same event date, they alone do not place the reports apart.
    fa, fb = (pa - background, pb - background) if same_date else (pa, pb)
    if fa and fb and not fa & fb:
        return None
    aff = affinity(a.profile, b.profile)
    shared = len((set(a.actors) & set(b.actors)) - background)
    lead = set(a.lead_actors) & set(b.lead_actors)
    if shared >= 2 or (lead and pa & pb) or aff >= STORY_AFFINITY:
        return aff
    if (pa & pb) - background and aff >= STORY_AFFINITY_AT_PLACE:
        return aff  # the same event place (not a background one) and close profiles
    if (jaccard(a.sig, b.sig) if wording is None else wording) >= STORY_JACCARD:
        return aff
    common = (a.profile.keys() & b.profile.keys()) - background
    if same_date and len(common) >= 2:
        return aff  # the same event date (no conflict above) and shared names
    if a.years and b.years and a.years != b.years:
        return None  # the same kind of event, written about in another year (a yearly vote)
    ta, tb = set(a.topics), set(b.topics)
    if not ta or len(ta & tb) < STORY_TOPIC_JACCARD * len(ta | tb):
        return None
    if same_date and common:
        return aff  # the same kind of event on the same date, and a shared name
    if len(set(a.figures) & set(b.figures)) >= STORY_SHARED_FIGURES:
        return aff  # the same kind of event, the same figures stated
    at_place = bool(pa & pb) and len(common - pa) >= STORY_SHARED_AT_PLACE
    with_actor = len(common) >= STORY_SHARED_AT_PLACE and bool(common & {*a.actors, *b.actors})
    return aff if at_place or with_actor or len(common) >= STORY_SHARED_ENTITIES else None


def conflicting(a: MemberRecord, b: MemberRecord, background: frozenset[str]) -> bool:
    """Two articles that cannot report the same event: published too far apart, at different
    event places (background places such as Tripoli left out: they are named as the seat of
    government as often as the place of an event), or on different days."""
    if not within_window(a.day, b.day):
        return True
    pa, pb = set(a.places) - background, set(b.places) - background
    if pa and pb and not pa & pb:
        return True
    return bool(a.dates and b.dates and not _dates_close(a.dates, b.dates))


def within_window(x: float | None, y: float | None) -> bool:
    """Published within the story window of each other (true when either date is unknown)."""
    return x is None or y is None or abs(x - y) <= STORY_WINDOW_DAYS


def _dates_close(xs: tuple[str, ...], ys: tuple[str, ...]) -> bool:
    return any(days_apart(x, y) <= DATE_TOLERANCE_DAYS for x in xs for y in ys)


def days_apart(x: str, y: str) -> int:
    """Days between two ISO dates; by month and day alone (across New Year) when either lacks its
    year ("--MM-DD")."""
    if not x.startswith("--") and not y.startswith("--"):
        return abs((date.fromisoformat(x) - date.fromisoformat(y)).days)
    dx, dy = (date.fromisoformat("2000" + v[-6:]).timetuple().tm_yday for v in (x, y))
    return min(abs(dx - dy), 366 - abs(dx - dy))


def story_keys(rec: MemberRecord, background: frozenset[str]) -> list[str]:
    """Story candidate keys: the article's heaviest entities, `background` ones left out (they are
    in most articles, so they select nothing and their lists would be the longest)."""
    ents = rec.profile
    ranked = sorted((k for k in ents if k not in background), key=lambda k: (-ents[k], k))
    return ranked[:PROFILE_KEYS]
