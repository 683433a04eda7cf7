"""An article file onto news.raw: the bounded read (file and sidecar), the parse call, the producer.

Used by the watch loop and by replay (watch.py). The file is read from an open descriptor checked
to be a regular file within `max_bytes`, never more than `max_bytes + 1` bytes of it; the producer's
request limit is the one Kafka message limit (`message_max_bytes`), so whatever parse accepts can
be sent.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Literal

from kafka import KafkaProducer
from kafka import errors as kafka_errors
from kafka.errors import KafkaTimeoutError

from newspipe.config import IngestSettings, KafkaSettings, kafka_client_kwargs, message_max_bytes
from newspipe.contract import RawArticle
from services.ingest.inbox import Refused, size_limit, too_large
from services.ingest.parse import MAX_BYTES_SETTING, Parsed, Rejected, parse

# The loop blocks on Kafka only this long per attempt, so a stop request or an unreachable broker
# is noticed within seconds (kafka-python's defaults: 30 s bootstrap, 60 s block, 120 s delivery).
CONNECT_TIMEOUT_MS = 5_000
# A sidecar holds a few fields; a megabyte is generous and keeps a mistaken one from being read.
MAX_SIDECAR_BYTES = 2**20
WATCH_TIMEOUTS = {
    "max_block_ms": 5_000,  # waiting for the topic's metadata in send()
    "request_timeout_ms": 15_000,  # one produce request; a 17 MB one takes well under a second
    "delivery_timeout_ms": 20_000,  # >= request + linger; then the record fails, not left queued
}


class Publisher:
    """kafka-python producer: acks=all (idempotent), keyed by article id, its request limit the
    one Kafka message limit. Connected by `connect()`, so that ingest starts while Kafka is down."""

    def __init__(
        self, kafka: KafkaSettings, ingest: IngestSettings, timeouts: dict[str, int] | None = None
    ) -> None:
        self.kafka, self.topic = kafka, kafka.raw_topic
        self.limit = message_max_bytes(ingest)
        self.timeouts = WATCH_TIMEOUTS if timeouts is None else timeouts
        self.producer: KafkaProducer | None = None

    def connect(self) -> None:
        if self.producer is None:
            self.producer = KafkaProducer(
                **kafka_client_kwargs(self.kafka),
                acks="all",
                linger_ms=10,
                max_request_size=self.limit,
                bootstrap_timeout_ms=CONNECT_TIMEOUT_MS,
                **self.timeouts,
            )

    def send(self, article: RawArticle) -> object:
        assert self.producer is not None, "connect() first"
        return self.producer.send(self.topic, key=article.id.encode(), value=article.to_bytes())

    def publish(
        self, files: list[list[RawArticle]], stop: threading.Event
    ) -> list[BaseException | None] | None:
        """Send the articles of several files, then wait for every ack: one round trip for what a
        tick found, not one per file. Per file, None (every article acknowledged) or its first
        error; None overall if `stop` was set first (the files stay in the inbox).

        A message the broker refuses (too large for the topic, say) makes kafka-python's
        idempotent producer abort every batch in flight with that error and fail every later
        send: the producer is then dropped, and when several files were refused together, each is
        sent again alone on a fresh one, so that only the file at fault keeps its refusal. The
        producer stays dropped after a refusal (`connect()` makes the next)."""
        outcomes = self.publish_once(files, stop)
        if outcomes is None:
            return None
        refused = [
            i
            for i, exc in enumerate(outcomes)
            if exc is not None and on_publish_error(exc) == "reject"
        ]
        if refused:
            self.reset()
        for i in refused if len(refused) > 1 else []:
            try:
                self.connect()
            except (kafka_errors.KafkaError, OSError) as exc:
                outcomes[i] = exc  # the broker went away: the file waits for it
                continue
            alone = self.publish_once([files[i]], stop)
            if alone is None:
                return None
            outcomes[i] = alone[0]
            if alone[0] is not None:
                self.reset()
        return outcomes

    def publish_once(
        self, files: list[list[RawArticle]], stop: threading.Event
    ) -> list[BaseException | None] | None:
        """publish() without the remedy for a refused message. An error that
        concerns the broker rather than one message (`on_publish_error` says "wait") ends the
        sending: the files not sent get it too. A send neither acknowledged nor failed well after
        its delivery timeout (seen once: a record in flight when the broker went down, never
        resolved after it came back) counts as a KafkaTimeoutError and drops the producer, so the
        next attempt starts on a fresh connection (re-sending a file is safe: an article's id is
        its key, and enrich takes a replayed id as the same article)."""
        sent: list[tuple[list[object], BaseException | None]] = []
        broker_down: BaseException | None = None
        for articles in files:
            futures: list[object] = []
            error = broker_down
            for article in articles if error is None else []:
                try:
                    futures.append(self.send(article))
                except Exception as exc:
                    error = exc
                    if on_publish_error(exc) == "wait":
                        broker_down = exc
                    break
            sent.append((futures, error))
        deadline = time.monotonic() + self.timeouts.get("delivery_timeout_ms", 120_000) / 1000 + 10
        outcomes: list[BaseException | None] = []
        for futures, error in sent:
            for future in futures:
                while not future.is_done:  # type: ignore[attr-defined]
                    if stop.wait(0.01):
                        return None
                    if time.monotonic() > deadline:
                        self.reset()
                        return [
                            KafkaTimeoutError("no acknowledgement or error from Kafka in time")
                        ] * len(files)
                if error is None and future.failed():  # type: ignore[attr-defined]
                    error = future.exception  # type: ignore[attr-defined]
            outcomes.append(error)
        return outcomes

    def reset(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            producer.close(timeout=0)

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=5)


def read_bounded(path: Path, limit: int, setting: str = MAX_BYTES_SETTING) -> bytes | Refused:
    """At most limit + 1 bytes, checked on the open descriptor: no link followed, no blocking on a
    pipe swapped in since the checks."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    with os.fdopen(os.open(path, flags), "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return Refused("not a regular file")
        data = f.read(limit + 1)
    reason = too_large(max(st.st_size, len(data)), limit, setting)
    return Refused(reason) if reason else data


