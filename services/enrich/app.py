"""The enrich service: a faust app of two agents.

  news.raw (N partitions) --enrich--> news.link (1 partition) --link--> news.enriched (+ news.dlq)

`enrich` is stateless and scales with news.raw's partitions across workers. `link` needs the whole
archive in one place to link copies and stories across partitions, so news.link has one partition
and its state is a table with a compacted changelog (rocksdb locally): whichever worker owns it
has every member, and a restarted or replacing worker recovers it from the changelog.
Failures never crash an agent (faust would ack and skip, or loop): they go to news.dlq
with the reason.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import faust
from pydantic import ValidationError

from newspipe.config import Settings
from newspipe.contract import (
    KIND_ARTICLE,
    KIND_HEADER,
    KIND_LINK_UPDATE,
    DeadLetter,
    EnrichedArticle,
    RawArticle,
    utcnow,
)
from services.enrich.core import Enricher
from services.enrich.link import Linker

log = logging.getLogger("newspipe.enrich")


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
        consumer_max_fetch_size=8 * 1024 * 1024,  # doubles faust throughput (local-stack notes)
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
        await dlq.send(
            value=DeadLetter(
                stage="enrich",
                reason=f"{stage}: {reason}",
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                key=msg.key.decode("utf-8", "replace") if msg.key else None,
                payload=(msg.value or b"").decode("utf-8", "replace"),
            ).to_bytes()
        )

    @app.agent(raw, concurrency=1)  # >1 can commit past an unfinished message (faust #606)
    async def enrich(stream: Any) -> Any:
        async for event in stream.events():
            try:
                article = RawArticle.model_validate_json(event.value)
                doc = enricher.enrich(article, utcnow())
            except ValidationError as exc:
                await dead("invalid raw article", event, str(exc))
                continue
            except Exception:  # a bug on one input must not stall the partition
                log.exception("enrich failed at %s", event.message.offset)
                await dead("enrichment failed", event, traceback.format_exc(limit=3))
                continue
            await link.send(key=doc.id.encode(), value=doc.to_bytes())

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
            await enriched.send(
                key=decided.id.encode(),
                value=decided.to_bytes(),
                headers={KIND_HEADER: KIND_ARTICLE},
            )
            for upd in updates:
                await enriched.send(
                    key=upd.id.encode(),
                    value=upd.to_bytes(),
                    headers={KIND_HEADER: KIND_LINK_UPDATE},
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
