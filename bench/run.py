"""`make bench`: the pipeline's rates against the machine's own ceilings, in one run, one corpus.

On the same generated corpus (bench/corpus.py: en/ar/fr articles assembled from real paragraphs,
10 % edited copies), in this order:

1. in process, no Kafka, faust or Elasticsearch: enrich, link, and both, in CPU seconds of this
   process (one core); the same on the real-expanded corpus (real articles and edited copies);
2. raw ceilings: kafka-python produce and consume of the same raw payloads, Elasticsearch
   `streaming_bulk` of the same enriched documents;
3. end to end, backlog replay: every raw article published first, then `newspipe enrich` (1 worker,
   then 2) and `newspipe index` started; rate from the workers' start to the last document
   searchable, and first to last; each service's peak RSS; and the real-expanded corpus as one
   JSONL export, its records in file order (as ingest reads them) and all with one ingestion
   time (as it read them before), with the link corrections each makes; after each replay, how
   many link decisions in Elasticsearch equal the in-process Linker's on the same articles in
   ingestion order (what `newspipe eval` scores);
4. drop -> searchable latency: the three services running on an inbox, files dropped (written
   aside, renamed in) at 10, 50 and 200 files/s; each file's latency is the time from its rename to
   the first search (polled every 0.1 s, as a user would see it, no forced refresh) that finds it.

Ratios are printed against the slowest raw ceiling and against the in-process rate of this run.
Needs the local stack (`newspipe stack up`); every phase uses its own topics, group and index.

    .venv/bin/python bench/run.py [--docs 5000] [--latency-seconds 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import helpers as es_helpers
from kafka import KafkaConsumer, KafkaProducer

from newspipe.clients import es_client
from newspipe.config import Settings, kafka_client_kwargs
from newspipe.contract import EnrichedArticle, RawArticle, utcnow
from newspipe.tools import bootstrap, stack
from services.enrich.core import Enricher
from services.enrich.link import Linker
from services.index.core import to_action
from services.ingest.parse import Parsed, parse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import corpus  # noqa: E402 (bench/ is on the path of a bench script)

from tests.conftest import require_stack, unique_env  # noqa: E402

LOADS = (10, 50, 200)


def load(files: list[Path]) -> list[RawArticle]:
    out = []
    for f in files:
        parsed = parse(f.name, f.read_bytes(), datetime.now(UTC))
        if isinstance(parsed, Parsed):
            out.extend(parsed.articles)
    return out


def load_export(docs: list[RawArticle], path: Path) -> list[RawArticle]:
    """The articles written as one JSONL export and read back by ingest's parser."""
    path.write_bytes(b"\n".join(orjson.dumps({"title": d.title, "text": d.body}) for d in docs))
    parsed = parse(path.name, path.read_bytes(), datetime.now(UTC))
    if not isinstance(parsed, Parsed):
        raise SystemExit(f"the export was rejected: {parsed.reason}")
    return parsed.articles


def first_of_each(docs: list[RawArticle]) -> list[RawArticle]:
    """The first record of each article id, in file order (an export can hold one text twice;
    a dict keyed by id would keep the first one's place with the last one's ingestion time)."""
    seen: set[str] = set()
    return [d for d in docs if not (d.id in seen or seen.add(d.id))]


def cpu_rate(fn: Callable[[], object], n: int) -> float:
    start = time.process_time()
    fn()
    return n / (time.process_time() - start)


def in_process(docs: list[RawArticle]) -> tuple[dict[str, float], list[EnrichedArticle]]:
    enricher = Enricher()
    enriched: list[EnrichedArticle] = []
    enrich = cpu_rate(
        lambda: enriched.extend(enricher.enrich(d, utcnow()) for d in docs), len(docs)
    )
    linker = Linker({})
    link = cpu_rate(lambda: [linker.observe(d) for d in enriched], len(docs))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rates = {"enrich": enrich, "link": link, "both": 1 / (1 / enrich + 1 / link), "rss": rss}
    return rates, enriched


