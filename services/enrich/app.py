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
import time
import traceback
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol

import faust
from pydantic import ValidationError

from newspipe.config import Settings, kafka_ssl_context, message_max_bytes
from newspipe.contract import (
    INGESTED_HEADER,
    KIND_ARTICLE,
    KIND_HEADER,
    KIND_LINK_UPDATE,
    DeadLetter,
    EnrichedArticle,
    RawArticle,
    ingested_header,
    utcnow,
)
from newspipe.obs import FIRST_BACKOFF, MAX_BACKOFF, collapse_repeats, use_format
from newspipe.ops import (
    CONSUMED,
    DEAD_LETTERS,
    ENRICH_SECONDS,
    HEALTH,
    LINK_SECONDS,
    PRODUCED,
)
from services.enrich.cold import ColdStores
from services.enrich.core import Enricher
from services.enrich.link import Cold, Linker
from services.enrich.reorder import Reorder

log = logging.getLogger("newspipe.enrich")
# Enriching takes ~6 s per MB of text on one core: a 4 MB article would block faust's loop for 30 s,
# past the 10 s session timeout (the worker drops out of its group). Articles this long (real ones
# are under ~30k characters) are enriched in a thread; the per-message hop is not worth it below.
OFFLOAD_CHARS = 64_000
# Data fetched per partition and request. faust hands the agents one partition's fetched records
# after another, so a fetch of 17 MB of news.raw (the message limit, as it was) held the link
# agent's news.link records back until thousands of raw articles were enriched: on a replay its
# first message came 15 s after the worker was ready (4.5 s with 1 MiB, ~200 articles a fetch).
# A message larger than this still comes whole (Kafka returns the first batch of a partition
# whatever its size, KIP-74): tests/e2e/test_faults.py sends articles up to the limit through.
FETCH_BYTES = 2**20
# The news.raw partition an enriched article came from, for the link stage's merge (reorder.py).
SOURCE_HEADER = "raw-partition"
ORIGIN_HEADER = "enrich-worker"  # which worker sent it (Stages.caught_up, Stages.coming)


def _broker(settings: Settings) -> tuple[str, Any]:
    k = settings.kafka
    url = ";".join(f"kafka://{h}" for h in k.bootstrap.split(","))
    context = kafka_ssl_context(k)  # the CA and client certificate kafka-python uses too
    creds: Any = None
    if k.sasl_mechanism and k.sasl_password is not None:
        creds = faust.SASLCredentials(
            username=k.sasl_username,
            password=k.sasl_password.get_secret_value(),
            mechanism=k.sasl_mechanism,
            ssl_context=context,
        )
    elif context is not None:
        creds = faust.SSLCredentials(context)
    return url, creds


