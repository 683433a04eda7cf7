"""`newspipe status`: the whole pipeline on one screen: the local servers, consumer lag per group
and partition (the enrich app, the indexer, the webhook sender), the documents indexed and the
last one, the rate over the last minute, and the dead letters of the last hour."""

from __future__ import annotations

import time
from typing import Any

from newspipe.config import Settings, kafka_client_kwargs
from newspipe.lag import consumer_lag, lag

__all__ = ["consumer_lag", "dead_letters_since", "health", "indexed", "lag", "report", "services"]


def dead_letters_since(settings: Settings, seconds: float) -> int:
    from kafka import KafkaConsumer, TopicPartition

    k = settings.kafka
    consumer = KafkaConsumer(**kafka_client_kwargs(k), group_id=None, enable_auto_commit=False)
    try:
        parts = [
            TopicPartition(k.dlq_topic, p) for p in consumer.partitions_for_topic(k.dlq_topic) or ()
        ]
        if not parts:
            return 0
        since = int((time.time() - seconds) * 1000)
        starts = consumer.offsets_for_times(dict.fromkeys(parts, since))
        ends = consumer.end_offsets(parts)
        return sum(ends[tp] - (starts[tp].offset if starts.get(tp) else ends[tp]) for tp in parts)
    finally:
        consumer.close()


def indexed(settings: Settings) -> dict[str, Any]:
    """Documents indexed, the last one (title, when), and how many in the last minute."""
    from newspipe.clients import es_client

    es = es_client(settings.es)
    alias = settings.es.alias
    total = int(es.count(index=alias)["count"])
    last = es.search(
        index=alias,
        size=1,
        sort=[{"enriched_at": "desc"}],
        source_includes=["title", "enriched_at"],
    )
    hits = last["hits"]["hits"]
    minute = int(
        es.count(index=alias, query={"range": {"enriched_at": {"gte": "now-1m"}}})["count"]
    )
    return {
        "documents": total,
        "last_title": hits[0]["_source"].get("title") if hits else None,
        "last_at": hits[0]["_source"].get("enriched_at") if hits else None,
        "last_minute": minute,
    }


SERVICES = ("ingest", "enrich", "index", "notify")


def probe(url: str, timeout: float = 1.0) -> tuple[bool | None, str]:
    """(True, detail) on 200, (False, detail) on another answer, (None, why) without one."""
    import httpx

    try:
        resp = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return None, f"no answer ({type(exc).__name__})"
    return resp.status_code == 200, resp.text.strip()


def health(url: str) -> str:
    """A service's state from its endpoint: alive and ready, not ready (why), unhealthy, down."""
    alive, detail = probe(f"{url}/healthz")
    if alive is None:
        return "down (no answer)"
    if not alive:
        return f"unhealthy: {detail}"
    ready, why = probe(f"{url}/readyz")
    return "alive, ready" if ready else f"alive, not ready: {why}"


def services(settings: Settings) -> list[tuple[str, str, str]]:
    """(service, state, endpoint) for each pipeline service on this host's configured ports."""
    rows = []
    for name in SERVICES:
        url = f"http://{settings.ops.host}:{settings.ops.port(name)}"
        rows.append((name, health(url), url))
    return rows


def report(settings: Settings) -> list[str]:
    """The lines `newspipe status` prints; a part that cannot be read says why, the rest goes on."""
    import newspipe.tools.stack as local

    lines = ["servers (local stack):"]
    for row in local.status(settings.stack):
        state = "healthy" if row.get("healthy") else ("running" if row.get("running") else "down")
        lines.append(f"  {row['name']:<14} {state:<8} {row['address']}")
    lines.append("services (their /healthz and /readyz):")
    for name, state, url in services(settings):
        lines.append(f"  {name:<14} {state:<40} {url}")
    lines.append("consumer lag (group, topic[partition]: committed / end = lag):")
    try:
        rows = consumer_lag(settings)
        for r in rows:
            lines.append(
                f"  {r['group']:<24} {r['topic']}[{r['partition']}]: {r['committed']} / {r['end']}"
                f" = {r['lag']}"
            )
        lines.append(f"  total lag: {sum(r['lag'] for r in rows)}")
        lines.append(f"dead letters in the last hour: {dead_letters_since(settings, 3600)}")
    except Exception as exc:
        lines.append(f"  Kafka unreadable: {type(exc).__name__}: {exc}")
    try:
        ix = indexed(settings)
        lines.append(
            f"indexed: {ix['documents']} documents, {ix['last_minute']} in the last minute;"
            f" last {ix['last_at']}: {ix['last_title']}"
        )
    except Exception as exc:
        lines.append(f"Elasticsearch unreadable: {type(exc).__name__}: {exc}")
    return lines
