"""The index I/O loop: poll news.enriched -> bulk to Elasticsearch -> DLQ rejects -> commit.

Offsets are committed only after every item of the batch was acknowledged by Elasticsearch or sent
to the dead-letter topic; transient errors (429, 5xx, connection) are retried with backoff and
never committed past, so a crash resumes from the last fully written batch.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch import helpers as es_helpers
from elasticsearch.exceptions import ConnectionError as ESConnectionError
from elasticsearch.exceptions import TransportError
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from pydantic import ValidationError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from newspipe.config import ElasticSettings, IndexSettings, KafkaSettings, kafka_client_kwargs
from newspipe.contract import KIND_HEADER, DeadLetter
from services.index.core import classify, describe_error, to_action

log = logging.getLogger("newspipe.index")


def es_client(es: ElasticSettings) -> Elasticsearch:
    auth = None
    if es.username and es.password is not None:
        auth = (es.username, es.password.get_secret_value())
    return Elasticsearch(es.url, basic_auth=auth, request_timeout=60)


@dataclass
class Batch:
    actions: list[dict[str, Any]] = field(default_factory=list)
    origins: list[Any] = field(default_factory=list)  # the Kafka record of each action
    dead: list[DeadLetter] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)


def build_batch(records: dict[TopicPartition, list[Any]], index: str) -> Batch:
    batch = Batch()
    for tp, msgs in records.items():
        for msg in msgs:
            batch.offsets[tp] = msg.offset + 1
            kind = dict(msg.headers or []).get(KIND_HEADER)
            try:
                batch.actions.append(to_action(kind, msg.value, index))
                batch.origins.append(msg)
            except (ValidationError, ValueError) as exc:
                batch.dead.append(_dead(msg, f"invalid document: {exc}"))
    return batch


def _dead(msg: Any, reason: str) -> DeadLetter:
    return DeadLetter(
        stage="index",
        reason=reason,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key.decode("utf-8", "replace") if msg.key else None,
        payload=msg.value.decode("utf-8", "replace"),
    )


class Sink:
    def __init__(self, kafka: KafkaSettings, es: ElasticSettings, cfg: IndexSettings) -> None:
        self.kafka, self.cfg, self.index = kafka, cfg, es.alias
        self.es = es_client(es)
        self.consumer = KafkaConsumer(
            kafka.enriched_topic,
            **kafka_client_kwargs(kafka),
            group_id=cfg.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=cfg.batch_size,
        )
        self.producer = KafkaProducer(**kafka_client_kwargs(kafka), acks="all")

    def run(self, stop: threading.Event) -> None:
        log.info("indexing %s -> %s", self.kafka.enriched_topic, self.index)
        try:
            while not stop.is_set():
                records = self.consumer.poll(
                    timeout_ms=int(self.cfg.batch_wait * 1000), max_records=self.cfg.batch_size
                )
                if records:
                    self.process(records)
        finally:
            self.consumer.close(autocommit=False)
            self.producer.close()

    def process(self, records: dict[TopicPartition, list[Any]]) -> None:
        started = time.perf_counter()
        batch = build_batch(records, self.index)
        written = self._write(batch)
        for letter in batch.dead:
            self.producer.send(self.kafka.dlq_topic, value=letter.to_bytes())
        self.producer.flush(timeout=30)
        self.consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in batch.offsets.items()})
        log.info(
            "batch: %d indexed, %d dead-lettered, %.0f ms",
            written,
            len(batch.dead),
            (time.perf_counter() - started) * 1000,
        )

    def _write(self, batch: Batch) -> int:
        """Bulk-write until every action is acknowledged or rejected; returns the count written."""
        pending = list(zip(batch.actions, batch.origins, strict=True))
        written, attempt = 0, 0
        while pending:
            statuses = self._bulk([a for a, _ in pending])
            retry_later = []
            for (action, origin), (status, error) in zip(pending, statuses, strict=True):
                outcome = classify(status)
                if outcome == "ok":
                    written += 1
                elif outcome == "reject":
                    batch.dead.append(_dead(origin, describe_error(status, error)))
                else:
                    retry_later.append((action, origin))
            pending, attempt = retry_later, attempt + 1
            if pending:
                if attempt > self.cfg.max_retries:
                    raise RuntimeError(f"{len(pending)} documents still failing after retries")
                time.sleep(min(30.0, 0.5 * 2**attempt))
        return written

    @retry(
        retry=retry_if_exception_type((ESConnectionError, TransportError)),
        stop=stop_after_attempt(8),
        wait=wait_exponential(min=0.5, max=30),
        reraise=True,
    )
    def _bulk(self, actions: list[dict[str, Any]]) -> list[tuple[int, object]]:
        out: list[tuple[int, object]] = []
        for _ok, item in es_helpers.streaming_bulk(
            self.es,
            actions,
            raise_on_error=False,
            raise_on_exception=True,
            max_retries=0,
            chunk_size=self.cfg.batch_size,  # no inner retries: results stay in input order
        ):
            info = next(iter(item.values()))
            out.append((int(info.get("status", 500)), info.get("error")))
        return out
