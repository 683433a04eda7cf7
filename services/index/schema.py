"""Index template and alias: installed at `stack up`, adapted to what the node offers.

The local integ-test node has only the `standard` family of analyzers; the full distribution (the
docker-compose one) also has `english`/`french`/`arabic`, which then get per-language sub-fields.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

log = logging.getLogger("newspipe.index")
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "elasticsearch"
TEMPLATE_FILE = DEPLOY / "template.json"
LANGUAGE_ANALYZERS = {"en": "english", "fr": "french", "ar": "arabic"}


def load_template() -> dict[str, Any]:
    return dict(json.loads(TEMPLATE_FILE.read_text("utf-8")))


def node_has_language_analyzers(es: Elasticsearch) -> bool:
    """True when every node carries the analysis-common module (the full distribution)."""
    nodes = es.nodes.info(metric="plugins")["nodes"]
    return bool(nodes) and all(
        any(m["name"] == "analysis-common" for m in node.get("modules", []))
        for node in nodes.values()
    )


def build_template(pattern: str, languages: bool) -> dict[str, Any]:
    body = copy.deepcopy(load_template())
    body["index_patterns"] = [pattern]
    props = body["template"]["mappings"]["properties"]
    if languages:
        for field in ("title", "body"):
            subfields = props[field].setdefault("fields", {})
            for code, analyzer in LANGUAGE_ANALYZERS.items():
                subfields[code] = {"type": "text", "analyzer": analyzer}
    return body


def install(es: Elasticsearch, alias: str, index: str) -> bool:
    """Put the template, create the index behind the alias if missing. Returns languages flag."""
    languages = node_has_language_analyzers(es)
    template = build_template(f"{alias}-v*", languages)
    es.indices.put_index_template(name=alias, body=template)
    if not es.indices.exists(index=index):
        es.indices.create(index=index, aliases={alias: {"is_write_index": True}})
    else:  # an index made by an older version gets the fields added since (mappings only grow)
        es.indices.put_mapping(
            index=index, properties=template["template"]["mappings"]["properties"]
        )
    es.cluster.health(index=index, wait_for_status="yellow", timeout="30s")
    log.info("index %s (alias %s) ready; language analyzers: %s", index, alias, languages)
    return languages


def install_alerting(es: Elasticsearch, watches: str, alerts: str) -> None:
    """The watches and alerts indices (deploy/elasticsearch/{watches,alerts}.json); idempotent,
    and an index made by an older version gets the fields added since."""
    for index, name in ((watches, "watches"), (alerts, "alerts")):
        mappings = json.loads((DEPLOY / f"{name}.json").read_text("utf-8"))["mappings"]
        if es.indices.exists(index=index):
            es.indices.put_mapping(index=index, properties=mappings["properties"])
        else:
            es.indices.create(index=index, mappings=mappings, settings={"number_of_replicas": 0})
    es.cluster.health(index=[watches, alerts], wait_for_status="yellow", timeout="30s")
