"""A backlog replay with faults mid-stream, on the local stack: N generated articles
(bench/corpus.py) published to a fresh news.raw, `newspipe enrich` and `newspipe index` started,
then the indexer SIGKILLed and restarted (at 1/6 indexed), Elasticsearch stopped for 30 s (at
2/5), Kafka stopped for 20 s (at 2/3). Prints what was searchable, missing or extra, the dead
letters, and how many link decisions in Elasticsearch equal those of the in-process Linker on the
same articles (corrections included). `--export`: the real-expanded corpus instead, written as one
JSONL export and read back by ingest's parser (its records' ingestion instants in file order).

    .venv/bin/newspipe stack up
    .venv/bin/python bench/faults_midstream.py [--docs 3000] [--export]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import corpus  # bench/ is on the path of a bench script
import run
from kafka import KafkaConsumer, KafkaProducer

from newspipe.config import kafka_client_kwargs
from newspipe.contract import utcnow
from services.enrich.core import Enricher


def stack(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "newspipe", "stack", *args], check=True, capture_output=True
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--export", action="store_true", help="the real-expanded corpus as one JSONL")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newspipe-faults-"))
    if args.export:
        real = run.load(corpus.write("real", args.docs, tmp / "corpus"))
        docs = run.first_of_each(run.load_export(real, tmp / "export.jsonl"))
    else:
        docs = run.load(corpus.write("generated", args.docs, tmp / "corpus"))
    settings = run.phase_env(tmp, "faults")
    producer = KafkaProducer(**kafka_client_kwargs(settings.kafka), acks="all", linger_ms=20)
    for raw in docs:
        producer.send(settings.kafka.raw_topic, key=raw.id.encode(), value=raw.to_bytes())
    producer.flush()
    producer.close()
    folder = tmp / "faults"
    services = run.Services(folder, [("enrich", {}), ("index", {})])
    ids = {d.id for d in docs}
    faults = [
        (len(ids) // 6, "SIGKILL the indexer, restart it 3 s later"),
        (len(ids) * 2 // 5, "Elasticsearch down 30 s"),
        (len(ids) * 2 // 3, "Kafka down 20 s"),
    ]
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < 120 + len(ids) / 2:
            try:
                n = run.count(settings)
            except Exception:  # Elasticsearch away: that is one of the faults
                n = -1
            if faults and n >= faults[0][0]:
                _, what = faults.pop(0)
                print(f"{time.perf_counter() - start:6.1f} s, {n} indexed: {what}", flush=True)
                if what.startswith("SIGKILL"):
                    services.procs["index"].send_signal(signal.SIGKILL)
                    services.procs["index"].wait()
                    time.sleep(3)
                    services.procs["index"] = subprocess.Popen(
                        [sys.executable, "-m", "newspipe", "index"],
                        stdout=(folder / "index-restarted.log").open("ab"),
                        stderr=subprocess.STDOUT,
                    )
                else:
                    server = "elasticsearch" if what.startswith("Elastic") else "kafka"
                    stack("down", "--only", server)
                    time.sleep(30 if server == "elasticsearch" else 20)
                    stack("up")
            elif not faults and n >= len(ids):
                break
            time.sleep(0.5)
        found = run.settled_decisions(settings)  # corrections come after the last article
    finally:
        services.stop()
    letters = list(
        KafkaConsumer(
            settings.kafka.dlq_topic,
            **kafka_client_kwargs(settings.kafka),
            auto_offset_reset="earliest",
            consumer_timeout_ms=5000,
        )
    )
    enricher = Enricher()
    expected = run.linked_in_order([enricher.enrich(raw, utcnow()) for raw in docs])
    same = sum(found.get(i) == v for i, v in expected.items())
    print(
        f"articles {len(ids)}: searchable {len(found)}, missing {len(ids - found.keys())}, "
        f"extra {len(found.keys() - ids)}, dead letters {len(letters)}"
    )
    print(f"link decisions equal to the in-process Linker's: {same}/{len(ids)}")
    print(f"{time.perf_counter() - start:.0f} s; logs in {folder}")


if __name__ == "__main__":
    try:
        main()
    finally:  # the phases' topics and indices: the bench runs on the user's stack
        run.forget_phases()
