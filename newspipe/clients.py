"""Client factories every service and tool uses, built from settings (credentials never logged)."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from newspipe.config import ElasticSettings


def es_client(es: ElasticSettings) -> Elasticsearch:
    auth = None
    if es.username and es.password is not None:
        auth = (es.username, es.password.get_secret_value())
    return Elasticsearch(es.url, basic_auth=auth, request_timeout=60)