def load(
    path: Path, rel: PurePath, cfg: IngestSettings, sidecar: Path | None = None
) -> Parsed | Rejected:
    """Read (bounded) and parse, with the sidecar's bytes if there is one; any error becomes the
    rejection's reason."""
    name = rel.as_posix()
    limit, setting = size_limit(rel, cfg)
    try:
        data = read_bounded(path, limit, setting)
        meta = read_bounded(sidecar, MAX_SIDECAR_BYTES) if sidecar is not None else None
        if isinstance(data, Refused):
            return Rejected(name, data.reason)
        if isinstance(meta, Refused):
            return Rejected(name, f"its sidecar {sidecar}: {meta.reason}")
        return parse(name, data, datetime.now(UTC), cfg.max_bytes, meta)
    except Exception as exc:  # one bad file must not stop the loop
        return Rejected(name, f"could not read or parse: {short(exc)}")


def short(exc: BaseException) -> str:
    """`Type: message`, the type once (kafka-python's messages already name it)."""
    name, text = type(exc).__name__, str(exc)
    return text if name in text else f"{name}: {text}" if text else name


# Errors that concern this one message: rejecting the file is final. kafka-python raises
# MessageSizeTooLargeError both for max_request_size and for the broker's MESSAGE_TOO_LARGE (Java's
# RecordTooLargeException).
PER_MESSAGE_ERRORS: tuple[type[Exception], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidRecordError,
    kafka_errors.CorruptRecordError,
    kafka_errors.InvalidTimestampError,
    kafka_errors.InvalidTopicError,
    kafka_errors.UnsupportedForMessageFormatError,
)


def on_publish_error(exc: BaseException) -> Literal["reject", "wait"]:
    """Reject the file for an error about this message; wait (the file stays in the inbox) for
    the broker being down or unready, or anything else Kafka says (authorisation, unknown topic):
    those concern every file alike, and rejecting them all would empty the inbox."""
    if isinstance(exc, PER_MESSAGE_ERRORS):
        return "reject"
    if isinstance(exc, kafka_errors.KafkaError | OSError):
        return "wait"
    return "reject"  # the client refused this message itself (ValueError, TypeError)
