"""What `stack up` does once the servers answer: create the topics, install the index template
and alias. Also the readiness wait used by `newspipe run --replay`."""

from __future__ import annotations

import contextlib
import logging
import time

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from newspipe.config import Settings, kafka_client_kwargs, message_max_bytes

log = logging.getLogger("newspipe.tools.bootstrap")


DLQ_RETENTION_MS = 30 * 86400 * 1000  # a month to notice, fix and replay a dead letter


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Per-topic configs. Every topic takes the one message limit (the broker's default is 1 MB,
    which silently dropped 0.6-1 MB articles between stages)."""
    size = {"max.message.bytes": str(message_max_bytes(settings.ingest))}
    k = settings.kafka
    return {
        k.raw_topic: size,
        k.link_topic: size,
        k.enriched_topic: size,
        k.dlq_topic: {**size, "retention.ms": str(DLQ_RETENTION_MS)},
        k.alerts_topic: size,
    }


def topic_specs(settings: Settings) -> list[NewTopic]:
    k, configs = settings.kafka, topic_configs(settings)
    partitions = {k.raw_topic: k.partitions, k.enriched_topic: k.partitions}
    # news.link, news.dlq and news.alerts have one partition: the link stage sees the whole
    # archive, and alerts keep their order
    return [
        NewTopic(name, partitions.get(name, 1), 1, topic_configs=c) for name, c in configs.items()
    ]


def create_topics(settings: Settings) -> None:
    """Create missing topics; set the configs of existing ones (a topic made by an older version
    keeps the 1 MB default otherwise)."""
    admin = KafkaAdminClient(**kafka_client_kwargs(settings.kafka))
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topic_specs(settings) if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
        present = [
            ConfigResource(ConfigResourceType.TOPIC, name, configs=dict(configs))
            for name, configs in topic_configs(settings).items()
            if name in existing
        ]
        if present:
            admin.alter_configs(present)
        log.info("topics ready: %s", ", ".join(t.name for t in topic_specs(settings)))
    finally:
        admin.close()


def prepare(settings: Settings) -> None:
    from newspipe.clients import es_client
    from services.index.schema import install, install_alerting

    create_topics(settings)
    es = es_client(settings.es)
    install(es, settings.es.alias, settings.es.index)
    install_alerting(es, settings.alert.watches_index, settings.alert.alerts_index)


def wait_for_group(settings: Settings, timeout: float) -> None:
    """Wait until the enrich app's consumer group has members (the worker is Ready)."""
    admin = KafkaAdminClient(**kafka_client_kwargs(settings.kafka))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                groups = admin.describe_groups([settings.enrich.app_id, settings.index.group])
            except KafkaError:  # coordinator not elected yet on a fresh broker
                groups = {}
            if len(groups) == 2 and all(
                g.get("group_state") == "Stable" and g.get("members") for g in groups.values()
            ):
                return
            time.sleep(0.5)
        raise TimeoutError(f"services not ready after {timeout:.0f} s")
    finally:
        admin.close()
