"""Enrich workers on a 3-partition news.raw: a copy and its original published to different
partitions, the copy first, end up linked in Elasticsearch (the original is the earliest seen,
two workers); a burst of real articles is linked as in ingestion order whatever order the
partitions reach the link stage in (one worker, as `newspipe run` starts it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer

from newspipe.clients import es_client
from newspipe.config import Settings, kafka_client_kwargs
from newspipe.contract import RawArticle, Source, doc_id
from newspipe.tools import bootstrap
from newspipe.tools.offline import enrich_files
from services.enrich.knowledge import read_yaml
from services.ingest.parse import Rejected, parse
from tests.conftest import ROOT, _free_port

SEED = ROOT / "seeds" / "001_7a46a5f02b118931.txt"


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "newspipe", *args], env=env, stdout=out, stderr=subprocess.STDOUT
    )


@pytest.fixture
def workers(isolated: Settings, tmp_path: Path) -> Iterator[Settings]:
    yield from _pipeline(isolated, tmp_path, 2)


@pytest.fixture
def one_worker(isolated: Settings, tmp_path: Path) -> Iterator[Settings]:
    yield from _pipeline(isolated, tmp_path, 1)


def _pipeline(isolated: Settings, tmp_path: Path, count: int) -> Iterator[Settings]:
    """The indexer and `count` enrich workers, yielded once the workers have joined."""
    bootstrap.prepare(isolated)
    procs = [_start(["index"], os.environ.copy(), tmp_path / "index.log")]
    for n in range(1, count + 1):
        env = {
            **os.environ,
            "NEWSPIPE_ENRICH__DATADIR": str(tmp_path / f"w{n}"),
            "NEWSPIPE_ENRICH__WEB_PORT": str(_free_port()),
        }
        procs.append(_start(["enrich"], env, tmp_path / f"enrich{n}.log"))
    admin = KafkaAdminClient(**kafka_client_kwargs(isolated.kafka))
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            group = admin.describe_groups([isolated.enrich.app_id])[isolated.enrich.app_id]
            if group["group_state"] == "Stable" and len(group["members"]) == count:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"{count} enrich workers did not join: {group}")
        yield isolated
    finally:
        admin.close()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


def test_copy_and_original_on_different_partitions_are_linked(workers: Settings) -> None:
    s = workers
    body = SEED.read_text("utf-8")
    copy = "PARIS, June 2 (Agency) - " + body + "\nRead more: Libya news on our site."
    t0 = datetime(2023, 6, 2, 9, 0, tzinfo=UTC)
    original = RawArticle(
        id=doc_id(body), title=None, body=body, source=Source(path="a.txt"), ingested_at=t0
    )
    late_copy = RawArticle(
        id=doc_id(copy),
        title="JMC in Paris",
        body=copy,
        source=Source(path="b.txt"),
        ingested_at=t0 + timedelta(minutes=5),
    )
    producer = KafkaProducer(**kafka_client_kwargs(s.kafka), acks="all")
    # The copy reaches the pipeline first, on another partition than its original.
    producer.send(
        s.kafka.raw_topic, key=late_copy.id.encode(), value=late_copy.to_bytes(), partition=2
    ).get(timeout=30)
    time.sleep(2)
    producer.send(
        s.kafka.raw_topic, key=original.id.encode(), value=original.to_bytes(), partition=0
    ).get(timeout=30)
    producer.close()

    es = es_client(s.es)
    deadline = time.monotonic() + 60
    docs: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline:
        es.indices.refresh(index=s.es.alias)
        hits = es.search(index=s.es.alias, query={"match_all": {}})["hits"]["hits"]
        docs = {h["_id"]: h["_source"] for h in hits}
        if len(docs) == 2 and docs[late_copy.id]["dedup"]["duplicate_of"] == original.id:  # type: ignore[index]
            break
        time.sleep(0.5)
    assert set(docs) == {original.id, late_copy.id}
    assert docs[original.id]["dedup"]["duplicate_of"] is None  # type: ignore[index]
    assert docs[late_copy.id]["dedup"]["duplicate_of"] == original.id  # type: ignore[index]
    assert docs[late_copy.id]["story"]["id"] == original.id  # type: ignore[index]


def test_a_burst_of_real_articles_is_linked_as_in_ingestion_order(one_worker: Settings) -> None:
    """Stories depend on the order the link stage sees articles in (an article joins the best
    story among those that exist). news.raw's three partitions reach it interleaved; the link
    stage merges them back (services/enrich/reorder.py), so the pipeline decides what
    `newspipe enrich` and `newspipe eval` decide for the same files in ingestion order."""
    s = one_worker
    files = [  # tune parts: look-alike events, re-edited wire copies, stories across languages
        ROOT / item["file"]
        for corpus in ("real-events", "real-wire", "real-xlang")
        for item in read_yaml((ROOT / "tests/data" / corpus / "labels.yaml").read_text())[
            "articles"
        ]
    ]
    files.sort(key=lambda p: p.name)
    raws = []
    for path in files:
        parsed = parse(path.name, path.read_bytes(), datetime.now(UTC))
        assert not isinstance(parsed, Rejected), path
        raws += parsed.articles
    expected = {  # what `newspipe enrich` decides for the same files in the same order
        d.id: (d.story.id, d.dedup.duplicate_of) for d in enrich_files(files)[0]
    }
    stories = {story for story, _ in expected.values()}
    assert len(stories) < len(expected) - 20  # the corpus has stories to get wrong

    producer = KafkaProducer(**kafka_client_kwargs(s.kafka), acks="all")
    for raw in raws:  # all at once, keyed by id as ingest sends them
        producer.send(s.kafka.raw_topic, key=raw.id.encode(), value=raw.to_bytes())
    producer.flush(timeout=30)
    producer.close()

    es = es_client(s.es)
    got: dict[str, tuple[str, str | None]] = {}
    deadline, steady = time.monotonic() + 120, 0
    while time.monotonic() < deadline and steady < 3:
        es.indices.refresh(index=s.es.alias)
        hits = es.search(index=s.es.alias, query={"match_all": {}}, size=1000)["hits"]["hits"]
        now = {
            h["_id"]: (h["_source"]["story"]["id"], h["_source"]["dedup"]["duplicate_of"])
            for h in hits
        }
        steady = steady + 1 if now == got and len(now) == len(expected) else 0
        got = now
        time.sleep(1)
    assert len(got) == len(expected)
    wrong = {mid: (got[mid], want) for mid, want in expected.items() if got.get(mid) != want}
    assert wrong == {}
