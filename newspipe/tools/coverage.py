"""Coverage figures for the dashboard, from Elasticsearch aggregations on the same query and
filters as `newspipe search` (newspipe.tools.query).

Weeks count an article at its publication date where known, else at its ingestion date (this
Elasticsearch build runs no scripts, so the two are two filtered histograms, added here); the
chart says so. Distinct stories per week are exact: each week's story ids are collected from both
histograms and united.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from newspipe.config import Settings
from newspipe.tools.query import Filters, filtered, gazetteer, search_query

TOP = 15
WEEK_STORIES = 2000  # story ids collected per week and date kind (exact below that)
_DATED = {"exists": {"field": "published_at"}}


def base_query(text: str | None, filters: Filters | None) -> dict[str, Any]:
    return filtered(search_query(text) if text else {"match_all": {}}, filters)


def _weeks(field: str) -> dict[str, Any]:
    return {
        "date_histogram": {"field": field, "calendar_interval": "week", "min_doc_count": 1},
        "aggs": {
            "topics": {"terms": {"field": "topics.id", "size": 20}},
            "stories": {"terms": {"field": "story.id", "size": WEEK_STORIES}},
        },
    }


def aggregations() -> dict[str, Any]:
    published, ingested = _weeks("published_at"), _weeks("ingested_at")
    return {
        "published": {"filter": _DATED, "aggs": {"weeks": published}},
        "ingested": {"filter": {"bool": {"must_not": _DATED}}, "aggs": {"weeks": ingested}},
        "actors": {
            "nested": {"path": "entities"},
            "aggs": {
                "people": {
                    "filter": {"terms": {"entities.type": ["PERSON", "ORG"]}},
                    "aggs": {"ids": {"terms": {"field": "entities.id", "size": TOP}}},
                }
            },
        },
        "outlets": {"terms": {"field": "sources.outlet", "size": TOP}},
        "languages": {"terms": {"field": "language", "size": 10}},
        "duplicates": {"filter": {"exists": {"field": "dedup.duplicate_of"}}},
        "off_track": {"filter": {"term": {"relevance.on_track": False}}},
        "judged": {"filter": {"exists": {"field": "relevance.on_track"}}},
        "stories": {"cardinality": {"field": "story.id"}},
    }


def coverage(
    settings: Settings, text: str | None = None, filters: Filters | None = None
) -> dict[str, Any]:
    from newspipe.clients import es_client

    resp = es_client(settings.es).search(
        index=settings.es.alias,
        query=base_query(text, filters),
        size=0,
        track_total_hits=True,
        aggs=aggregations(),
    )
    return summarise(dict(resp))


def outlet_names(settings: Settings) -> list[str]:
    """The outlets the sources name, most articles first (the outlet filter's choices)."""
    from newspipe.clients import es_client

    resp = es_client(settings.es).search(
        index=settings.es.alias, size=0, aggs={"outlets": aggregations()["outlets"]}
    )
    return [b["key"] for b in resp["aggregations"]["outlets"]["buckets"]]


def summarise(resp: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's figures from one aggregation response (pure: unit-tested)."""
    aggs = resp["aggregations"]
    total = resp["hits"]["total"]["value"]
    by_week: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    articles: dict[str, int] = defaultdict(int)
    story_ids: dict[str, set[str]] = defaultdict(set)
    for kind in ("published", "ingested"):
        for week in aggs[kind]["weeks"]["buckets"]:
            day = week["key_as_string"][:10]
            articles[day] += week["doc_count"]
            for topic in week["topics"]["buckets"]:
                by_week[day][topic["key"]] += topic["doc_count"]
            story_ids[day].update(s["key"] for s in week["stories"]["buckets"])
    weeks = sorted(articles)
    judged = aggs["judged"]["doc_count"]
    return {
        "total": total,
        "stories": aggs["stories"]["value"],
        "weeks": weeks,
        "articles_per_week": [articles[w] for w in weeks],
        "stories_per_week": [len(story_ids[w]) for w in weeks],
        "topics_per_week": {
            t: [by_week[w].get(t, 0) for w in weeks]
            for t in sorted({t for w in weeks for t in by_week[w]})
        },
        "dated_share": _share(aggs["published"]["doc_count"], total),
        "actors": [
            _actor(b["key"], b["doc_count"]) for b in aggs["actors"]["people"]["ids"]["buckets"]
        ],
        "outlets": [(b["key"], b["doc_count"]) for b in aggs["outlets"]["buckets"]],
        "languages": [(b["key"], b["doc_count"]) for b in aggs["languages"]["buckets"]],
        "duplicate_share": _share(aggs["duplicates"]["doc_count"], total),
        "off_track_share": _share(aggs["off_track"]["doc_count"], judged),
    }


def _share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def _actor(entity_id: str, count: int) -> dict[str, Any]:
    """An actor with its canonical name and camp/affiliation from the knowledge pack."""
    known = gazetteer().entities.get(entity_id)
    attrs = known.attributes if known else {}
    return {
        "id": entity_id,
        "name": known.name if known else entity_id,
        "camp": attrs.get("camp") or attrs.get("category") or "",
        "affiliation": attrs.get("affiliation", ""),
        "count": count,
    }


def story(settings: Settings, story_id: str) -> dict[str, Any]:
    """A story's members, oldest first, with their evidence, and why they were joined: what each
    shares with the others (wording for a near-duplicate; actors, places, event dates, figures)."""
    from newspipe.clients import es_client
    from newspipe.tools.query import article_date

    resp = es_client(settings.es).search(
        index=settings.es.alias,
        query={"term": {"story.id": story_id}},
        size=500,
        sort=[{"ingested_at": "asc"}],
        source_includes=[
            "id",
            "title",
            "body",
            "language",
            "source",
            "sources",
            "published_at",
            "ingested_at",
            "dedup.duplicate_of",
            "event",
            "entities.id",
            "entities.name",
            "entities.type",
        ],
    )
    members = []
    for hit in resp["hits"]["hits"]:
        doc = hit["_source"]
        day, kind = article_date(doc)
        members.append(
            {
                "id": doc["id"],
                "title": doc.get("title") or doc["body"][:90].replace("\n", " "),
                "outlet": (doc.get("source") or {}).get("outlet") or "",
                "language": doc.get("language", ""),
                "date": day,
                "date_kind": kind,
                "duplicate_of": (doc.get("dedup") or {}).get("duplicate_of"),
                "actors": sorted(
                    {e["name"] for e in doc.get("entities", []) if e["type"] != "LOC"}
                ),
                "places": (doc.get("event") or {}).get("places", []),
                "dates": (doc.get("event") or {}).get("dates", []),
                "figures": (doc.get("event") or {}).get("figures", []),
            }
        )
    return {"id": story_id, "members": members, "why": why_joined(members)}


def why_joined(members: list[dict[str, Any]]) -> list[str]:
    """One line per member after the first: what ties it to the story's other members."""
    lines = []
    for i, m in enumerate(members):
        if i == 0:
            continue
        if m["duplicate_of"]:
            lines.append(
                f"{m['title'][:60]}: near-duplicate of {m['duplicate_of'][:12]} (same wording)"
            )
            continue
        others = members[:i] + members[i + 1 :]
        shared_actors = sorted(set(m["actors"]) & {a for o in others for a in o["actors"]})
        shared_places = sorted(set(m["places"]) & {p for o in others for p in o["places"]})
        shared_dates = sorted(set(m["dates"]) & {d for o in others for d in o["dates"]})
        figures = m.get("figures", [])
        shared_figures = sorted(
            set(figures) & {f for o in others for f in o.get("figures", [])}, key=int
        )
        parts = [
            f"actors {', '.join(shared_actors[:4])}" if shared_actors else "",
            f"places {', '.join(shared_places)}" if shared_places else "",
            f"event dates {', '.join(shared_dates)}" if shared_dates else "",
            f"figures {', '.join(shared_figures[:4])}" if shared_figures else "",
        ]
        lines.append(
            f"{m['title'][:60]}: shares "
            + ("; ".join(p for p in parts if p) or "topics and wording")
        )
    return lines