Links = dict[str, tuple[str, str | None]]  # article id -> (story id, duplicate_of)


def linked_in_order(enriched: list[EnrichedArticle]) -> Links:
    """The decisions of the in-process Linker on `enriched` in ingestion order, (ingested_at, id),
    corrections applied: what `newspipe enrich` and `newspipe eval` decide."""
    linker = Linker({})
    for doc in sorted(enriched, key=lambda d: (d.ingested_at, d.id)):
        linker.observe(doc)
    ids = {d.id for d in enriched}
    return {i: (linker.members[i].story, linker.members[i].duplicate_of) for i in ids}


def decisions(settings: Settings) -> Links:
    """Each indexed article's story and duplicate_of, as Elasticsearch holds them."""
    es = es_client(settings.es)
    es.indices.refresh(index=settings.es.alias)
    return {
        hit["_id"]: (hit["_source"]["story"]["id"], hit["_source"]["dedup"]["duplicate_of"])
        for hit in es_helpers.scan(
            es, index=settings.es.alias, _source=["story.id", "dedup.duplicate_of"]
        )
    }


def settled_decisions(settings: Settings, wait: float = 60) -> Links:
    """The decisions once two reads a second apart agree (corrections come after articles)."""
    found, deadline = decisions(settings), time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(1)
        again = decisions(settings)
        if again == found:
            break
        found = again
    return found


PHASES: list[Settings] = []  # every phase's settings, until forget_phases() deletes what it made


def phase_env(tmp: Path, name: str) -> Settings:
    """Own topics, groups, index and folders for one phase; the Settings they give."""
    folder = tmp / name
    folder.mkdir(parents=True)
    os.environ.update(unique_env(folder))
    settings = Settings()
    PHASES.append(settings)
    bootstrap.prepare(settings)
    return settings


def forget(settings: Settings) -> None:
    """Delete what one phase made on the servers: its topics and the enrich app's own (changelog,
    leader), its consumer groups, its indices and index template. The bench runs on the user's
    stack; before, each phase left three indices and a dozen topics behind (726 indices after a
    few runs on this machine, whose Elasticsearch then took longer than `stack up` waits to be
    ready again)."""
    from kafka import KafkaAdminClient

    es = es_client(settings.es)
    names = list(es.indices.get(index=f"{settings.es.alias}-*", allow_no_indices=True))
    names += [settings.alert.watches_index, settings.alert.alerts_index]
    es.indices.delete(index=names, ignore_unavailable=True, allow_no_indices=True)
    es.options(ignore_status=404).indices.delete_index_template(name=settings.es.alias)
    k = settings.kafka
    own = {k.raw_topic, k.link_topic, k.enriched_topic, k.dlq_topic, k.alerts_topic}
    admin = KafkaAdminClient(**kafka_client_kwargs(k))
    try:
        topics = [
            t for t in admin.list_topics() if t in own or t.startswith(settings.enrich.app_id)
        ]
        if topics:
            admin.delete_topics(topics)
        groups = {settings.enrich.app_id, settings.index.group, settings.alert.group}
        known = {g["group_id"] for g in admin.list_groups()} & groups
        if known:
            admin.delete_groups(sorted(known))
    finally:
        admin.close()


def forget_phases() -> None:
    """forget() every phase of this run (at its end, failed or not)."""
    while PHASES:
        settings = PHASES.pop()
        try:
            forget(settings)
        except Exception as exc:  # the bench's figures stand; say what is left behind
            print(f"bench: could not delete {settings.es.alias}'s topics and indices: {exc}")


