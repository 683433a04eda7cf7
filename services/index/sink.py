"""The index I/O loop: poll news.enriched -> bulk to Elasticsearch -> DLQ rejects -> commit.

Offsets are committed only after every item of the batch was acknowledged by Elasticsearch or sent
to the dead-letter topic; transient errors (429, 5xx, connection) are retried with backoff and
never committed past, so a crash resumes from the last fully written batch. An outage of Kafka or
Elasticsearch, however long, is waited out (one log line when it starts, one when it ends): the
indexer never exits because a server is away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import helpers as es_helpers
from elasticsearch.exceptions import ApiError, TransportError
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError
from pydantic import ValidationError

from newspipe.clients import es_client, es_transient, kafka_transient
from newspipe.config import (
    AlertSettings,
    ElasticSettings,
    IndexSettings,
    KafkaSettings,
    kafka_client_kwargs,
)
from newspipe.contract import INGESTED_HEADER, KIND_HEADER, DeadLetter
from newspipe.obs import Dependency
from newspipe.ops import (
    ALERT_FAILURES,
    BULK_DOCUMENTS,
    BULK_SECONDS,
    CONSUMED,
    DEAD_LETTERS,
    DROP_TO_SEARCHABLE,
    HEALTH,
    PRODUCED,
    reason_class,
)
from services.index.alerting import Alerter
from services.index.core import classify, describe_error, to_action

log = logging.getLogger("newspipe.index")
LINGER_POLL_MS = 50  # a poll this long that brings nothing ends the batch


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
    return DeadLetter.of("index", reason, msg)


def fill_batch(
    poll: Callable[[int], dict[TopicPartition, list[Any]]],
    records: dict[TopicPartition, list[Any]],
    size: int,
    linger: float,
) -> dict[TopicPartition, list[Any]]:
    """Go on polling (`poll(at most n)`) while documents keep coming, up to `size` records or
    `linger` seconds: a poll returns what has arrived, a few documents at a time while the enrich
    stage streams, and every bulk request costs Elasticsearch a fixed share of its CPU. A poll
    that brings nothing ends the batch: a lone file is written at once."""
    n = sum(len(msgs) for msgs in records.values())
    deadline = time.monotonic() + linger
    while n < size and time.monotonic() < deadline:
        more = poll(size - n)
        if not more:
            break
        for tp, msgs in more.items():
            records.setdefault(tp, []).extend(msgs)  # in offset order per partition
            n += len(msgs)
    return records


def behind(records: dict[TopicPartition, list[Any]], age: float, now: float) -> bool:
    """Is the pipeline behind: was an article of `records` first seen more than `age` seconds
    before `now` (epoch seconds)? Read from each article's INGESTED_HEADER; link corrections and
    messages without the header (written by an older enrich worker) say nothing."""
    oldest = min(
        (
            int(value)
            for msgs in records.values()
            for msg in msgs
            for key, value in msg.headers or ()
            if key == INGESTED_HEADER
        ),
        default=None,
    )
    return oldest is not None and now - oldest / 1000 > age


def linger_for(records: dict[TopicPartition, list[Any]], cfg: IndexSettings, now: float) -> float:
    """How long the batch that `records` begin may go on filling. When their articles already
    waited (a backfill, a catch-up), longer: the enrich stage then streams a few documents per
    poll, and small bulk requests cost Elasticsearch about twice the CPU per document of bulks
    of a hundred (ADR 0005), CPU that the enrich worker shares on a small machine. A live feed's
    fresh articles keep the short linger; and a poll that brings nothing ends any batch."""
    return cfg.backlog_linger if behind(records, cfg.backlog_age, now) else cfg.batch_linger


class Sink:
    def __init__(
        self,
        kafka: KafkaSettings,
        es: ElasticSettings,
        cfg: IndexSettings,
        limit: int,
        stop: threading.Event | None = None,
        alert: AlertSettings | None = None,
    ) -> None:
        """`limit`: the Kafka message limit (`message_max_bytes`): fetch sizes and dead letters;
        `alert`: where the watches are, and where their alerts go."""
        self.kafka, self.cfg, self.index, self.limit = kafka, cfg, es.alias, limit
        self.stop = stop or threading.Event()
        self.es = es_client(es)
        self.broker = Dependency("Kafka", log)
        self.search = Dependency("Elasticsearch", log)
        self.consumer = self.broker.call(self._consumer, kafka_transient, self.stop)
        self.producer = self.broker.call(
            lambda: KafkaProducer(**kafka_client_kwargs(kafka), acks="all", max_request_size=limit),
            kafka_transient,
            self.stop,
        )
        self.assigned = False
        self.refreshed_at = 0.0  # monotonic time of the last live refresh
        HEALTH.checks["kafka"] = lambda: "Kafka unreachable" if self.broker.down_since else None
        HEALTH.checks["elasticsearch"] = lambda: (
            "Elasticsearch unreachable" if self.search.down_since else None
        )
        HEALTH.checks["consuming"] = lambda: (
            None if self.assigned else f"no partition of {kafka.enriched_topic} assigned yet"
        )
        alert = alert or AlertSettings()
        self.alerter = Alerter(
            self.es,
            self.producer,
            self.index,
            alert.watches_index,
            alert.alerts_index,
            kafka.alerts_topic,
        )

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            self.kafka.enriched_topic,
            **kafka_client_kwargs(self.kafka),
            group_id=self.cfg.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.cfg.batch_size,
            max_partition_fetch_bytes=self.limit,  # one whole message at least
            fetch_max_bytes=max(52_428_800, self.limit),
            # Heartbeats run in the background; the poll interval only bounds how long a batch may
            # wait for Elasticsearch before the group gives its partitions away (then the batch is
            # read again: writes are idempotent). An hour keeps them through ordinary outages.
            max_poll_interval_ms=3_600_000,
        )

    def run(self) -> None:
        log.info("indexing %s -> %s", self.kafka.enriched_topic, self.index)
        try:
            while not self.stop.is_set():
                HEALTH.beat()
                records = self.consumer.poll(
                    timeout_ms=int(self.cfg.batch_wait * 1000), max_records=self.cfg.batch_size
                )
                self.assigned = bool(self.consumer.assignment())
                if records:
                    self.process(self._fill(records))
        finally:
            self.consumer.close(autocommit=False)
            self.producer.close()

    def _fill(self, records: dict[TopicPartition, list[Any]]) -> dict[TopicPartition, list[Any]]:
        return fill_batch(
            lambda n: self.consumer.poll(timeout_ms=LINGER_POLL_MS, max_records=n),
            records,
            self.cfg.batch_size,
            linger_for(records, self.cfg, time.time()),
        )

    def process(self, records: dict[TopicPartition, list[Any]]) -> None:
        started = time.perf_counter()
        batch = build_batch(records, self.index)
        CONSUMED.labels("index").inc(sum(len(m) for m in records.values()))
        written = self._write(batch)
        if self.stop.is_set():
            return  # stopped while waiting: nothing is committed, the batch is read again
        if written and len(batch.origins) < self.cfg.batch_size:
            self._refresh_live()
        _observe_freshness(batch)
        self.broker.call(lambda: self._send_dead(batch.dead), kafka_transient, self.stop)
        self._alert([a["_id"] for a in batch.actions])
        if self.stop.is_set():
            return  # stopped while the watches waited for a server: the batch is read again
        self._commit(batch.offsets)
        log.info(
            "batch: %d indexed, %d dead-lettered, %.0f ms",
            written,
            len(batch.dead),
            (time.perf_counter() - started) * 1000,
        )

    def _refresh_live(self) -> None:
        """A batch short of full means the backlog is written: make it searchable now rather than
        at the index's next periodic refresh. Rate-limited (`live_refresh`), and only a nicety:
        a failure is left to the periodic refresh. A backfill's full batches never refresh."""
        now = time.monotonic()
        if self.cfg.live_refresh < 0 or now - self.refreshed_at < self.cfg.live_refresh:
            return
        self.refreshed_at = now
        try:
            self.es.indices.refresh(index=self.index)
        except (ApiError, TransportError) as exc:
            log.debug("live refresh skipped: %s", exc)

    def _alert(self, ids: list[str]) -> None:
        """The watches over the batch, after its write and before its commit (see alerting):
        an outage of either server is waited out, the whole evaluation then run again. Any
        other failure is logged with its traceback and counted, and indexing goes on: a broken
        watch must not stop the archive from being written."""
        try:
            self.search.call(
                lambda: self.alerter.after_batch(ids),
                lambda exc: es_transient(exc) or kafka_transient(exc),
                self.stop,
            )
        except Exception:
            if self.stop.is_set():
                return  # the wait was cut short: the batch is read again
            ALERT_FAILURES.inc()
            log.exception("watches not evaluated on a batch of %d documents", len(ids))

    def _send_dead(self, letters: list[DeadLetter]) -> None:
        """Each letter confirmed by the broker before the offsets move past its message."""
        futures = [
            self.producer.send(self.kafka.dlq_topic, value=x.to_bytes_within(self.limit))
            for x in letters
        ]
        for future in futures:
            future.get(timeout=30)
        for letter in letters:
            DEAD_LETTERS.labels("index", reason_class(letter.reason)).inc()
        PRODUCED.labels("index", self.kafka.dlq_topic).inc(len(letters))

    def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        commit = {tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()}
        try:
            self.broker.call(lambda: self.consumer.commit(commit), kafka_transient, self.stop)
        except CommitFailedError as exc:  # the group moved our partitions during a long wait
            log.warning("offsets not committed (%s): the batch will be read again", exc)

    def _write(self, batch: Batch) -> int:
        """Bulk-write until every action is acknowledged or rejected; returns the count written.
        Items failing with 429/5xx are retried; once they exceed the retries while the cluster
        answers, they are dead-lettered (that document, not the cluster, is the problem)."""
        pending = list(zip(batch.actions, batch.origins, strict=True))
        written, attempt = 0, 0
        while pending and not self.stop.is_set():
            actions = [a for a, _ in pending]
            statuses = self.search.call(lambda: self._bulk(actions), es_transient, self.stop)  # noqa: B023
            retry_later = []
            for (action, origin), (status, error) in zip(pending, statuses, strict=True):
                outcome = classify(status)
                if outcome == "ok":
                    written += 1
                elif outcome == "reject":
                    batch.dead.append(_dead(origin, describe_error(status, error)))
                else:
                    retry_later.append((action, origin, describe_error(status, error)))
            pending, attempt = [(a, o) for a, o, _ in retry_later], attempt + 1
            if pending and attempt > self.cfg.max_retries and self._cluster_answers():
                for _action, origin, why in retry_later:
                    batch.dead.append(_dead(origin, f"{why} (still, after {attempt} attempts)"))
                return written
            if pending:
                self.stop.wait(min(30.0, 0.5 * 2**attempt))
        return written

    def _cluster_answers(self) -> bool:
        try:
            self.es.cluster.health(wait_for_status="yellow", timeout="5s")
            return True
        except (ApiError, TransportError):
            return False

    def _bulk(self, actions: list[dict[str, Any]]) -> list[tuple[int, object]]:
        BULK_DOCUMENTS.observe(len(actions))
        with BULK_SECONDS.time():
            return self._bulk_items(actions)

    def _bulk_items(self, actions: list[dict[str, Any]]) -> list[tuple[int, object]]:
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


FRESH = 3600.0  # an article first seen longer ago is a replay: not a drop-to-searchable figure


def _observe_freshness(batch: Batch) -> None:
    """Ingestion to acknowledged write, per article written in this batch (not corrections)."""
    now = time.time()
    for action in batch.actions:
        if action["_op_type"] != "index":
            continue
        at = datetime.fromisoformat(action["_source"]["ingested_at"]).timestamp()
        if 0 <= now - at <= FRESH:
            DROP_TO_SEARCHABLE.observe(now - at)
