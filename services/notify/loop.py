"""`newspipe notify`: news.alerts -> each alert's webhook (POST JSON) -> commit.

An alert whose watch has a webhook is POSTed to it, with `X-Newspipe-Alert: <alert id>` so that a
receiver can drop the rare repeat after a crash. An unreachable, throttled or failing (5xx)
webhook is retried with backoff, `alert.webhook_attempts` times; then, or at once for any other
refusal, the alert goes to the dead-letter topic with the reason (the URL shown by host only: its
path often carries a token). Offsets are committed after the POST or the letter, so a killed
sender POSTs again what it had not finished.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
from elasticsearch import NotFoundError
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from pydantic import ValidationError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from newspipe.clients import es_client, es_transient, kafka_transient
from newspipe.config import AlertSettings, ElasticSettings, KafkaSettings, kafka_client_kwargs
from newspipe.contract import Alert, DeadLetter, Watch
from newspipe.obs import FIRST_BACKOFF, MAX_BACKOFF, Dependency
from newspipe.ops import CONSUMED, DEAD_LETTERS, HEALTH, PRODUCED, WEBHOOKS, reason_class
from services.notify.core import WebhookError, payload, redact, retryable

log = logging.getLogger("newspipe.notify")
WATCH_TTL = 10.0  # seconds a watch read from Elasticsearch is reused


class Stopped(Exception):
    """The service was asked to stop while an alert was being delivered."""


class Notifier:
    def __init__(
        self,
        kafka: KafkaSettings,
        es: ElasticSettings,
        cfg: AlertSettings,
        limit: int,
        stop: threading.Event | None = None,
    ) -> None:
        self.kafka, self.cfg, self.limit = kafka, cfg, limit
        self.stop = stop or threading.Event()
        self.es = es_client(es)
        self.http = httpx.Client(timeout=cfg.webhook_timeout, follow_redirects=False)
        self.broker = Dependency("Kafka", log)
        self.search = Dependency("Elasticsearch", log)
        self.cache: dict[str, tuple[float, Watch | None]] = {}
        HEALTH.checks["kafka"] = lambda: "Kafka unreachable" if self.broker.down_since else None
        HEALTH.checks["elasticsearch"] = lambda: (
            "Elasticsearch unreachable" if self.search.down_since else None
        )
        self.consumer = self.broker.call(
            lambda: KafkaConsumer(
                kafka.alerts_topic,
                **kafka_client_kwargs(kafka),
                group_id=cfg.group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=limit,
                max_poll_interval_ms=3_600_000,  # a webhook may be retried for minutes
            ),
            kafka_transient,
            self.stop,
        )
        self.producer = self.broker.call(
            lambda: KafkaProducer(**kafka_client_kwargs(kafka), acks="all", max_request_size=limit),
            kafka_transient,
            self.stop,
        )

    def run(self) -> None:
        log.info("delivering %s to the watches' webhooks", self.kafka.alerts_topic)
        try:
            while not self.stop.is_set():
                HEALTH.beat()
                records = self.consumer.poll(timeout_ms=500, max_records=50)
                if records:
                    self.process(records)
        except Stopped:
            pass
        finally:
            self.consumer.close(autocommit=False)
            self.producer.close()
            self.http.close()

    def process(self, records: dict[TopicPartition, list[Any]]) -> None:
        for tp, msgs in records.items():
            for msg in msgs:
                self.handle(msg)
                self._commit({tp: OffsetAndMetadata(msg.offset + 1, "", -1)})

    def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.broker.call(lambda: self.consumer.commit(offsets), kafka_transient, self.stop)

    def handle(self, msg: Any) -> None:
        CONSUMED.labels("notify").inc()
        try:
            alert = Alert.model_validate_json(msg.value)
        except (ValidationError, ValueError) as exc:
            self._dead(msg, f"invalid alert: {exc}")
            return
        watch = self.watch(alert.watch)
        if watch is None or not watch.webhook:
            return
        url = watch.webhook
        try:
            self.post(url, alert, payload(alert, watch))
        except WebhookError as exc:
            tries = self.cfg.webhook_attempts if retryable(exc.status) else 1
            why = f"webhook {redact(url)} for watch {watch.name}: {exc} (after {tries} attempt(s))"
            log.error("alert %s not delivered: %s", alert.id[:12], why, extra={"alert": alert.id})
            WEBHOOKS.labels("dead-lettered").inc()
            self._dead(msg, why)
            return
        WEBHOOKS.labels("delivered").inc()
        log.info("alert %s delivered to %s", alert.id[:12], redact(url), extra={"alert": alert.id})

    def post(self, url: str, alert: Alert, body: bytes) -> None:
        HEALTH.beat()
        headers = {"content-type": "application/json", "x-newspipe-alert": alert.id}
        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, WebhookError) and retryable(e.status)),
            stop=stop_after_attempt(self.cfg.webhook_attempts),
            wait=wait_exponential(multiplier=FIRST_BACKOFF, max=MAX_BACKOFF),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                try:
                    resp = self.http.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:  # the message names no URL path
                    raise WebhookError(f"unreachable ({type(exc).__name__})") from None
                if not 200 <= resp.status_code < 300:
                    raise WebhookError(f"answered {resp.status_code}", resp.status_code)

    def _sleep(self, seconds: float) -> None:
        HEALTH.beat()
        if self.stop.wait(seconds):
            raise Stopped

    def watch(self, name: str) -> Watch | None:
        now = time.monotonic()
        cached = self.cache.get(name)
        if cached is not None and now - cached[0] < WATCH_TTL:
            return cached[1]

        def read() -> Watch | None:
            try:
                doc = self.es.get(index=self.cfg.watches_index, id=name)
            except NotFoundError:
                return None  # removed since: nothing to deliver
            return Watch.model_validate(doc["_source"])

        watch = self.search.call(read, es_transient, self.stop)
        self.cache[name] = (now, watch)
        return watch

    def _dead(self, msg: Any, reason: str) -> None:
        DEAD_LETTERS.labels("notify", reason_class(reason)).inc()
        PRODUCED.labels("notify", self.kafka.dlq_topic).inc()
        letter = DeadLetter.of("notify", reason, msg).to_bytes_within(self.limit)
        self.broker.call(
            lambda: self.producer.send(self.kafka.dlq_topic, value=letter).get(timeout=30),
            kafka_transient,
            self.stop,
        )