def kafka_ceilings(settings: Settings, docs: list[RawArticle]) -> tuple[float, float]:
    payloads = [(d.id.encode(), d.to_bytes()) for d in docs]
    producer = KafkaProducer(**kafka_client_kwargs(settings.kafka), acks="all", linger_ms=20)
    start = time.perf_counter()
    for key, value in payloads:
        producer.send(settings.kafka.raw_topic, key=key, value=value)
    producer.flush()
    produce = len(payloads) / (time.perf_counter() - start)
    producer.close()
    consumer = KafkaConsumer(
        settings.kafka.raw_topic,
        **kafka_client_kwargs(settings.kafka),
        group_id=f"bench-{time.time_ns()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=52_428_800,
    )
    seen, start = 0, time.perf_counter()
    while seen < len(payloads):
        seen += sum(len(v) for v in consumer.poll(timeout_ms=1000, max_records=1000).values())
    consume = seen / (time.perf_counter() - start)
    consumer.close()
    return produce, consume


def es_ceiling(settings: Settings, docs: list[EnrichedArticle]) -> float:
    es = es_client(settings.es)
    actions = [to_action(None, d.to_bytes(), settings.es.alias) for d in docs]
    start = time.perf_counter()
    for ok, item in es_helpers.streaming_bulk(es, actions, chunk_size=500, raise_on_error=False):
        if not ok:
            raise SystemExit(f"bulk item failed: {item}")
    return len(actions) / (time.perf_counter() - start)


def export_replays(tmp: Path, real_docs: list[RawArticle]) -> dict[str, dict[str, Any]]:
    """The real-expanded corpus as one scraper export (JSONL) read by ingest's parser, replayed
    with 1 enrich worker: its records in file order, as ingest reads them, and with the one
    ingestion time ingest gave them before 2026-12-01; with the link corrections of each (the
    articles enriched once, linked in process once per variant)."""
    export = first_of_each(load_export(real_docs, tmp / "export.jsonl"))
    first = export[0].ingested_at
    tied = [d.model_copy(update={"ingested_at": first}) for d in export]
    enricher = Enricher()
    enriched = [enricher.enrich(d, utcnow()) for d in export]
    out = {}
    for name, docs, at in (("one ingestion time", tied, first), ("file order", export, None)):
        linker = Linker({})
        linked = [d.model_copy(update={"ingested_at": at}) if at else d for d in enriched]
        corrections = sum(len(linker.observe(d)[1]) for d in linked)
        expected = linked_in_order(linked)
        result = replay(tmp, docs, 1, expected, name=f"export-{name.replace(' ', '-')}")
        out[name] = result | {"corrections": corrections, "articles": len(expected)}
    return out


def peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pids() -> dict[str, int]:
    """The local stack's servers (Kafka, Elasticsearch) by name."""
    return {r["name"]: r["pid"] for r in stack.status(Settings().stack) if r["pid"]}


def count(settings: Settings) -> int:
    es = es_client(settings.es)
    return int(es.count(index=settings.es.alias)["count"])


class Services:
    """The services as processes (one log file each), their peak RSS sampled while they run."""

    def __init__(self, folder: Path, names: list[tuple[str, dict[str, str]]]) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for label, extra in names:
            service = label.split("#")[0]
            self.procs[label] = subprocess.Popen(
                [sys.executable, "-m", "newspipe", service],
                stdout=(folder / f"{label}.log").open("ab"),
                stderr=subprocess.STDOUT,
                env={**os.environ, **extra},
            )
        self.peaks = dict.fromkeys(self.procs, 0.0)
        self.servers = server_pids()
        self.cpu_start = {name: cpu_seconds(pid) for name, pid in self.servers.items()}
        self.cpu: dict[str, float] = {}

    def sample(self) -> None:
        for name, p in self.procs.items():
            self.peaks[name] = max(self.peaks[name], peak_rss_mb(p.pid))

    def stop(self) -> None:
        """Stop the services; `cpu`: CPU seconds each service and server used while they ran."""
        self.sample()
        self.cpu = {name: cpu_seconds(p.pid) for name, p in self.procs.items()}
        self.cpu |= {n: cpu_seconds(pid) - self.cpu_start[n] for n, pid in self.servers.items()}
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            p.wait(timeout=60)


