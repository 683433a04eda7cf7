"""The enrich service: a faust app of two agents.

  news.raw (N partitions) --enrich--> news.link (1 partition) --link--> news.enriched (+ news.dlq)

`enrich` is stateless and scales with news.raw's partitions across workers. `link` needs the whole
archive in one place to link copies and stories across partitions, so news.link has one partition
and its state is a table with a compacted changelog (rocksdb locally): whichever worker owns it
has every member, and a restarted or replacing worker recovers it from the changelog.
Failures never crash an agent (faust would ack and skip, or loop): they go to news.dlq
with the reason. That includes an output too large for the topic: checked before sending, since
a send that fails after the agent moved on would be acknowledged without output.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import faust
from pydantic import ValidationError

from newspipe.config import Settings, message_max_bytes
from newspipe.contract import (
    KIND_ARTICLE,
    KIND_HEADER,
    KIND_LINK_UPDATE,
    DeadLetter,
    EnrichedArticle,
    RawArticle,
    utcnow,
)
from newspipe.obs import collapse_repeats
from services.enrich.core import Enricher
from services.enrich.link import Linker

log = logging.getLogger("newspipe.enrich")
# Enriching takes ~6 s per MB of text on one core: a 4 MB article would block faust's loop for 30 s,
# past the 10 s session timeout (the worker drops out of its group). Articles this long (real ones
# are under ~30k characters) are enriched in a thread; the per-message hop is not worth it below.
OFFLOAD_CHARS = 64_000


def _broker(settings: Settings) -> tuple[str, Any]:
    k = settings.kafka
    url = ";".join(f"kafka://{h}" for h in k.bootstrap.split(","))
    creds = None
    if k.sasl_mechanism and k.sasl_password is not None:
        creds = faust.SASLCredentials(
            username=k.sasl_username,
            password=k.sasl_password.get_secret_value(),
            mechanism=k.sasl_mechanism,
            ssl_context=None,
        )
    return url, creds


def create_app(settings: Settings) -> faust.App:
    url, creds = _broker(settings)
    cfg = settings.enrich
    limit = message_max_bytes(settings.ingest)
    # An output above 3/4 of the limit is dead-lettered instead of sent: the letter that may later
    # wrap it (index stage) escapes its JSON and adds a reason, and must still fit.
    out_limit = limit * 3 // 4
    app = faust.App(
        cfg.app_id,
        broker=url,
        broker_credentials=creds,
        store=cfg.store,
        datadir=str(cfg.datadir),
        web_port=cfg.web_port,
        web_host="127.0.0.1",
        web_bind="127.0.0.1",  # health endpoint on loopback only
        topic_partitions=1,  # tables follow news.link: one partition
        table_standby_replicas=0,  # one box: a standby doubles table CPU (faust-state notes)
        broker_commit_interval=cfg.commit_interval,  # duplicates per rebalance ~ interval x rate
        broker_session_timeout=10,
        broker_heartbeat_interval=1,  # ~11 s failover, not 60 s
        # 8 MiB doubles faust throughput (local-stack notes); never below one whole message
        consumer_max_fetch_size=max(8 * 2**20, limit),
        producer_max_request_size=limit,
        value_serializer="raw",
        key_serializer="raw",
        topic_allow_declare=True,
    )
    k = settings.kafka
    raw = app.topic(k.raw_topic, partitions=k.partitions, internal=False)
    link = app.topic(k.link_topic, partitions=1, internal=True)
    enriched = app.topic(k.enriched_topic, partitions=k.partitions, internal=False)
    dlq = app.topic(k.dlq_topic, internal=False)
    members = app.Table("link-members", default=None, partitions=1)
    enricher = Enricher()
    state: dict[str, Linker] = {}

    async def dead(stage: str, event: Any, reason: str) -> None:
        msg = event.message
        letter = DeadLetter(
            stage="enrich",
            reason=f"{stage}: {reason}",
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=msg.key.decode("utf-8", "replace") if msg.key else None,
            payload=(msg.value or b"").decode("utf-8", "replace"),
            headers=_headers(msg),
        )
        await _send(dlq, None, letter.to_bytes_within(limit - 2**16), {})  # record overhead

    async def forward(
        event: Any, topic: Any, outputs: list[tuple[str, bytes, dict[str, bytes]]]
    ) -> None:
        """Send every output of one input, or, if any is too large, dead-letter the input."""
        big = max(len(value) for _, value, _ in outputs)
        if big > out_limit:
            await dead(
                "output too large",
                event,
                f"the enriched message would be {big:,} bytes, over the {out_limit:,}-byte share "
                f"of the Kafka message limit derived from NEWSPIPE_INGEST__MAX_BYTES",
            )
            return
        for key, value, headers in outputs:
            await _send(topic, key.encode(), value, headers)

    @app.agent(raw, concurrency=1)  # >1 can commit past an unfinished message (faust #606)
    async def enrich(stream: Any) -> Any:
        async for event in stream.events():
            try:
                article = RawArticle.model_validate_json(event.value)
                if len(article.body) < OFFLOAD_CHARS:
                    doc = enricher.enrich(article, utcnow())
                else:  # seconds of CPU: off the event loop, so heartbeats and commits go on
                    doc = await asyncio.to_thread(enricher.enrich, article, utcnow())
            except ValidationError as exc:
                await dead("invalid raw article", event, str(exc))
                continue
            except Exception:  # a bug on one input must not stall the partition
                log.exception("enrich failed at %s", event.message.offset)
                await dead("enrichment failed", event, traceback.format_exc(limit=3))
                continue
            await forward(event, link, [(doc.id, doc.to_bytes(), {})])

    @app.agent(link, concurrency=1)
    async def link_agent(stream: Any) -> Any:
        async for event in stream.events():
            linker = state.get("linker") or state.setdefault("linker", Linker(members))
            try:
                doc = EnrichedArticle.model_validate_json(event.value)
                decided, updates = linker.observe(doc)
            except Exception:
                log.exception("link failed at %s", event.message.offset)
                await dead("linking failed", event, traceback.format_exc(limit=3))
                continue
            await forward(
                event,
                enriched,
                [(decided.id, decided.to_bytes(), {KIND_HEADER: KIND_ARTICLE})]
                + [(u.id, u.to_bytes(), {KIND_HEADER: KIND_LINK_UPDATE}) for u in updates],
            )
            log.debug(
                "linked %s@%s %s story=%s dup=%s (+%d corrections)",
                event.message.topic,
                event.message.offset,
                decided.id[:12],
                decided.story.id[:12],
                decided.dedup.duplicate_of,
                len(updates),
            )

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def _reset(sender: Any, **kwargs: Any) -> None:
        state.pop("linker", None)  # rebuilt from the (recovered) table at the next message

    return app


class Worker(faust.Worker):
    """faust's worker, with aiokafka's per-retry lines collapsed (one outage of Kafka gave 17k
    ERROR lines): faust installs its own root handlers, so the filter is added after it did."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        collapse_repeats(logger)


def _headers(msg: Any) -> dict[str, str]:
    return {k: (v or b"").decode("utf-8", "replace") for k, v in (msg.headers or [])}


async def _send(topic: Any, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None:
    """Send, retrying a failed hand-over to the producer with capped backoff: returning without
    output would let faust commit past the input (lost); a broker that is down is waited for."""
    delay, failures = 0.5, 0
    while True:
        try:
            await topic.send(key=key, value=value, headers=headers or None)
            if failures:
                log.info(
                    "send to %s works again after %d retries", topic.get_topic_name(), failures
                )
            return
        except Exception as exc:  # aiokafka raises its own KafkaError family here
            failures += 1
            level = logging.WARNING if failures == 1 else logging.DEBUG  # one line per outage
            log.log(level, "send to %s failed (%r): retrying", topic.get_topic_name(), exc)
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)
