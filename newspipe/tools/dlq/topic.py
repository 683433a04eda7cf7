"""The dead-letter topic's Kafka I/O: reading it whole, re-publishing letters, writing markers."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pydantic import ValidationError

from newspipe.config import Settings, kafka_client_kwargs, message_max_bytes
from newspipe.contract import KIND_HEADER, DeadLetter
from newspipe.tools.dlq.letters import (
    BOOTSTRAP_TIMEOUT_MS,
    KIND_REPLAYED,
    STALL_SECONDS,
    Dlq,
    DlqError,
    Entry,
    Ref,
    ReplayMarker,
    ReplayReport,
    _n,
    check_replayable,
    format_ref,
    make_marker,
    marked_refs,
)

# --- Kafka I/O ------------------------------------------------------------------------------


@contextlib.contextmanager
def _kafka_errors(settings: Settings) -> Iterator[None]:
    """Kafka failures as one-line DlqErrors."""
    try:
        yield
    except KafkaError as exc:
        raise DlqError(f"Kafka error on {settings.kafka.dlq_topic}: {exc!r}") from None


@contextlib.contextmanager
def _connecting(settings: Settings) -> Iterator[None]:
    """A client that cannot bootstrap: name the setting to check (within BOOTSTRAP_TIMEOUT_MS)."""
    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # its per-attempt errors would bury the one line below
    try:
        yield
    except (KafkaTimeoutError, KafkaConnectionError) as exc:
        raise DlqError(
            f"cannot reach Kafka at {settings.kafka.bootstrap} ({exc}); "
            "check NEWSPIPE_KAFKA__BOOTSTRAP and that the broker runs (`newspipe stack status`)"
        ) from None
    finally:
        kafka_log.setLevel(level)


def _consumer(settings: Settings) -> KafkaConsumer:
    limit = message_max_bytes(settings.ingest)
    with _connecting(settings):
        return KafkaConsumer(
            **kafka_client_kwargs(settings.kafka),
            enable_auto_commit=False,  # no group: a read never changes anything
            max_partition_fetch_bytes=limit,
            fetch_max_bytes=limit,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        )


def _records(consumer: KafkaConsumer, topic: str) -> Iterator[Any]:
    """Every record of the topic from the beginning up to the end offsets taken now."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise DlqError(
            f"no topic {topic} (NEWSPIPE_KAFKA__DLQ_TOPIC); `newspipe stack up` makes it"
        )
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    end = consumer.end_offsets(tps)
    last_progress = time.monotonic()
    while pending := [tp for tp in tps if consumer.position(tp) < end[tp]]:
        batch = consumer.poll(timeout_ms=1000)
        if batch:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > STALL_SECONDS:
            raise DlqError(f"{topic}: no progress reading {pending} for {STALL_SECONDS:.0f} s")
        for tp, msgs in batch.items():
            yield from (m for m in msgs if m.offset < end[tp])


def _absorb(dlq: Dlq, record: Any) -> None:
    ref = (record.partition, record.offset)
    kind = dict(record.headers or []).get(KIND_HEADER)
    try:
        if kind == KIND_REPLAYED:
            dlq.replayed |= marked_refs(ReplayMarker.model_validate_json(record.value))
            dlq.markers += 1
        else:
            dlq.entries.append(Entry(ref, DeadLetter.model_validate_json(record.value)))
    except ValidationError as exc:
        dlq.unreadable.append((ref, str(exc).splitlines()[0]))


def read(settings: Settings) -> Dlq:
    """The whole dead-letter topic: letters, replayed refs (from markers), unreadable records."""
    dlq = Dlq(settings.kafka.dlq_topic)
    with _kafka_errors(settings):
        consumer = _consumer(settings)
        try:
            for record in _records(consumer, dlq.topic):
                _absorb(dlq, record)
        finally:
            consumer.close(autocommit=False)
    dlq.entries.sort(key=lambda e: e.ref)
    return dlq


def find(dlq: Dlq, ref: Ref) -> Entry:
    found = next((e for e in dlq.entries if e.ref == ref), None)
    if found is None:
        raise DlqError(f"no dead letter at offset {format_ref(ref)} of {dlq.topic}")
    return found


def _existing_topics(settings: Settings) -> set[str]:
    with _kafka_errors(settings):
        consumer = _consumer(settings)
        try:
            return set(consumer.topics())
        finally:
            consumer.close(autocommit=False)


def _producer(settings: Settings) -> KafkaProducer:
    with _connecting(settings):
        return KafkaProducer(
            **kafka_client_kwargs(settings.kafka),
            acks="all",
            max_request_size=message_max_bytes(settings.ingest),
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            max_block_ms=15_000,  # metadata of a target topic
            # kafka-python's idempotent producer turns one refused record (over a topic's size
            # limit) into a fatal error failing every later send, the marker included. Replays are
            # idempotent downstream anyway; one request in flight keeps each partition's order.
            enable_idempotence=False,
            max_in_flight_requests_per_connection=1,
        )


def _publish(producer: KafkaProducer, entries: list[Entry]) -> ReplayReport:
    """Send every payload, wait for all acks; a refused one is a problem, not an exception."""
    report, futures = ReplayReport(), []
    for e in entries:
        letter = e.letter
        try:
            future = producer.send(
                letter.topic or "",
                value=letter.payload.encode("utf-8"),
                key=letter.key.encode("utf-8") if letter.key is not None else None,
                headers=[(k, v.encode("utf-8")) for k, v in letter.headers.items()],
            )
            futures.append((e, future))
        except KafkaError as exc:  # too large for the producer, no metadata in time
            report.problems.append((e.ref, f"not sent: {exc!r}"))
    producer.flush(timeout=60)
    for e, future in futures:
        try:
            future.get(timeout=30)
            report.replayed.append(e)
        except KafkaError as exc:  # refused by the broker, e.g. over the topic's size limit
            report.problems.append((e.ref, f"refused: {exc!r}"))
    return report


def _mark(producer: KafkaProducer, topic: str, replayed: list[Entry]) -> None:
    marker = make_marker(replayed)
    try:
        future = producer.send(
            topic,
            value=marker.model_dump_json().encode("utf-8"),
            headers=[(KIND_HEADER, KIND_REPLAYED)],
            partition=0,
        )
        producer.flush(timeout=30)
        future.get(timeout=30)
    except KafkaError as exc:
        raise DlqError(
            f"replayed {_n(len(replayed))} but could not record it on {topic} ({exc!r}); "
            "they still show as not replayed (replaying them again is harmless)"
        ) from None


def replay(settings: Settings, selected: list[Entry], dry_run: bool = False) -> ReplayReport:
    """Re-publish the selected letters to their source topics, then record them with a marker."""
    existing = _existing_topics(settings)
    report, sendable = ReplayReport(), []
    for e in selected:
        problem = check_replayable(e, settings.kafka.dlq_topic, existing)
        if problem:
            report.problems.append((e.ref, problem))
        else:
            sendable.append(e)
    if dry_run or not sendable:
        report.replayed = sendable
        return report
    with _kafka_errors(settings):
        producer = _producer(settings)
        try:
            sent = _publish(producer, sendable)
            if sent.replayed:
                _mark(producer, settings.kafka.dlq_topic, sent.replayed)
        finally:
            producer.close(timeout=30)
    report.replayed = sent.replayed
    report.problems += sent.problems
    return report