def enrich_workers(folder: Path, n: int) -> list[tuple[str, dict[str, str]]]:
    """n enrich workers of one app (one group): each its own web port and table folder."""
    out = []
    for i in range(n):
        port = unique_env(folder)["NEWSPIPE_ENRICH__WEB_PORT"]
        env = {"NEWSPIPE_ENRICH__WEB_PORT": port, "NEWSPIPE_ENRICH__DATADIR": str(folder / f"w{i}")}
        out.append((f"enrich#{i + 1}", env))
    return out


def replay(
    tmp: Path, docs: list[RawArticle], workers: int, expected: Links, name: str = ""
) -> dict[str, Any]:
    """`expected`: the in-process decisions on `docs` in ingestion order (linked_in_order), to
    compare the pipeline's with once it has indexed them all."""
    phase = name or f"replay-{workers}"
    settings = phase_env(tmp, phase)
    folder = tmp / phase
    producer = KafkaProducer(**kafka_client_kwargs(settings.kafka), acks="all", linger_ms=20)
    for raw in docs:
        producer.send(settings.kafka.raw_topic, key=raw.id.encode(), value=raw.to_bytes())
    producer.flush()
    producer.close()
    services = Services(folder, [*enrich_workers(folder, workers), ("index", {})])
    started = time.perf_counter()
    first = last = None
    first_n = 0
    try:
        deadline = started + 120 + len(docs) / 5  # fails loudly below 5 docs/s
        while time.perf_counter() < deadline:
            n = count(settings)
            now = time.perf_counter()
            services.sample()
            if n and first is None:
                first, first_n = now, n
            if n >= len(docs):
                last = now
                break
            time.sleep(0.25)
        found = settled_decisions(settings) if last is not None else {}
    finally:
        services.stop()
    if first is None or last is None:
        raise SystemExit(f"replay: only {count(settings)} of {len(docs)} indexed; logs in {folder}")
    return {
        "same_links": sum(found.get(i) == v for i, v in expected.items()),
        "overall": len(docs) / (last - started),
        "steady": (len(docs) - first_n) / max(1e-9, last - first),
        "first_after": first - started,
        "rss": services.peaks,
        "cpu_ms": {k: 1000 * v / len(docs) for k, v in services.cpu.items()},
    }


def drop(inbox: Path, name: str, data: bytes) -> float:
    """Write aside, rename in (how a careful producer drops a file); the time of the rename."""
    aside = inbox.parent / f".{name}.part"
    aside.write_bytes(data)
    os.replace(aside, inbox / name)
    return time.perf_counter()


def searchable(settings: Settings, prefix: str, dropped: dict[str, float], wait: float) -> dict:
    """Poll search every 0.1 s until every dropped file is found (or `wait` runs out): the time
    each was first found."""
    es = es_client(settings.es)
    found: dict[str, float] = {}
    deadline = time.perf_counter() + wait
    while time.perf_counter() < deadline and len(found) < len(dropped):
        res = es.search(
            index=settings.es.alias,
            query={"prefix": {"source.path": prefix}},
            source=["source.path"],
            size=10_000,
        )
        now = time.perf_counter()
        for hit in res["hits"]["hits"]:
            found.setdefault(hit["_source"]["source"]["path"], now)
        time.sleep(0.1)
    return found


