"""Read side for analysts: search, filters and the story listing, straight from Elasticsearch.

A query that names a known actor, place or organisation, in any alias, script or spelling
("الناظوري", "Nadhouri", "Nathori"), is resolved through the knowledge pack and finds every article
that mentions that canonical entity, besides the full-text hits. The same filters (topic, entity,
outlet, language, date range, track) serve the CLI and the dashboard. An article's date is its
publication date where known, else the day it was ingested, and is labelled as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from newspipe.config import Settings

SOURCE_FIELDS = [
    "id",
    "title",
    "body",
    "language",
    "source",
    "sources.outlet",
    "published_at",
    "ingested_at",
    "story",
    "dedup.duplicate_of",
    "topics.id",
    "relevance.on_track",
    "entities.id",
    "entities.name",
]


@dataclass(frozen=True)
class Filters:
    topic: str | None = None
    entity: str | None = None  # an entity id, or any alias the knowledge pack knows
    outlet: str | None = None
    lang: str | None = None
    since: date | None = None
    until: date | None = None
    on_track: bool | None = None

    def clauses(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.topic:
            out.append({"term": {"topics.id": self.topic}})
        if self.entity:
            out.append({"terms": {"entities.id": entity_ids(self.entity) or [self.entity]}})
        if self.outlet:
            out.append({"term": {"sources.outlet": self.outlet}})
        if self.lang:
            out.append({"term": {"language": self.lang}})
        if self.since or self.until:
            out.append(dated_between(self.since, self.until))
        if self.on_track is not None:
            out.append({"term": {"relevance.on_track": self.on_track}})
        return out


def _es(settings: Settings) -> Any:
    from newspipe.clients import es_client

    return es_client(settings.es)


@cache
def gazetteer() -> Any:
    """The knowledge pack, loaded once for the read side (search, filters, dashboard)."""
    from services.enrich.knowledge import load_gazetteer

    return load_gazetteer()


def entity_ids(text: str) -> list[str]:
    """The knowledge pack's entities that `text` names (any alias, script, transliteration)."""
    from services.enrich.entities import resolve_query

    gaz = gazetteer()
    return [text] if text in gaz.entities else resolve_query(text, gaz)


def dated_between(since: date | None, until: date | None) -> dict[str, Any]:
    """Published in [since, until]; an article without a publication date by its ingestion."""
    rng = {k: v.isoformat() for k, v in (("gte", since), ("lte", until)) if v is not None}
    return {
        "bool": {
            "should": [
                {"range": {"published_at": rng}},
                {
                    "bool": {
                        "must_not": {"exists": {"field": "published_at"}},
                        "filter": {"range": {"ingested_at": rng}},
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def search_query(query: str) -> dict[str, Any]:
    """Full text on the raw fields and, folded like the index's `search_text`, on that field
    (Arabic-script names and unaccented spellings on a `standard`-only node); and the articles
    that mention an entity the query names, whatever alias they used."""
    from newspipe.text import search_text

    fields = ["title^2", "body", "entities.name.text^2", "entities.mentions.text"]
    should: list[dict[str, Any]] = [
        {"multi_match": {"query": query, "fields": fields}},
        {"match": {"search_text": {"query": search_text(query)}}},
    ]
    if ids := entity_ids(query):
        should.append({"terms": {"entities.id": ids, "boost": 3.0}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def filtered(query: dict[str, Any], filters: Filters | None) -> dict[str, Any]:
    clauses = filters.clauses() if filters else []
    return {"bool": {"must": [query], "filter": clauses}} if clauses else query


def article_date(doc: dict[str, Any]) -> tuple[str, str]:
    """(ISO date, "published" or "ingested"): what an analyst is shown, and what it is."""
    if doc.get("published_at"):
        return str(doc["published_at"])[:10], "published"
    return str(doc.get("ingested_at", ""))[:10], "ingested"


def search(
    settings: Settings, query: str | None, size: int = 10, filters: Filters | None = None
) -> list[dict[str, Any]]:
    """Hits, best first (newest first with no query): each its _source fields and score."""
    base = search_query(query) if query else {"match_all": {}}
    resp = _es(settings).search(
        index=settings.es.alias,
        query=filtered(base, filters),
        size=size,
        source=SOURCE_FIELDS,
        sort=None if query else [{"ingested_at": "desc"}],
    )
    return [{"score": h["_score"], **h["_source"]} for h in resp["hits"]["hits"]]


def stories(
    settings: Settings, size: int = 20, filters: Filters | None = None
) -> list[dict[str, Any]]:
    """Stories, newest first: size, real outlets (sources naming one), first and last date
    (publication dates where any member has one, else ingestion), a representative title."""
    resp = _es(settings).search(
        index=settings.es.alias,
        query=filtered({"match_all": {}}, filters),
        size=0,
        aggs={
            "stories": {
                "terms": {"field": "story.id", "size": size, "order": {"last_seen": "desc"}},
                "aggs": {
                    "first_pub": {"min": {"field": "published_at"}},
                    "last_pub": {"max": {"field": "published_at"}},
                    "first_seen": {"min": {"field": "ingested_at"}},
                    "last_seen": {"max": {"field": "ingested_at"}},
                    "outlets": {"cardinality": {"field": "sources.outlet"}},
                    "languages": {"terms": {"field": "language", "size": 5}},
                    "rep": {
                        "top_hits": {
                            "size": 1,
                            "sort": [{"ingested_at": "asc"}],
                            "_source": ["title", "body"],
                        }
                    },
                },
            }
        },
    )
    return [_story_row(b) for b in resp["aggregations"]["stories"]["buckets"]]


def _story_row(b: dict[str, Any]) -> dict[str, Any]:
    rep = b["rep"]["hits"]["hits"][0]["_source"]
    published = b["first_pub"]["value"] is not None
    first, last = ("first_pub", "last_pub") if published else ("first_seen", "last_seen")
    return {
        "story": b["key"],
        "size": b["doc_count"],
        "outlets": b["outlets"]["value"],
        "languages": [lang["key"] for lang in b["languages"]["buckets"]],
        "first": b[first]["value_as_string"][:10],
        "last": b[last]["value_as_string"][:10],
        "dates": "published" if published else "ingested",
        "title": rep.get("title") or rep["body"][:80].replace("\n", " ") + "...",
    }


def stories_per_topic_and_week(settings: Settings) -> dict[str, dict[str, int]]:
    """Distinct stories per topic per ISO week (what Kibana would chart): topic -> week -> count."""
    resp = _es(settings).search(
        index=settings.es.alias,
        size=0,
        aggs={
            "topics": {
                "terms": {"field": "topics.id", "size": 50},
                "aggs": {
                    "weeks": {
                        "date_histogram": {"field": "ingested_at", "calendar_interval": "week"},
                        "aggs": {"stories": {"cardinality": {"field": "story.id"}}},
                    }
                },
            }
        },
    )
    return {
        t["key"]: {w["key_as_string"][:10]: w["stories"]["value"] for w in t["weeks"]["buckets"]}
        for t in resp["aggregations"]["topics"]["buckets"]
    }
