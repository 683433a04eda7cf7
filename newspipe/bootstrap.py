"""What `stack up` does once the servers answer: create the topics, install the index template
and alias. Also the readiness wait used by `newspipe run --replay`."""

from __future__ import annotations

import contextlib
import logging
import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from newspipe.config import Settings, kafka_client_kwargs

log = logging.getLogger("newspipe.bootstrap")


def topic_specs(settings: Settings) -> list[NewTopic]:
    k = settings.kafka
    return [
        NewTopic(k.raw_topic, k.partitions, 1),
        NewTopic(k.link_topic, 1, 1),  # one partition: the link stage sees the whole archive
        NewTopic(k.enriched_topic, k.partitions, 1),
        NewTopic(k.dlq_topic, 1, 1, topic_configs={"retention.ms": str(30 * 86400 * 1000)}),
    ]


def create_topics(settings: Settings) -> None:
    admin = KafkaAdminClient(**kafka_client_kwargs(settings.kafka))
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topic_specs(settings) if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
        log.info("topics ready: %s", ", ".join(t.name for t in topic_specs(settings)))
    finally:
        admin.close()


def prepare(settings: Settings) -> None:
    from services.index.schema import install
    from services.index.sink import es_client

    create_topics(settings)
    install(es_client(settings.es), settings.es.alias, settings.es.index)


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
