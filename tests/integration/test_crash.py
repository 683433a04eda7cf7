"""Kill -9 the indexer and the enrich worker mid-stream, restart them: every article ends up
indexed exactly once (no loss; ids make re-processing an overwrite)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer

from newspipe.clients import es_client
from newspipe.config import Settings, kafka_client_kwargs
from newspipe.contract import RawArticle, Source, doc_id
from newspipe.tools import bootstrap
from tests.conftest import ROOT

N = 300


def _articles() -> list[RawArticle]:
    seeds = [p.read_text("utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    out = []
    for i in range(N):
        body = f"Bulletin {i}. " + seeds[i % len(seeds)][: 400 + i] + f"\nReport number {i}."
        out.append(
            RawArticle(
                id=doc_id(body),
                title=f"Report {i}",
                body=body,
                source=Source(path=f"r{i}.txt"),
                ingested_at=t0 + timedelta(seconds=i),
            )
        )
    return out


def _start(name: str, tmp: Path) -> subprocess.Popen[bytes]:
    log = (tmp / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "newspipe", name],
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _count(settings: Settings) -> int:
    es = es_client(settings.es)
    es.indices.refresh(index=settings.es.alias)
    return int(es.count(index=settings.es.alias)["count"])


def test_kill_and_restart_loses_nothing(isolated: Settings, tmp_path: Path) -> None:
    s = isolated
    bootstrap.prepare(s)
    producer = KafkaProducer(**kafka_client_kwargs(s.kafka), acks="all", linger_ms=5)
    for art in _articles():
        producer.send(s.kafka.raw_topic, key=art.id.encode(), value=art.to_bytes())
    producer.flush()
    enrich, index = _start("enrich", tmp_path), _start("index", tmp_path)
    deadline = time.monotonic() + 90
    while _count(s) < 20 and time.monotonic() < deadline:
        time.sleep(0.2)
    killed_at = _count(s)
    assert 0 < killed_at < N, "the kill must land mid-stream"
    for proc in (index, enrich):
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    enrich, index = _start("enrich", tmp_path), _start("index", tmp_path)
    try:
        deadline = time.monotonic() + 150  # a restarted faust worker may wait out the session
        while _count(s) < N and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _count(s) == N
        ids = {a.id for a in _articles()}
        es = es_client(s.es)
        found = {
            h["_id"] for h in es.search(index=s.es.alias, size=N + 10, source=False)["hits"]["hits"]
        }
        assert found == ids
    finally:
        for proc in (enrich, index):
            proc.terminate()
            proc.wait(timeout=60)
