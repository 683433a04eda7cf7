"""Consumer lag per group, topic and partition: what `newspipe status` prints and what the
ingest service's /metrics exposes (`newspipe_consumer_lag`)."""

from __future__ import annotations

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
    groups: dict[str, list[str]] = {
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