def latency(tmp: Path, files: list[tuple[str, bytes]], seconds: float) -> dict[str, Any]:
    settings = phase_env(tmp, "latency")
    folder = tmp / "latency"
    inbox = settings.ingest.inbox
    inbox.mkdir(parents=True, exist_ok=True)
    services = Services(folder, [("ingest", {}), ("enrich", {}), ("index", {})])
    out: dict[str, Any] = {}
    sampler_stop = threading.Event()

    def sampler() -> None:
        while not sampler_stop.wait(0.5):
            services.sample()

    threading.Thread(target=sampler, daemon=True).start()
    try:
        pool = iter(files)
        warm = {"warm-0.txt": drop(inbox, "warm-0.txt", next(pool)[1])}
        if len(searchable(settings, "warm-", warm, 180)) < 1:
            raise SystemExit(f"latency: the pipeline never indexed a first file; logs in {folder}")
        for load_ in LOADS:
            dropped: dict[str, float] = {}
            found: dict[str, float] = {}
            poll = threading.Thread(
                target=lambda f, p, d: f.update(searchable(settings, p, d, seconds + 300)),
                args=(found, f"lat-{load_}-", dropped),
            )
            start = time.perf_counter()
            total = int(load_ * seconds)
            for i in range(total):
                time.sleep(max(0.0, start + i / load_ - time.perf_counter()))
                name = f"lat-{load_}-{i:05d}.txt"
                dropped[name] = drop(inbox, name, next(pool)[1])
                if i == 0:
                    poll.start()
            offered = total / (time.perf_counter() - start)
            poll.join()
            waits = sorted(found[n] - t for n, t in dropped.items() if n in found)
            out[load_] = {
                "offered": offered,
                "files": total,
                "found": len(waits),
                "p50": _pct(waits, 50),
                "p95": _pct(waits, 95),
                "p99": _pct(waits, 99),
                "stages": stages(settings, f"lat-{load_}-", dropped, found),
            }
    finally:
        sampler_stop.set()
        services.stop()
    out["rss"] = services.peaks
    return out


def stages(
    settings: Settings, prefix: str, dropped: dict[str, float], found: dict[str, float]
) -> dict[str, tuple[float, float]]:
    """Where each file's wait went, from the times the documents carry (p50, p95 of each): the
    rename to `ingested_at` (ingest: noticed, settled, parsed, acknowledged by Kafka), then to
    `enriched_at` (waiting for the enrich worker), then to the first search that found it (enrich,
    link, the indexer's batch, the refresh, the 0.1 s poll)."""
    offset = time.time() - time.perf_counter()  # the bench's clock -> the documents' epoch time
    res = es_client(settings.es).search(
        index=settings.es.alias,
        query={"prefix": {"source.path": prefix}},
        source=["source.path", "ingested_at", "enriched_at"],
        size=10_000,
    )
    parts: dict[str, list[float]] = {"ingest": [], "queued for enrich": [], "enrich to found": []}
    for hit in res["hits"]["hits"]:
        doc, name = hit["_source"], hit["_source"]["source"]["path"]
        if name not in found:
            continue
        ingested = datetime.fromisoformat(doc["ingested_at"]).timestamp()
        enriched = datetime.fromisoformat(doc["enriched_at"]).timestamp()
        parts["ingest"].append(ingested - (dropped[name] + offset))
        parts["queued for enrich"].append(enriched - ingested)
        parts["enrich to found"].append(found[name] + offset - enriched)
    return {k: (_pct(v, 50), _pct(v, 95)) for k, v in parts.items()}


