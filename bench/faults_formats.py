"""Every input format through the real services with faults, on the local stack: the samples
(tests/data/formats/samples), a saved page per real article and two JSON Lines exports built from
real articles are dropped into the inbox while Kafka is down (20 s), then the second export is
renamed in and ingest is SIGKILLed while it publishes, and restarted. Prints what became
searchable against what the files hold (parsed in process), what was put aside, dead letters,
and whether any article was indexed twice.

    .venv/bin/newspipe stack up && .venv/bin/python bench/faults_formats.py [--records 2000]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import run  # bench/ is on the path of a bench script
from elasticsearch import helpers as es_helpers
from kafka import KafkaConsumer, TopicPartition

from newspipe.clients import es_client
from newspipe.config import kafka_client_kwargs
from services.ingest.parse import Parsed, parse

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "formats" / "samples"
SAMPLE_TITLE = "Joint Military Commission agrees mine-clearing plan for the coastal road"


def stack(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "newspipe", "stack", *args], check=True, capture_output=True
    )


def real_texts() -> list[tuple[str, str]]:
    texts = []
    for f in sorted((ROOT / "tests" / "data").glob("real*/**/*.txt")):
        out = parse(f.name, f.read_bytes(), datetime.now(UTC))
        if isinstance(out, Parsed):
            texts.extend((a.title or "", a.body) for a in out.articles)
    return texts


def export(texts: list[tuple[str, str]], n: int, tag: str) -> bytes:
    """n records (each a real article with its own closing line, so each is its own document)."""
    lines = [
        orjson.dumps(
            {
                "title": f"{texts[i % len(texts)][0]} ({tag} {i})",
                "maintext": f"{texts[i % len(texts)][1]}\n\nExport {tag}, record {i}.",
                "url": f"https://www.libyaobserver.ly/{tag}/{i}",
                "date_publish": "2021-07-30 10:00:00",
            }
        )
        for i in range(n)
    ]
    lines.insert(n // 2, b'{"title": "a record cut by the scraper", ')  # one bad line
    return b"\n".join(lines) + b"\n"


def pages(texts: list[tuple[str, str]], folder: Path) -> None:
    template = (SAMPLES / "sirte-jmc-page.html").read_text("utf-8")
    start = template.index('<div class="entry-content">')
    end = template.index("</div>", start)
    for i, (title, body) in enumerate(texts[:60]):
        paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        page = template[:start] + f'<div class="entry-content">{paragraphs}' + template[end:]
        page = page.replace(SAMPLE_TITLE, title or f"Article {i}")
        (folder / f"page-{i:03d}.html").write_text(page, "utf-8")


def expected_ids(folder: Path) -> set[str]:
    ids = set()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and not f.name.endswith(".meta.json"):
            out = parse(f.name, f.read_bytes(), datetime.now(UTC))
            if isinstance(out, Parsed):
                ids.update(a.id for a in out.articles)
    return ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newspipe-formats-"))
    settings = run.phase_env(tmp, "formats")
    texts = real_texts()
    staging = tmp / "staging"
    shutil.copytree(SAMPLES, staging)
    pages(texts, staging)
    (staging / "export-a.jsonl").write_bytes(export(texts, args.records, "a"))
    second = tmp / "export-b.jsonl"
    second.write_bytes(export(texts, args.records, "b"))
    ids = expected_ids(staging)
    ids |= {a.id for a in parse(second.name, second.read_bytes(), datetime.now(UTC)).articles}  # type: ignore[union-attr]
    folder = tmp / "formats"
    services = run.Services(folder, [("ingest", {}), ("enrich", {}), ("index", {})])
    inbox = settings.ingest.inbox
    start = time.perf_counter()
    try:
        time.sleep(8)  # services up
        n = len(list(staging.iterdir()))
        print(f"{time.perf_counter() - start:6.1f} s: Kafka down; dropping {n} files", flush=True)
        stack("down", "--only", "kafka")
        for f in sorted(staging.iterdir(), key=lambda p: not p.name.endswith(".meta.json")):
            f.rename(inbox / f.name)
        time.sleep(20)
        stack("up")
        print(f"{time.perf_counter() - start:6.1f} s: Kafka back", flush=True)
        wait_until(lambda: not any(p.suffix for p in inbox.iterdir()), 180, "the inbox emptied")
        before = raw_count(settings)
        second.rename(inbox / second.name)
        # SIGKILL once the export's first records are on news.raw, before its last ones are
        wait_until(lambda: raw_count(settings) > before + 50, 60, "export-b being published")
        services.procs["ingest"].send_signal(signal.SIGKILL)
        services.procs["ingest"].wait()
        print(
            f"{time.perf_counter() - start:6.1f} s: ingest SIGKILLed publishing export-b"
            f" ({raw_count(settings) - before} of its records on news.raw)",
            flush=True,
        )
        time.sleep(2)
        services.procs["ingest"] = subprocess.Popen(
            [sys.executable, "-m", "newspipe", "ingest"],
            stdout=(folder / "ingest-restarted.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: run.count(settings) >= len(ids), 600, f"{len(ids)} indexed")
        time.sleep(5)
    finally:
        services.stop()
    report(settings, ids, start)


def raw_count(settings) -> int:  # type: ignore[no-untyped-def]
    """Messages on news.raw so far (the sum of its partitions' end offsets)."""
    consumer = KafkaConsumer(**kafka_client_kwargs(settings.kafka))
    topic = settings.kafka.raw_topic
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    total = sum(consumer.end_offsets(parts).values())
    consumer.close()
    return int(total)


def wait_until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # a server away for a moment
            pass
        time.sleep(0.5)
    print(f"timed out waiting for {what}", flush=True)


def report(settings, ids: set[str], start: float) -> None:  # type: ignore[no-untyped-def]
    es = es_client(settings.es)
    es.indices.refresh(index=settings.es.alias)
    hits = [h["_id"] for h in es_helpers.scan(es, index=settings.es.alias, _source=False)]
    raw = KafkaConsumer(
        settings.kafka.raw_topic,
        **kafka_client_kwargs(settings.kafka),
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    sent = sum(1 for _ in raw)
    letters = list(
        KafkaConsumer(
            settings.kafka.dlq_topic,
            **kafka_client_kwargs(settings.kafka),
            auto_offset_reset="earliest",
            consumer_timeout_ms=5000,
        )
    )
    aside = sorted(p.name for p in settings.ingest.rejected.rglob("*") if p.is_file())
    print(
        f"articles in the files {len(ids)}: searchable {len(set(hits) & ids)}, missing"
        f" {len(ids - set(hits))}, extra {len(set(hits) - ids)}, documents {len(hits)}"
        f" (indexed twice: {len(hits) - len(set(hits))}); messages on news.raw {sent}"
        f" (re-sent after the faults: {sent - len(ids)}); dead letters {len(letters)}"
    )
    print(f"put aside: {aside}")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    try:
        main()
    finally:  # the phases' topics and indices: the bench runs on the user's stack
        run.forget_phases()
