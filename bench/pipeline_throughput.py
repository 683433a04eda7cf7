"""Throughput of the whole pipeline on the local stack: N articles (corpus texts, each made
distinct) are published to a fresh news.raw, then one `newspipe enrich` worker (faust: enrich
agent + link agent) and one `newspipe index` are started. Prints the time to the first indexed
document, the steady rate from first to last (docs/s), the workers' peak RSS, and, as the
baseline measured in the same run, the rate of the same enrich + link work in-process (no
Kafka, faust or Elasticsearch), with the ratio between the two.

    .venv/bin/newspipe stack up && .venv/bin/python bench/pipeline_throughput.py [--docs 3000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer

from newspipe.clients import es_client
from newspipe.config import Settings, kafka_client_kwargs
from newspipe.contract import RawArticle, Source, doc_id, utcnow
from newspipe.tools import bootstrap
from services.enrich.core import Enricher
from services.enrich.link import Linker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' isolation helpers: their own topics, index, app id
from enrich_throughput import corpus  # noqa: E402 (bench/ is on the path of a bench script)

from tests.conftest import require_stack, unique_env  # noqa: E402


def articles(n: int) -> list[RawArticle]:
    texts = corpus()
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        src = texts[i % len(texts)]
        body = f"{src.body}\n\nBulletin {i}."  # a distinct article (and id) per message
        out.append(
            src.model_copy(
                update={
                    "id": doc_id(body),
                    "body": body,
                    "source": Source(path=f"bench-{i}.txt"),
                    "ingested_at": t0 + timedelta(seconds=i),
                }
            )
        )
    return out


def in_process_rate(docs: list[RawArticle]) -> float:
    enricher, linker = Enricher(), Linker({})
    start = time.perf_counter()
    for raw in docs:
        linker.observe(enricher.enrich(raw, utcnow()))
    return len(docs) / (time.perf_counter() - start)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return float("nan")


def count(settings: Settings) -> int:
    es = es_client(settings.es)
    es.indices.refresh(index=settings.es.alias)
    return int(es.count(index=settings.es.alias)["count"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=3000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newspipe-pipeline-bench-"))
    os.environ.update(unique_env(tmp))
    settings = Settings()
    require_stack(settings)
    bootstrap.prepare(settings)
    docs = articles(args.docs)
    producer = KafkaProducer(**kafka_client_kwargs(settings.kafka), acks="all", linger_ms=20)
    for raw in docs:
        producer.send(settings.kafka.raw_topic, key=raw.id.encode(), value=raw.to_bytes())
    producer.flush()
    producer.close()
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "newspipe", name],
            stdout=(tmp / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        for name in ("enrich", "index")
    }
    started = time.perf_counter()
    first: float | None = None
    last: float | None = None
    first_n = 0
    peaks = {name: 0.0 for name in procs}
    try:
        deadline = started + 60 + args.docs / 5  # fails loudly below 5 docs/s
        while time.perf_counter() < deadline:
            n = count(settings)
            now = time.perf_counter()
            peaks = {name: max(peaks[name], peak_rss_mb(p.pid)) for name, p in procs.items()}
            if n and first is None:
                first, first_n = now, n
            if n >= args.docs:
                last = now
                break
            time.sleep(0.5)
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(timeout=60)
    if first is None or last is None:
        raise SystemExit(f"only {count(settings)} of {args.docs} indexed in time; logs in {tmp}")
    steady = (args.docs - first_n) / max(1e-9, last - first)
    baseline = in_process_rate(docs[: min(len(docs), 1000)])
    print(f"articles: {args.docs:,} published before the workers started")
    print(f"first document indexed after {first - started:.1f} s (worker start, faust rebalance)")
    print(f"pipeline, first to last: {steady:,.0f} docs/s")
    print(
        f"same enrich + link work in-process: {baseline:,.0f} docs/s "
        f"(ratio pipeline/in-process {steady / baseline:.2f})"
    )
    print(f"peak RSS: enrich worker {peaks['enrich']:.0f} MB, indexer {peaks['index']:.0f} MB")


if __name__ == "__main__":
    main()
