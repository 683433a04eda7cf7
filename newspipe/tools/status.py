"""`newspipe status`: the whole pipeline on one screen: the local servers, consumer lag per group
and partition (the enrich app, the indexer, the webhook sender), the documents indexed and the last one, the rate
over the last minute, and the dead letters of the last hour."""

from __future__ import annotations

import time
from typing import Any

from newspipe.config import Settings, kafka_client_kwargs


def lag(committed: dict[Any, int | None], ends: dict[Any, int]) -> dict[Any, int]:
    """Messages not yet consumed per partition: end offset minus committed offset (a group that
    never committed on a partition lags by all its messages)."""
    return {tp: max(0, end - (committed.get(tp) or 0)) for tp, end in ends.items()}


def consumer_lag(settings: Settings) -> list[dict[str, Any]]:
    """One row per (group, topic, partition): committed offset, end offset, lag."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    k = settings.kafka
    groups = {
        settings.enrich.app_id: [k.raw_topic, k.link_topic],
        settings.index.group: [k.enriched_topic],
        settings.alert.group: [k.alerts_topic],
    }
    admin = KafkaAdminClient(**kafka_client_kwargs(k))
    consumer = KafkaConsumer(**kafka_client_kwargs(k), group_id=None, enable_auto_commit=False)
    rows = []
    try:
        for group, topics in groups.items():
            offsets = admin.list_group_offsets(group).get(group, {})
            committed = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
            parts = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            ends = consumer.end_offsets(parts) if parts else {}
            behind = lag(committed, ends)
            for tp in parts:
                rows.append(
                    {
                        "group": group,
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "committed": committed.get(tp),
                        "end": ends[tp],
                        "lag": behind[tp],
                    }
                )
    finally:
        consumer.close()
        admin.close()
    return rows


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


def report(settings: Settings) -> list[str]:
    """The lines `newspipe status` prints; a part that cannot be read says why, the rest goes on."""
    import newspipe.tools.stack as local

    lines = ["servers (local stack):"]
    for row in local.status(settings.stack):
        state = "healthy" if row.get("healthy") else ("running" if row.get("running") else "down")
        lines.append(f"  {row['name']:<14} {state:<8} {row['address']}")
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