def _pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newspipe-bench-"))
    require_stack(Settings())
    gen_files = corpus.write("generated", args.docs, tmp / "generated")
    docs = load(gen_files)
    real_docs = load(corpus.write("real", args.docs, tmp / "real"))
    print(f"corpora: generated {len(docs):,} articles, real-expanded {len(real_docs):,} ({tmp})")

    rates, enriched = in_process(docs)
    real_rates, _ = in_process(real_docs)
    kafka_settings = phase_env(tmp, "ceilings")
    produce, consume = kafka_ceilings(kafka_settings, docs)
    bulk = es_ceiling(kafka_settings, enriched)
    ceiling = min(produce, consume, bulk)
    expected = linked_in_order(enriched)
    e2e = {w: replay(tmp, docs, w, expected) for w in (1, 2)}
    exports = export_replays(tmp, real_docs)
    needed = 1 + sum(int(load_ * args.latency_seconds) for load_ in LOADS)
    lat = latency(tmp, list(corpus.generated(needed, seed=23)), args.latency_seconds)

    print(f"\n{'stage':52s} {'docs/s':>9s} {'x ceiling':>10s} {'x in-proc':>10s}")

    def row(name: str, value: float, inproc: float | None = None) -> None:
        ratio = f"{value / inproc:10.2f}" if inproc else f"{'':10s}"
        print(f"{name:52s} {value:9,.0f} {value / ceiling:10.2f} {ratio}")

    row("Kafka produce (kafka-python, acks=all)", produce)
    row("Kafka consume", consume)
    row("Elasticsearch streaming_bulk", bulk)
    row("in process: enrich (one core)", rates["enrich"])
    row("in process: link (one core)", rates["link"])
    row("in process: enrich + link (one core)", rates["both"])
    row("in process, real-expanded corpus: enrich + link", real_rates["both"])
    for w, r in e2e.items():
        row(f"end to end, replay, {w} enrich worker(s): overall", r["overall"], rates["both"])
        row(f"end to end, replay, {w} enrich worker(s): first to last", r["steady"], rates["both"])
    print(f"\n{'drop -> searchable':24s} {'offered/s':>9s} {'files':>6s} {'found':>6s}", end="")
    print(f" {'p50 s':>7s} {'p95 s':>7s} {'p99 s':>7s}")
    for load_ in LOADS:
        r = lat[load_]
        print(
            f"{f'{load_} files/s':24s} {r['offered']:9.1f} {r['files']:6d} {r['found']:6d}"
            f" {r['p50']:7.2f} {r['p95']:7.2f} {r['p99']:7.2f}"
        )
    print("where the wait goes (p50 / p95 s; clocks of one machine):")
    for load_ in LOADS:
        parts = ", ".join(f"{k} {a:.2f} / {b:.2f}" for k, (a, b) in lat[load_]["stages"].items())
        print(f"  {load_} files/s: {parts}")
    print("\npeak RSS (MB):")
    print(f"  in-process bench (enrich + link of {len(docs):,}): {rates['rss']:.0f}")
    for w, r in e2e.items():
        print(f"  replay, {w} worker(s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["rss"].items()))
    print("  latency run: " + ", ".join(f"{k} {v:.0f}" for k, v in lat["rss"].items()))
    print("\nCPU ms per document during the replay (2 cores: the sum bounds the rate):")
    for w, r in e2e.items():
        cpu = r["cpu_ms"]
        parts = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
        print(f"  {w} worker(s): {parts}; sum {sum(cpu.values()):.1f}")
    print(f"  in process: enrich + link {1000 / rates['both']:.1f}")
    print(
        "\nreplay of the real-expanded corpus as one JSONL export, 1 enrich worker "
        "(docs/s overall / first to last; CPU ms per document):"
    )
    for name, r in exports.items():
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_ms"].items())
        print(
            f"  records with {name}: {r['overall']:.0f} / {r['steady']:.0f} docs/s, "
            f"{r['corrections']:,} link corrections; {cpu}; sum {sum(r['cpu_ms'].values()):.1f}"
        )
    print(
        "\nlink decisions (story, duplicate_of) in Elasticsearch equal to the in-process Linker's "
        "on the same articles in ingestion order:"
    )
    for w, r in e2e.items():
        print(f"  replay, {w} worker(s): {r['same_links']:,} / {len(expected):,}")
    for name, r in exports.items():
        note = (
            " (tied: each partition reaches the link stage out of (ingested_at, id) order, "
            "so the merge cannot give that order)"
            if name == "one ingestion time"
            else ""
        )
        print(f"  export, records with {name}: {r['same_links']:,} / {r['articles']:,}{note}")
    print(f"\n(first document indexed after {e2e[1]['first_after']:.1f} s of worker start)")


if __name__ == "__main__":
    try:
        main()
    finally:  # the phases' topics and indices: the bench runs on the user's stack
        forget_phases()
