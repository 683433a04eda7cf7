"""The analyst's read side without servers: queries resolved through the knowledge pack, filters,
the dashboard's figures from an aggregation response, why a story's members were joined, and the
Kibana saved objects checked against the index template."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from newspipe.tools.coverage import summarise, why_joined
from newspipe.tools.query import Filters, entity_ids, search_query
from services.index.schema import build_template

ROOT = Path(__file__).resolve().parents[2]
NADHOURI = "abdulrazzaq-al-nadhouri"


@pytest.mark.parametrize("query", ["الناظوري", "Nadhouri", "Nathori", "Al-Nathori", NADHOURI])
def test_every_spelling_and_script_names_the_same_actor(query: str) -> None:
    assert entity_ids(query) == [NADHOURI]


def test_a_query_naming_two_entities_and_one_naming_none() -> None:
    assert entity_ids("Haddad Sirte") == ["mohammed-al-haddad", "sirte"]
    assert entity_ids("ceasefire talks") == []


def test_search_adds_the_named_entities_to_the_full_text_query() -> None:
    should = search_query("الناظوري")["bool"]["should"]
    assert {"terms": {"entities.id": [NADHOURI], "boost": 3.0}} in should
    assert len(search_query("ceasefire")["bool"]["should"]) == 2  # full text only


def test_filters_become_clauses() -> None:
    clauses = Filters(entity="Nathori", lang="ar", since=date(2021, 1, 1)).clauses()
    assert {"terms": {"entities.id": [NADHOURI]}} in clauses
    assert {"term": {"language": "ar"}} in clauses
    dated = clauses[2]["bool"]["should"]
    assert dated[0] == {"range": {"published_at": {"gte": "2021-01-01"}}}
    assert dated[1]["bool"]["must_not"] == {"exists": {"field": "published_at"}}  # ingestion date


def _week(day: str, n: int, topics: dict[str, int], stories: list[str]) -> dict[str, Any]:
    return {
        "key_as_string": f"{day}T00:00:00.000Z",
        "doc_count": n,
        "topics": {"buckets": [{"key": k, "doc_count": v} for k, v in topics.items()]},
        "stories": {"buckets": [{"key": s, "doc_count": 1} for s in stories]},
    }


def test_weekly_figures_add_publication_and_ingestion_weeks_and_unite_stories() -> None:
    resp = {
        "hits": {"total": {"value": 5}},
        "aggregations": {
            "published": {
                "doc_count": 3,
                "weeks": {
                    "buckets": [
                        _week("2021-07-26", 2, {"jmc-5plus5": 2}, ["s1", "s2"]),
                        _week("2021-08-02", 1, {"ceasefire": 1}, ["s3"]),
                    ]
                },
            },
            "ingested": {
                "doc_count": 2,
                "weeks": {"buckets": [_week("2021-07-26", 2, {"jmc-5plus5": 1}, ["s1", "s4"])]},
            },
            "actors": {"people": {"ids": {"buckets": [{"key": NADHOURI, "doc_count": 4}]}}},
            "outlets": {"buckets": [{"key": "Libya Herald", "doc_count": 2}]},
            "languages": {"buckets": [{"key": "en", "doc_count": 5}]},
            "duplicates": {"doc_count": 1},
            "off_track": {"doc_count": 1},
            "judged": {"doc_count": 4},
            "stories": {"value": 4},
        },
    }
    f = summarise(resp)
    assert f["weeks"] == ["2021-07-26", "2021-08-02"]
    assert f["articles_per_week"] == [4, 1]
    assert f["stories_per_week"] == [3, 1]  # s1 counted once
    assert f["topics_per_week"] == {"ceasefire": [0, 1], "jmc-5plus5": [3, 0]}
    assert f["actors"] == [
        {
            "id": NADHOURI,
            "name": "Abdulrazzaq al-Nadhouri",
            "camp": "east",
            "affiliation": "lna",
            "count": 4,
        }
    ]
    assert (f["duplicate_share"], f["off_track_share"], f["dated_share"]) == (0.2, 0.25, 0.6)


def test_why_members_were_joined() -> None:
    base = {"outlet": "", "language": "en", "date": "", "date_kind": "ingested", "dates": []}
    members = [
        {**base, "title": "A", "duplicate_of": None, "actors": ["X", "Y"], "places": ["sirte"]},
        {**base, "title": "B", "duplicate_of": "f" * 64, "actors": [], "places": []},
        {**base, "title": "C", "duplicate_of": None, "actors": ["Y"], "places": ["sirte"]},
    ]
    assert why_joined(members) == [
        "B: near-duplicate of ffffffffffff (same wording)",
        "C: shares actors Y; places sirte",
    ]


def _fields(props: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out = {}
    for name, spec in props.items():
        if "properties" in spec:
            out |= _fields(spec["properties"], f"{prefix}{name}.")
        else:
            out[prefix + name] = spec.get("type", "object")
    return out


AGGREGATABLE = {"keyword", "date", "integer", "long", "float", "boolean"}


def test_kibana_objects_reference_only_mapped_aggregatable_fields() -> None:
    mapped = _fields(
        build_template("news-articles-v*", False)["template"]["mappings"]["properties"]
    )
    objects = [
        json.loads(line)
        for line in (ROOT / "deploy/kibana/objects.ndjson").read_text("utf-8").splitlines()
    ]
    ids = {o["id"] for o in objects}
    view = next(o for o in objects if o["type"] == "index-pattern")
    assert mapped[view["attributes"]["timeFieldName"]] == "date"
    used = []
    for obj in objects:
        assert {r["id"] for r in obj["references"]} <= ids, obj["id"]
        if obj["type"] == "visualization":
            state = json.loads(obj["attributes"]["visState"])
            used += [a["params"]["field"] for a in state["aggs"] if "field" in a["params"]]
    assert len(used) >= 8
    for field in used:
        assert mapped.get(field) in AGGREGATABLE, field
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert len(panels) == len(dashboard["references"]) == len(objects) - 2


def test_the_dashboard_beyond_loopback_needs_a_password() -> None:
    from pydantic import SecretStr

    from newspipe.clients import ConfigError
    from newspipe.config import Settings
    from newspipe.tools.dashboard import _basic_auth, create_app, serve

    settings = Settings()
    open_wide = settings.model_copy(
        update={"dashboard": settings.dashboard.model_copy(update={"host": "0.0.0.0"})}
    )
    with pytest.raises(ConfigError, match="NEWSPIPE_DASHBOARD__PASSWORD"):
        serve(open_wide)
    app = create_app(settings)
    _basic_auth(app, "analyst", SecretStr("pw-Sabha").get_secret_value())
    client = app.server.test_client()
    assert client.get("/").status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/", auth=("analyst", "wrong")).status_code == 401
    assert client.get("/", auth=("analyst", "pw-Sabha")).status_code == 200


def test_lag_is_end_minus_committed_and_all_of_it_without_a_commit() -> None:
    from newspipe.tools.status import lag

    assert lag({"a": 10, "b": None}, {"a": 15, "b": 7, "c": 3}) == {"a": 5, "b": 7, "c": 3}
    assert lag({"a": 20}, {"a": 15}) == {"a": 0}  # never negative