class Output(Protocol):
    async def send(self, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None: ...


class RetryingTopic:
    """A faust topic whose send is retried with the one backoff policy (obs): returning without
    output would let faust commit past the input (lost); a broker that is down is waited for."""

    def __init__(self, topic: Any) -> None:
        self.topic = topic

    async def send(self, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None:
        delay, failures = FIRST_BACKOFF, 0
        name = self.topic.get_topic_name()
        while True:
            try:
                await self.topic.send(key=key, value=value, headers=headers or None)
                if failures:
                    log.info("send to %s works again after %d retries", name, failures)
                return
            except Exception as exc:  # aiokafka raises its own KafkaError family here
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG  # one line an outage
                log.log(level, "send to %s failed (%r): retrying", name, exc)
                await asyncio.sleep(delay)
                delay = min(MAX_BACKOFF, delay * 2)


class Stages:
    """The bodies of the two agents, one input message each, with their outputs injected (faust
    topics in the app; recorders in the agent tests). The linker reads the members table; it is
    built at the first message and dropped at every rebalance (the table may have changed hands
    and been recovered from its changelog)."""

    def __init__(
        self,
        enricher: Enricher,
        members: MutableMapping[str, Any],
        outputs: dict[str, Output],
        limit: int,
        cold: Callable[[], Cold | None] = lambda: None,
        reorder: Reorder[Any] | None = None,
    ) -> None:
        """`cold`: makes the linker's cold store, fresh for each linker (none: all in memory).
        `reorder`: holds the link stage's input to merge it in ingestion order (none: as it
        comes)."""
        self.enricher, self.members, self.outputs, self.limit = enricher, members, outputs, limit
        self.cold = cold
        self.reorder: Reorder[Any] = reorder or Reorder(settle=0)
        self.highwater: Callable[[Any], int | None] = lambda tp: None  # the consumer's, cached
        self._read: tuple[Any, int] | None = None  # the last news.link message read: (tp, offset)
        # This worker's enrich agent's messages to news.link: sent, and read back by its link
        # agent (the consumer fetches news.link again only once it has handed out what it
        # fetched of news.raw, so its idea of news.link's end can be a second old).
        self.origin = uuid.uuid4().hex.encode()
        self._sent: Counter[int] = Counter()  # news.raw partition -> sent to news.link
        self._got: Counter[int] = Counter()  # ...and read back
        # news.raw: the partitions the consumer holds, and the last offset enriched of each
        self.raw_assignment: Callable[[], set[Any]] = set
        self.read_offset: Callable[[Any], int | None] = lambda tp: None  # the consumer's
        self._enriched: dict[Any, int] = {}
        self._linking = asyncio.Lock()  # the agent and its ticker take turns
        # An output above 3/4 of the limit is dead-lettered instead of sent: the letter that may
        # later wrap it (index stage) escapes its JSON and adds a reason, and must still fit.
        self.out_limit = limit * 3 // 4
        self._linker: Linker | None = None
        self._generation = 0  # raised at every rebalance: a linker built before it is stale

    async def linker(self) -> Linker:
        """The linker, built off the event loop at the first message after a start or a
        rebalance: indexing a large members table takes seconds to minutes, and a loop that
        does not turn misses its heartbeats (the worker would leave its group, a rebalance
        would follow, and the build would start over)."""
        while self._linker is None:
            generation = self._generation
            linker = await asyncio.to_thread(self._build)
            if generation == self._generation:
                self._linker = linker
        return self._linker

    def _build(self) -> Linker:
        started = time.perf_counter()
        linker = Linker(self.members, cold=self.cold())
        log.info(
            "link index built from %d members in %.1f s",
            len(linker.ids) // 32,
            time.perf_counter() - started,
        )
        return linker

    def reset(self) -> None:
        self._linker = None
        self._generation += 1
        self.reorder.clear()  # not acknowledged: faust delivers them again after the rebalance
        self._sent.clear()
        self._got.clear()
        self._enriched.clear()

    async def enrich(self, event: Any) -> None:
        await self._enrich(event)
        self._enriched[event.message.tp] = event.message.offset

    async def _enrich(self, event: Any) -> None:
        CONSUMED.labels("enrich").inc()
        try:
            article = RawArticle.model_validate_json(event.value)
            started = time.perf_counter()
            if len(article.body) < OFFLOAD_CHARS:
                doc = self.enricher.enrich(article, utcnow())
            else:  # seconds of CPU: off the event loop, so heartbeats and commits go on
                doc = await asyncio.to_thread(self.enricher.enrich, article, utcnow())
            ENRICH_SECONDS.observe(time.perf_counter() - started)
        except ValidationError as exc:
            await self.dead("invalid raw article", event, str(exc))
            return
        except Exception:  # a bug on one input must not stall the partition
            log.exception("enrich failed at %s", event.message.offset)
            await self.dead("enrichment failed", event, traceback.format_exc(limit=3))
            return
        source = {SOURCE_HEADER: str(event.message.partition).encode(), ORIGIN_HEADER: self.origin}
        if await self.forward(event, "link", [(doc.id, doc.to_bytes(), source)]):
            self._sent[event.message.partition] += 1

    async def link_stream(self, stream: Any) -> None:
        """The link agent: each article is held until the merge lets it go (reorder.py), linked,
        then acknowledged, so that an article held or half-done is delivered again after a
        crash, never committed unlinked."""
        stream.enable_acks = False
        # what waits for the clock is linked by a ticker (none when nothing is held back)
        ticker = asyncio.create_task(self._tick()) if self.reorder.settle > 0 else None
        try:
            async for event in stream.events():
                await self.arrive(event, stream)
        finally:
            if ticker is not None:
                ticker.cancel()

    async def arrive(self, event: Any, stream: Any) -> None:
        CONSUMED.labels("link").inc()
        try:
            doc = EnrichedArticle.model_validate_json(event.value)
        except Exception:
            log.exception("link failed at %s", event.message.offset)
            await self.dead("linking failed", event, traceback.format_exc(limit=3))
            await stream.ack(event)
            return
        self._read = (event.message.tp, event.message.offset)
        partition = _source(event)
        if partition is not None and _header(event, ORIGIN_HEADER) == self.origin:
            self._got[partition] += 1
        key = (doc.ingested_at.isoformat(), doc.id)
        item = (event, doc, stream, self._generation)
        self.reorder.push(partition, key, item, time.monotonic())
        await self.release()

    async def _tick(self) -> None:
        pause = self.reorder.settle / 5
        while True:
            await asyncio.sleep(pause)
            try:
                await self.release()
            except Exception:  # the agent's next arrival tries again; the held are not acked
                log.exception("releasing held articles failed")

    async def release(self) -> None:
        """Link and acknowledge what the merge lets go, in its order."""
        async with self._linking:
            coming = self.coming() if self.reorder.held else {}
            ready = self.reorder.ready(time.monotonic(), self.caught_up(), coming)
            for event, doc, stream, generation in ready:
                if generation != self._generation:
                    continue  # held across a rebalance: faust delivers it again
                # The members table writes its changelog on the partition of the event being
                # processed, which faust reads from a context variable set while a stream
                # iterates: set it to this article's event, also when the ticker links it.
                faust.streams._current_event.set(weakref.ref(event))
                await self.link(event, doc)
                await stream.ack(event)

    def caught_up(self) -> bool:
        """Has the link agent read every news.link message there is, as far as this worker can
        tell: every one its own enrich agent sent, and up to the end its consumer last saw?"""
        if any(self._got[p] < n for p, n in self._sent.items()):
            return False
        if self._read is None:
            return True
        tp, offset = self._read
        try:
            end = self.highwater(tp)
        except Exception:  # not assigned any more (a rebalance): decide on time
            return True
        return end is None or offset + 1 >= end

    def coming(self) -> dict[int, bool]:
        """Of the news.raw partitions this worker enriches: partition -> is an article of it on
        its way to the link agent (not yet enriched as far as the consumer knows, or sent and
        not yet read back)? Before the agent has enriched anything of a partition, what the
        consumer has read of it (from its committed offset on) tells."""
        try:
            ends = {tp: (self.highwater(tp), self.read_offset(tp)) for tp in self.raw_assignment()}
        except Exception:  # the consumer is being replaced (rebalance, stop)
            return {}
        return {
            tp.partition: (
                self._enriched[tp] + 1 < end if tp in self._enriched else end > (read or 0)
            )
            or self._got[tp.partition] < self._sent[tp.partition]
            for tp, (end, read) in ends.items()
            if end is not None
        }

    async def link(self, event: Any, doc: EnrichedArticle) -> None:
        try:
            linker = await self.linker()
            started = time.perf_counter()
            decided, updates = linker.observe(doc)
            LINK_SECONDS.observe(time.perf_counter() - started)
        except Exception:
            log.exception("link failed at %s", event.message.offset)
            await self.dead("linking failed", event, traceback.format_exc(limit=3))
            return
        await self.forward(
            event,
            "enriched",
            [
                (
                    decided.id,
                    decided.to_bytes(),
                    {
                        KIND_HEADER: KIND_ARTICLE,
                        INGESTED_HEADER: ingested_header(decided.ingested_at),
                    },
                )
            ]
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

    async def dead(self, stage: str, event: Any, reason: str) -> None:
        letter = DeadLetter.of("enrich", f"{stage}: {reason}", event.message)
        await self.outputs["dlq"].send(None, letter.to_bytes_within(self.limit), {})
        DEAD_LETTERS.labels("enrich", stage).inc()

    async def forward(
        self, event: Any, output: str, messages: list[tuple[str, bytes, dict[str, bytes]]]
    ) -> bool:
        """Send every output of one input, or, if any is too large, dead-letter the input
        (False)."""
        big = max(len(value) for _, value, _ in messages)
        if big > self.out_limit:
            await self.dead(
                "output too large",
                event,
                f"the enriched message would be {big:,} bytes, over the {self.out_limit:,}-byte "
                "share of the Kafka message limit derived from NEWSPIPE_INGEST__MAX_BYTES",
            )
            return False
        for key, value, headers in messages:
            await self.outputs[output].send(key.encode(), value, headers)
        PRODUCED.labels("enrich", output).inc(len(messages))
        return True


def create_app(settings: Settings) -> faust.App:
    return build(settings)[0]


def build(settings: Settings) -> tuple[faust.App, Stages]:
    """The app with its two agents, and their Stages (the agent tests swap its outputs)."""
    app = faust.App(settings.enrich.app_id, **_app_config(settings))
    k = settings.kafka
    raw = app.topic(k.raw_topic, partitions=k.partitions, internal=False)
    link = app.topic(k.link_topic, partitions=1, internal=True)
    enriched = app.topic(k.enriched_topic, partitions=k.partitions, internal=False)
    dlq = app.topic(k.dlq_topic, internal=False)
    members = app.Table("link-members", default=None, partitions=1, options=table_rocksdb())
    outputs: dict[str, Output] = {
        "link": RetryingTopic(link),
        "enriched": RetryingTopic(enriched),
        "dlq": RetryingTopic(dlq),
    }
    cold = ColdStores(settings.enrich.datadir / f"{settings.enrich.app_id}-link-index")
    cfg = settings.enrich
    order = Reorder[Any](cfg.reorder_settle, cfg.reorder_limit, k.partitions)
    stages = Stages(Enricher(), members, outputs, message_max_bytes(settings.ingest), cold, order)
    stages.highwater = lambda tp: app.consumer.highwater(tp)
    # faust's next offset to read of a partition (its committed offset after an assignment),
    # then the last offset it handed to an agent: no public accessor gives it
    stages.read_offset = lambda tp: app.consumer._read_offset.get(tp)  # type: ignore[attr-defined]
    stages.raw_assignment = lambda: {
        tp for tp in app.consumer.assignment() if tp.topic == k.raw_topic
    }

    async def enrich(stream: Any) -> None:
        async for event in stream.events():
            await stages.enrich(event)

    async def link_agent(stream: Any) -> None:
        await stages.link_stream(stream)

    async def reset(sender: Any, **kwargs: Any) -> None:
        stages.reset()

    # concurrency 1: with more, faust can commit past an unfinished message (faust #606)
    app.agent(raw, name="enrich", concurrency=1)(enrich)
    app.agent(link, name="link", concurrency=1)(link_agent)
    app.on_rebalance_complete.connect(reset)  # type: ignore[arg-type]

    async def beat() -> None:  # liveness: the event loop turns
        HEALTH.beat()

    app.timer(1.0, name="liveness")(beat)
    HEALTH.checks["consuming"] = lambda: _not_consuming(app)
    return app, stages


def _header(event: Any, name: str) -> bytes | None:
    headers = event.message.headers or {}
    pairs = headers.items() if isinstance(headers, dict) else headers
    return next((v for k, v in pairs if k == name), None)


def _source(event: Any) -> int | None:
    """The news.raw partition the enrich agent wrote in the message (None: not written)."""
    value = _header(event, SOURCE_HEADER)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def table_rocksdb() -> dict[str, int]:
    """rocksdb settings of the members table. faust's defaults let it use a 2 GB read cache and
    three 64 MB write buffers, so the worker's RSS would grow with the archive it reads; the
    decoded-record cache in front of the table (members.CACHE_RECORDS) serves the hot reads."""
    return {  # a new dict each time: faust's store takes keys out of the one it is given
        "write_buffer_size": 8 * 2**20,
        "max_write_buffer_number": 2,
        "block_cache_size": 16 * 2**20,
    }


def _not_consuming(app: faust.App) -> str | None:
    """Readiness: the worker holds partitions and is not rebalancing (read from the endpoint's
    thread: two attributes, no call into the consumer)."""
    consumer = app._consumer  # not `app.consumer`, which would create one from this thread
    if consumer is None:
        return "starting"
    if app.rebalancing:
        return "rebalancing"
    if not consumer.assignment():
        return "no partition assigned yet"
    return None


def _app_config(settings: Settings) -> dict[str, Any]:
    url, creds = _broker(settings)
    cfg, limit = settings.enrich, message_max_bytes(settings.ingest)
    return {
        "broker": url,
        "broker_credentials": creds,
        "store": cfg.store,
        "datadir": str(cfg.datadir),
        "web_port": cfg.web_port,
        "web_host": "127.0.0.1",
        "web_bind": "127.0.0.1",  # health endpoint on loopback only
        "topic_partitions": 1,  # tables follow news.link: one partition
        "table_standby_replicas": 0,  # one box: a standby doubles table CPU (faust-state notes)
        "broker_commit_interval": cfg.commit_interval,  # duplicates per rebalance ~ interval x rate
        "broker_session_timeout": 10,
        "broker_heartbeat_interval": 1,  # ~11 s failover, not 60 s
        "consumer_max_fetch_size": FETCH_BYTES,
        "producer_max_request_size": limit,
        "value_serializer": "raw",
        "key_serializer": "raw",
        "topic_allow_declare": True,
    }


class Worker(faust.Worker):
    """faust's worker, with aiokafka's per-retry lines collapsed (one outage of Kafka gave 17k
    ERROR lines): faust installs its own root handlers, so the filter is added after it did."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        use_format(logger)
        collapse_repeats(logger)
