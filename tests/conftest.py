"""Fixtures by tier. Integration and e2e tests need the real Kafka and Elasticsearch that
`make test` starts. There (NEWSPIPE_TESTS_NEED_STACK=1) and under CI=true a missing server fails
the run; only a bare `pytest` without a stack skips those tiers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from newspipe.config import Settings
from newspipe.contract import Dedup, EnrichedArticle, Entity, RawArticle, Source, Story, doc_id
from services.enrich.dedup import signature

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("INGEST", "ENRICH", "INDEX", "NOTIFY")  # each with its metrics and health port


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_stack(settings: Settings) -> None:
    kafka_host, _, kafka_port = settings.kafka.bootstrap.split(",")[0].rpartition(":")
    es = urlparse(settings.es.url)
    missing = [
        name
        for name, ok in (
            (f"Kafka at {settings.kafka.bootstrap}", _reachable(kafka_host, int(kafka_port))),
            (f"Elasticsearch at {settings.es.url}", _reachable(es.hostname or "", es.port or 9200)),
        )
        if not ok
    ]
    if missing:
        msg = f"not running: {', '.join(missing)} (start it with `newspipe stack up`)"
        if _truthy("CI") or _truthy("NEWSPIPE_TESTS_NEED_STACK"):
            pytest.fail(msg)
        pytest.skip(msg)


def _truthy(name: str) -> bool:
    """CI systems say CI=true, CI=1 or CI=True: any of them means a missing server fails."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def unique_env(tmp: Path) -> dict[str, str]:
    """NEWSPIPE_* variables giving one test its own topics, groups, index and folders."""
    uid = uuid.uuid4().hex[:8]
    alias = f"test-{uid}-articles"  # its own template pattern: no overlap with news-articles-v*
    return {
        "NEWSPIPE_KAFKA__RAW_TOPIC": f"news.raw.{uid}",
        "NEWSPIPE_KAFKA__LINK_TOPIC": f"news.link.{uid}",
        "NEWSPIPE_KAFKA__ENRICHED_TOPIC": f"news.enriched.{uid}",
        "NEWSPIPE_KAFKA__DLQ_TOPIC": f"news.dlq.{uid}",
        "NEWSPIPE_KAFKA__ALERTS_TOPIC": f"news.alerts.{uid}",
        "NEWSPIPE_ALERT__WATCHES_INDEX": f"test-{uid}-watches",
        "NEWSPIPE_ALERT__ALERTS_INDEX": f"test-{uid}-alerts",
        "NEWSPIPE_ALERT__GROUP": f"newspipe-notify-{uid}",
        "NEWSPIPE_ES__ALIAS": alias,
        "NEWSPIPE_ES__INDEX": f"{alias}-v1",
        "NEWSPIPE_ENRICH__APP_ID": f"newspipe-enrich-{uid}",
        "NEWSPIPE_ENRICH__DATADIR": str(tmp / "faust"),
        "NEWSPIPE_ENRICH__WEB_PORT": str(_free_port()),
        "NEWSPIPE_DASHBOARD__PORT": str(_free_port()),
        **{f"NEWSPIPE_OPS__{name}_PORT": str(_free_port()) for name in SERVICES},
        "NEWSPIPE_INDEX__GROUP": f"newspipe-index-{uid}",
        "NEWSPIPE_INGEST__INBOX": str(tmp / "inbox"),
        "NEWSPIPE_INGEST__PROCESSED": str(tmp / "processed"),
        "NEWSPIPE_INGEST__REJECTED": str(tmp / "rejected"),
    }


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """A `newspipe` command run as a user would (the current environment unless `env`)."""
    return subprocess.run(
        [sys.executable, "-m", "newspipe", *args],
        env=os.environ.copy() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def topic_records(settings: Settings, topic: str) -> list[Any]:
    """Every record of a one-partition topic, from its beginning to its end now."""
    from kafka import KafkaConsumer, TopicPartition

    from newspipe.config import kafka_client_kwargs

    consumer = KafkaConsumer(**kafka_client_kwargs(settings.kafka), enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        out: list[Any] = []
        while consumer.position(tp) < end:
            for msgs in consumer.poll(timeout_ms=1000).values():
                out.extend(msgs)
        return out
    finally:
        consumer.close()


_HANDED_OUT: set[int] = set()


def _free_port() -> int:
    """A port free now and never handed out before in this test run. The kernel may give
    one port to two binds in a row once the first socket is closed (CI saw the faust web
    port and the dashboard's both get 43043), so each is remembered and not given again."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings (and environment, for subprocesses) of a fresh topic/index namespace."""
    env = unique_env(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    require_stack(settings)
    yield settings


def raw_article(body: str, title: str | None = None, path: str = "t.txt") -> RawArticle:
    """A RawArticle as ingest would publish it, for tests of the enrichment core."""
    return RawArticle(
        id=doc_id(body),
        title=title,
        body=body,
        source=Source(path=path),
        ingested_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


def linked_article(
    body: str, path: str, when: datetime, entities: list[Entity], event: dict[str, list[str]]
) -> EnrichedArticle:
    """An article as the link stage receives it, with its signature and the given evidence,
    published and ingested at `when` (link tests and bench/dedup_scale.py)."""
    sig, shingles = signature(body)
    return EnrichedArticle(
        id=doc_id(body),
        title=None,
        body=body,
        language="en",
        source=Source(path=path),
        published_at=when,
        ingested_at=when,
        enriched_at=when,
        entities=entities,
        dedup=Dedup(content_hash="", minhash=sig, shingles=shingles),
        story=Story(id=""),
        event=event,
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault suite's table (tests/e2e/test_faults.py), whatever the output mode."""
    from tests.e2e.test_faults import TABLE

    if TABLE:
        terminalreporter.section("fault table")
        columns = list(TABLE[0])
        terminalreporter.write_line(" | ".join(columns))
        for row in TABLE:
            terminalreporter.write_line(" | ".join(str(row[c]) for c in columns))
