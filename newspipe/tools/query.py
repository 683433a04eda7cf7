"""Read side for analysts: full-text search and the story listing, straight from Elasticsearch."""

from __future__ import annotations

from typing import Any

from newspipe.config import Settings


def _es(settings: Settings) -> Any:
    from newspipe.clients import es_client

    return es_client(settings.es)


def search_query(query: str) -> dict[str, Any]:
    """Match the query on the raw fields and, folded like the index's `search_text`, on that
    field: Arabic-script names and unaccented spellings are found on a `standard`-only node."""
    from newspipe.text import search_text

    fields = ["title^2", "body", "entities.name.text^2", "entities.mentions.text"]
    return {
        "bool": {
            "should": [
                {"multi_match": {"query": query, "fields": fields}},
                {"match": {"search_text": {"query": search_text(query)}}},
            ]
        }
    }


def track_filter(query: dict[str, Any], on_track: bool | None) -> dict[str, Any]:
    """`query` restricted to articles on (True) or off (False) the security track; None: all."""
    if on_track is None:
        return query
    return {"bool": {"must": [query], "filter": [{"term": {"relevance.on_track": on_track}}]}}


def search(
    settings: Settings, query: str, size: int = 10, *, on_track: bool | None = None
) -> list[dict[str, Any]]:
    resp = _es(settings).search(
        index=settings.es.alias,
        query=track_filter(search_query(query), on_track),
        size=size,
        source=[
            "id",
            "title",
            "language",
            "source",
            "story",
            "dedup.duplicate_of",
            "topics.id",
            "relevance.on_track",
            "entities.name",
        ],
    )
    return [{"score": h["_score"], **h["_source"]} for h in resp["hits"]["hits"]]


def stories(
    settings: Settings, size: int = 20, *, on_track: bool | None = None
) -> list[dict[str, Any]]:
    resp = _es(settings).search(
        index=settings.es.alias,
        query=track_filter({"match_all": {}}, on_track),
        size=0,
        aggs={
            "stories": {
                "terms": {"field": "story.id", "size": size, "order": {"first": "desc"}},
                "aggs": {
                    "first": {"min": {"field": "ingested_at"}},
                    "last": {"max": {"field": "ingested_at"}},
                    "outlets": {"cardinality": {"field": "sources.outlet"}},
                    "paths": {"cardinality": {"field": "sources.path"}},
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
    out = []
    for b in resp["aggregations"]["stories"]["buckets"]:
        rep = b["rep"]["hits"]["hits"][0]["_source"]
        out.append(
            {
                "story": b["key"],
                "size": b["doc_count"],
                "outlets": b["outlets"]["value"] or b["paths"]["value"],
                "first_seen": b["first"]["value_as_string"],
                "last_seen": b["last"]["value_as_string"],
                "title": rep.get("title") or rep["body"][:80].replace("\n", " ") + "...",
            }
        )
    return out


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
