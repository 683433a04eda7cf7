"""Watches on what was just indexed: the pure decisions (no I/O).

A watch matches documents through its compiled Elasticsearch query; a story matches a watch when
one of its members does. `fire` decides, for one watch and one story, which alerts the story's
new members raise:
- new-story: a matching article arrives for a story the watch has not spoken of;
- growth: the story holds `articles` articles, or `outlets` outlets, within `window_hours` of its
  newest member's date (publication date where known, else first seen);
- new-language: the first article of the story in a language other than the story's first.

Every alert's id is `alert_id(watch, story, trigger[, language])`: the store refuses a second one,
so ten syndicated copies, a correction that re-sends a document and a replay all stay silent.
Members first seen before the watch existed (`since`) raise nothing: a replay or an archive
backfill brings back old articles, which are not news to the watch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from newspipe.contract import Alert, Trigger, Watch, alert_id

# What the evaluation reads of each document (the ES _source filter).
MEMBER_FIELDS = [
    "id",
    "title",
    "language",
    "story.id",
    "source.outlet",
    "sources.outlet",
    "published_at",
    "ingested_at",
]
MATCH_FIELDS = [*MEMBER_FIELDS, "entities.id", "entities.mentions", "topics.id", "topics.evidence"]


@dataclass(frozen=True)
class Member:
    id: str
    story: str
    language: str
    outlets: tuple[str, ...]
    first_seen: datetime  # ingested_at: the link stage's first-seen time, kept across replays
    when: datetime  # the publication date where known, else first seen
    title: str | None


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def member(doc: Mapping[str, Any]) -> Member:
    """A member from an indexed document's _source (MEMBER_FIELDS)."""
    first_seen = _time(doc["ingested_at"])
    outlets = {(doc.get("source") or {}).get("outlet")}
    outlets |= {s.get("outlet") for s in doc.get("sources") or []}
    return Member(
        id=doc["id"],
        story=doc["story"]["id"],
        language=doc.get("language") or "?",
        outlets=tuple(sorted(o for o in outlets if o)),
        first_seen=first_seen,
        when=_time(doc["published_at"]) if doc.get("published_at") else first_seen,
        title=doc.get("title"),
    )


def reasons(watch: Watch, doc: Mapping[str, Any]) -> list[str]:
    """Why `doc` matches `watch`, in the analyst's terms: the entities under the names the article
    used, the topics with their evidence, the query, the other filters."""
    out: list[str] = []
    wanted = set(watch.entities)
    for entity in doc.get("entities") or []:
        if entity.get("id") in wanted:
            name = watch.entity_names.get(entity["id"], entity["id"])
            forms = ", ".join(f'"{m}"' for m in (entity.get("mentions") or [])[:3])
            out.append(f"entity {name}" + (f" (as {forms})" if forms else ""))
    topics = set(watch.topics)
    for topic in doc.get("topics") or []:
        if topic.get("id") in topics:
            evidence = ", ".join(f'"{e}"' for e in (topic.get("evidence") or [])[:3])
            out.append(f"topic {topic['id']}" + (f" ({evidence})" if evidence else ""))
    if watch.text:
        out.append(f'query "{watch.text}"')
    if watch.outlets:
        out.append(f"outlet {', '.join(watch.outlets)}")
    if watch.languages:
        out.append(f"language {doc.get('language')}")
    if watch.on_track:
        out.append("on Libya's security track")
    return out


def fire(
    watch: Watch,
    members: Sequence[Member],
    new: Iterable[str],
    matched: Mapping[str, list[str]],
    since: datetime | None,
) -> list[Alert]:
    """The alerts one story raises for `watch` now that `new` (ids) arrived.

    `members`: the story's members as indexed, the new ones included; `matched`: the members that
    match the watch, with their reasons; `since`: members first seen before it raise nothing
    (the watch's creation; None when back-testing)."""
    ordered = sorted(members, key=lambda m: (m.first_seen, m.id))
    new_ids = set(new)
    fresh = [m for m in ordered if m.id in new_ids and (since is None or m.first_seen >= since)]
    if not fresh or not any(m.id in matched for m in ordered):
        return []
    story = ordered[0].story
    kind = watch.trigger.kind
    if kind == "new-story":
        hits = [m for m in fresh if m.id in matched]
        fired: list[Fired] = [(hits, [], None, {})] if hits else []
        why = _union(matched[m.id] for m in hits)
    else:
        decide = _growth if kind == "growth" else _new_language
        fired = decide(watch.trigger, ordered, fresh)
        why = _union(matched[m.id] for m in ordered if m.id in matched)  # the story's
    return [
        _alert(watch, story, hits, lines + why, ordered, language, figures)
        for hits, lines, language, figures in fired
    ]


# What a trigger decided: the articles that fired it, its own lines of why, the language (for
# new-language), its figures (for growth).
Fired = tuple[list[Member], list[str], str | None, dict[str, float]]


def _growth(trigger: Trigger, ordered: list[Member], fresh: list[Member]) -> list[Fired]:
    end = max(m.when for m in fresh)
    start = end - timedelta(hours=trigger.window_hours)
    inside = [m for m in ordered if start <= m.when <= end]
    outlets = {o for m in inside for o in m.outlets}
    by_articles = trigger.articles is not None and len(inside) >= trigger.articles
    by_outlets = trigger.outlets is not None and len(outlets) >= trigger.outlets
    if not (by_articles or by_outlets):
        return []
    hours = f"{trigger.window_hours:g} h"
    lines = []
    if by_articles:
        lines.append(f"{len(inside)} articles within {hours} (threshold {trigger.articles})")
    if by_outlets:
        lines.append(
            f"{len(outlets)} outlets within {hours} (threshold {trigger.outlets}): "
            + ", ".join(sorted(outlets))
        )
    figures = {
        "articles": float(len(inside)),
        "outlets": float(len(outlets)),
        "window_hours": trigger.window_hours,
    }
    return [(fresh, lines, None, figures)]


def _new_language(trigger: Trigger, ordered: list[Member], fresh: list[Member]) -> list[Fired]:
    first_of: dict[str, Member] = {}
    for m in ordered:
        first_of.setdefault(m.language, m)
    began = ordered[0].language
    return [
        ([m], [f"first {m.language} report of a story that began in {began}"], m.language, {})
        for m in fresh
        if m.language != began and first_of[m.language].id == m.id
    ]


def _alert(
    watch: Watch,
    story: str,
    hits: list[Member],
    why: list[str],
    members: list[Member],
    language: str | None,
    figures: dict[str, float],
) -> Alert:
    kind = watch.trigger.kind
    return Alert(
        id=alert_id(watch.name, story, kind, language),
        watch=watch.name,
        trigger=kind,
        story=story,
        articles=[m.id for m in hits],
        titles=[m.title or "" for m in hits],
        language=language,
        why=why,
        figures=figures,
        story_size=len(members),
    )


def _union(groups: Iterable[list[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return list(seen)


def with_ids(query: dict[str, Any], field: str, values: Iterable[str]) -> dict[str, Any]:
    """`query` restricted to documents whose `field` is one of `values` (an ids filter over a
    batch, or its stories): no percolator needed."""
    return {"bool": {"must": [query], "filter": [{"terms": {field: sorted(set(values))}}]}}
