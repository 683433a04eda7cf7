"""The fault suite: the pipeline as a user runs it (`newspipe run`, real Kafka and Elasticsearch)
while files arrive, with the faults a newsroom meets: big files, odd files, slow writers, poison
messages on every topic, SIGKILL of each service, Kafka restarted and Elasticsearch stopped for
120 s mid-stream.

Every scenario checks the same invariant: every file that left the inbox is searchable exactly
once (one document per file, no fragment) or is in rejected/ with its reason, every poison message
is in news.dlq with its reason, nothing is lost, and every service is alive at the end. Each prints
its row of the fault table (files in, searchable, rejected, dead-lettered, lost, duplicates,
recovery time)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

import newspipe.tools.stack as local
from newspipe.clients import es_client
from newspipe.config import Settings, kafka_client_kwargs, message_max_bytes
from newspipe.contract import DeadLetter
from newspipe.tools import bootstrap
from tests.conftest import ROOT
from tests.e2e.test_pipeline import wait_for

TABLE: list[dict[str, Any]] = []  # printed after the run by tests/conftest.py
SEEDS = [p.read_text("utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
MB = 2**20


@dataclass
class Fault:
    """One scenario's ledger: what went in, what is expected of it."""

    name: str
    indexed: set[str] = field(default_factory=set)  # file names expected searchable
    rejected: set[str] = field(default_factory=set)  # expected in rejected/ with a reason
    poison: int = 0  # messages expected in news.dlq
    letters_before: int = 0  # dead letters already on the topic when the scenario began
    recovered_at: float | None = None  # when the fault ended (server back, writer done)


class Run:
    """`newspipe run` on an isolated namespace, with its log kept to count restarts."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.s, self.log = settings, log
        self.es = es_client(settings.es)
        self.inbox = settings.ingest.inbox
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "newspipe", "run"],
            env=os.environ.copy(),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def restarts(self) -> int:
        return self.text().count(" exited with code ")

    def child(self, service: str) -> int:
        """The pid of the `newspipe SERVICE` child of this run."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid and service.encode() in argv[-3:]:
                return int(stat.parent.name)
        raise AssertionError(f"no {service} child of pid {self.proc.pid}")

    def all_alive(self) -> bool:
        return self.proc.poll() is None and all(
            self.child(name) for name in ("ingest", "enrich", "index")
        )

    def drop(self, name: str, text: str | bytes, atomic: bool = True) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        target = self.inbox / name
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part") if atomic else target
        part.write_bytes(data)
        if atomic:
            part.rename(target)

    def docs_by_path(self, names: set[str]) -> dict[str, int]:
        self.es.indices.refresh(index=self.s.es.alias)
        resp = self.es.search(
            index=self.s.es.alias,
            size=0,
            query={"terms": {"source.path": sorted(names)}},
            aggs={"p": {"terms": {"field": "source.path", "size": len(names) + 10}}},
        )
        return {b["key"]: b["doc_count"] for b in resp["aggregations"]["p"]["buckets"]}

    def fault(self, name: str) -> Fault:
        return Fault(name, letters_before=len(self.dead_letters()))

    def dead_letters(self) -> list[DeadLetter]:
        consumer = KafkaConsumer(
            self.s.kafka.dlq_topic,
            **kafka_client_kwargs(self.s.kafka),
            auto_offset_reset="earliest",
            consumer_timeout_ms=3000,
            max_partition_fetch_bytes=message_max_bytes(self.s.ingest),
        )
        try:
            return [DeadLetter.model_validate_json(m.value) for m in consumer]
        finally:
            consumer.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    from tests.conftest import require_stack, unique_env

    tmp = tmp_path_factory.mktemp("faults")
    old = os.environ.copy()
    os.environ.update(unique_env(tmp))
    settings = Settings()
    require_stack(settings)
    bootstrap.prepare(settings)
    # A standing query over every scenario: its alerts must survive the faults too (last test).
    subprocess.run(
        [sys.executable, "-m", "newspipe", "watch", "add", "every", "--query", "Report"],
        env=os.environ.copy(),
        check=True,
        timeout=120,
    )
    pipeline = Run(settings, tmp / "run.log")
    try:
        bootstrap.wait_for_group(settings, timeout=120)
        yield pipeline
    finally:
        pipeline.proc.terminate()
        pipeline.proc.wait(timeout=90)
        local.up(settings.stack)  # a failed scenario must not leave the stack half down
        os.environ.clear()
        os.environ.update(old)


def article(tag: str, size: int = 0) -> str:
    """A unique article (title, then seed paragraphs), about `size` bytes when given."""
    seed = SEEDS[zlib.crc32(tag.encode()) % len(SEEDS)]
    body = f"Report {tag} on the security track.\n\n{seed}\n\nFiled as {tag}."
    if size:
        reps = [f"{tag} part {i}. {SEEDS[i % len(SEEDS)]}" for i in range(size // 600 + 1)]
        body = f"Report {tag}\n\n" + "\n\n".join(reps)
        body = body.encode("utf-8")[:size].decode("utf-8", "ignore")
    return body


def settle(run: Run, fault: Fault, timeout: float) -> dict[str, Any]:
    """Wait until every expected outcome is there, then assert the invariant and print the row."""
    rejected_dir = run.s.ingest.rejected

    def done() -> bool:
        found = run.docs_by_path(fault.indexed) if fault.indexed else {}
        reasons = all((rejected_dir / f"{n}.error.txt").exists() for n in fault.rejected)
        return len(found) == len(fault.indexed) and reasons

    wait_for(done, timeout, f"{fault.name}: every file searchable or rejected")
    recovery = time.monotonic() - fault.recovered_at if fault.recovered_at else 0.0
    found = run.docs_by_path(fault.indexed | fault.rejected)
    letters = run.dead_letters()[fault.letters_before :]
    row = {
        "scenario": fault.name,
        "files in": len(fault.indexed) + len(fault.rejected),
        "searchable": sum(1 for n in fault.indexed if found.get(n) == 1),
        "rejected": sum(1 for n in fault.rejected if (rejected_dir / f"{n}.error.txt").exists()),
        "dead-lettered": len(letters),  # each with its reason (the model requires one)
        "lost": len(fault.indexed - set(found)),
        "duplicates": sum(c - 1 for c in found.values()),
        "recovery s": round(recovery, 1),
    }
    TABLE.append(row)
    assert row["lost"] == 0 and row["duplicates"] == 0
    assert row["dead-lettered"] == fault.poison
    assert row["searchable"] == len(fault.indexed)
    assert not set(found) & fault.rejected  # a rejected file was not also indexed
    leftovers = [p.name for p in run.inbox.rglob("*") if p.is_file()]
    assert not leftovers, f"files left in the inbox: {leftovers}"
    assert run.all_alive()
    return row


def feed(run: Run, fault: Fault, prefix: str, count: int, per_second: float) -> threading.Thread:
    """Drop `count` articles at a steady rate in the background (files keep arriving while a
    fault happens)."""

    def go() -> None:
        for i in range(count):
            name = f"{prefix}-{i:03d}.txt"
            run.drop(name, article(name))
            fault.indexed.add(name)
            time.sleep(1 / per_second)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def test_big_files_pass_every_stage_or_are_rejected_with_the_limit(run: Run) -> None:
    limit = run.s.ingest.max_bytes
    fault = run.fault("big files")
    for name, size in (
        ("big-0.5mb.txt", MB // 2),
        ("big-0.9mb.txt", int(0.9 * MB)),
        ("big-1.5mb.txt", int(1.5 * MB)),
        ("big-under-limit.txt", limit - 4096),
    ):
        run.drop(name, article(name, size))
        fault.indexed.add(name)
    run.drop("big-over-limit.txt", article("over", limit + 4096))
    with (run.inbox / "big-6mb.txt").open("wb") as f:
        f.write(article("six", 6 * MB).encode())
    with (run.inbox / "big-60mb.txt").open("wb") as f:  # sparse: its size is what is checked
        f.write(b"Title\n\nBody text. ")
        f.truncate(60 * MB)
    fault.rejected |= {"big-over-limit.txt", "big-6mb.txt", "big-60mb.txt"}
    settle(run, fault, timeout=300)
    for name in fault.rejected:
        reason = (run.s.ingest.rejected / f"{name}.error.txt").read_text("utf-8")
        assert "NEWSPIPE_INGEST__MAX_BYTES" in reason, reason
    assert run.restarts() == 0


ARABIC = (
    "اللجنة العسكرية المشتركة تبحث وقف إطلاق النار\n\n"
    "بحثت اللجنة العسكرية المشتركة 5+5 في سرت تثبيت وقف إطلاق النار وخروج المرتزقة "
    "والقوات الأجنبية من ليبيا، وتوحيد المؤسسة العسكرية."
)
FRENCH = (
    "La commission militaire mixte se réunit à Syrte\n\n"
    "Réunie à Syrte, la commission « 5+5 » a examiné le départ des mercenaires étrangers et "
    "l’unification de l’armée, un an après l’accord de cessez-le-feu."
)


def test_odd_files_are_read_or_rejected_with_a_reason(run: Run) -> None:
    fault = run.fault("encodings, sub-folders, title only, symlinks")
    run.drop("enc-cp1256.txt", ARABIC.encode("cp1256"))
    # three bodies (one document per body: the same text in two files is one article)
    run.drop("enc-latin1.txt", FRENCH.replace("’", "'").replace("an ", "mois ").encode("latin-1"))
    run.drop("enc-cp1252.txt", FRENCH.encode("cp1252"))
    run.drop("enc-utf16.txt", FRENCH.replace("un an", "deux ans").encode("utf-16"))
    run.drop("outlet-x/2024/nested.txt", article("nested"))
    run.drop("title-only.txt", "Libyan military commission meets in Sirte on the ceasefire\n")
    fault.indexed |= {
        "enc-cp1256.txt",
        "enc-latin1.txt",
        "enc-cp1252.txt",
        "enc-utf16.txt",
        "outlet-x/2024/nested.txt",
        "title-only.txt",
    }
    run.drop("binary.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (run.inbox / "outside.txt").symlink_to("/etc/hostname")
    fault.rejected |= {"binary.txt", "outside.txt"}
    settle(run, fault, timeout=60)
    run.es.indices.refresh(index=run.s.es.alias)
    for name, needle, encoding in (
        ("enc-cp1256.txt", "المرتزقة", "cp1256"),
        ("enc-latin1.txt", "réunit", None),
        ("enc-cp1252.txt", "l’unification", "cp1252"),
        ("enc-utf16.txt", "« 5+5 »", None),
    ):
        hit = run.es.search(index=run.s.es.alias, query={"term": {"source.path": name}})
        source = hit["hits"]["hits"][0]["_source"]
        assert needle in source["title"] + source["body"], name
        assert source["source"]["encoding"], name
        if encoding:
            assert source["source"]["encoding"] == encoding
    assert (run.s.ingest.rejected / "outside.txt").is_symlink()  # moved aside, never read


def test_poison_messages_on_every_topic_are_dead_lettered(run: Run) -> None:
    fault = run.fault("poison messages")
    producer = KafkaProducer(**kafka_client_kwargs(run.s.kafka), acks="all")
    k = run.s.kafka
    for topic in (k.raw_topic, k.link_topic, k.enriched_topic):
        for value in (b"{not json", b'{"id": "nope"}'):
            producer.send(topic, key=b"poison", value=value, headers=[("kind", b"article")])
            fault.poison += 1
    producer.flush()
    producer.close()
    feed(run, fault, "after-poison", 20, per_second=20).join()
    settle(run, fault, timeout=120)
    letters = [x for x in run.dead_letters() if x.key == "poison"]
    assert len(letters) == fault.poison
    assert {x.topic for x in letters} == {k.raw_topic, k.link_topic, k.enriched_topic}
    assert all(x.reason and x.payload for x in letters)
    assert run.restarts() == 0


def test_slow_writers_give_one_complete_document(run: Run) -> None:
    fault = run.fault("slow writers")
    text = article("slow-open")
    lines = text.split("\n")
    with (run.inbox / "slow-open.txt").open("w", encoding="utf-8") as f:  # holds the file open
        for line in lines:
            f.write(line + "\n")
            f.flush()
            time.sleep(3.0 / len(lines))
    reopen = article("slow-reopen").split("\n")
    for line in reopen:  # reopens, appends, closes: pauses shorter than the settle time
        with (run.inbox / "slow-reopen.txt").open("a", encoding="utf-8") as f:
            f.write(line + "\n")
        time.sleep(min(1.0, run.s.ingest.settle_seconds / 2))
    fault.indexed |= {"slow-open.txt", "slow-reopen.txt"}
    fault.recovered_at = time.monotonic()
    settle(run, fault, timeout=60)
    run.es.indices.refresh(index=run.s.es.alias)
    for name, expected in (("slow-open.txt", text), ("slow-reopen.txt", "\n".join(reopen))):
        hit = run.es.search(index=run.s.es.alias, query={"term": {"source.path": name}})
        body = hit["hits"]["hits"][0]["_source"]["body"]
        assert body.split()[-2:] == expected.split()[-2:]  # the whole text, not its first lines


def test_sigkill_of_each_service_mid_stream(run: Run) -> None:
    fault = run.fault("SIGKILL ingest, enrich, index")
    before = run.restarts()
    feeder = feed(run, fault, "kill", 90, per_second=10)
    for service in ("ingest", "enrich", "index"):
        time.sleep(2.5)
        os.kill(run.child(service), signal.SIGKILL)
    feeder.join()
    fault.recovered_at = time.monotonic()
    settle(run, fault, timeout=240)
    assert run.restarts() == before + 3  # each killed service was restarted, and only those


def outage(run: Run, server: str, seconds: int, per_second: float) -> None:
    """Stop `server` for `seconds` while 60 files arrive, start it again: every file searchable
    once, and no service exited (the outage was waited out, not crashed through). Meanwhile the
    indexer's endpoint says it is alive but not ready, and `newspipe run` reports it."""
    from newspipe.tools.status import probe

    fault = run.fault(f"{server} down {seconds} s")
    before = run.restarts()
    feeder = feed(run, fault, server, 60, per_second=per_second)
    time.sleep(5)
    local.down(run.s.stack, only=(server,))
    down_at = time.monotonic()
    index = f"http://127.0.0.1:{run.s.ops.index_port}"
    if server == "elasticsearch":
        name = "Elasticsearch"
        ready = wait_for(
            lambda: (r := probe(f"{index}/readyz"))[0] is False and r, 60, "index not ready"
        )
        assert ready == (False, f"{name} unreachable")
        assert probe(f"{index}/healthz")[0] is True  # waiting is not hanging
        wait_for(lambda: f"index is alive, not ready: {name}" in run.text(), 30, "run's report")
    time.sleep(max(0.0, seconds - (time.monotonic() - down_at)))
    local.up(run.s.stack)
    fault.recovered_at = time.monotonic()
    feeder.join()
    settle(run, fault, timeout=240)
    assert run.restarts() == before
    if server == "elasticsearch":
        wait_for(lambda: "index healthy and ready again" in run.text(), 30, "run's all-clear")


def test_a_hung_service_is_reported_by_run(run: Run) -> None:
    """SIGSTOP the indexer (a hung process: no crash, no exit): `newspipe run` reports it within
    seconds, and says so again when it runs on (SIGCONT)."""
    pid = run.child("index")
    mark = len(run.text())
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: "index is down (no answer)" in run.text()[mark:], 30, "the report")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: "index healthy and ready again" in run.text()[mark:], 30, "the all-clear")
    assert run.all_alive()


def test_kafka_restarted_mid_stream(run: Run) -> None:
    outage(run, "kafka", 30, per_second=2)


def test_elasticsearch_down_120s_mid_stream(run: Run) -> None:
    outage(run, "elasticsearch", 120, per_second=0.5)


def test_no_alert_was_lost_or_repeated_through_the_faults(run: Run) -> None:
    """The watch added before the first scenario: every story it matches has its one new-story
    alert, confirmed sent, and on news.alerts, after kills and both servers' outages."""
    from collections import Counter

    from newspipe.tools.status import consumer_lag
    from newspipe.tools.watches import get

    wait_for(lambda: all(r["lag"] == 0 for r in consumer_lag(run.s)), 120, "every stage caught up")
    watch = get(run.s, "every")
    run.es.indices.refresh(index=run.s.es.alias)
    hits = run.es.search(
        index=run.s.es.alias,
        query=watch.query,
        size=10_000,
        source_includes=["story.id", "ingested_at"],
    )["hits"]["hits"]
    stories = {h["_source"]["story"]["id"] for h in hits}
    run.es.indices.refresh(index=run.s.alert.alerts_index)
    alerts = [
        h["_source"]
        for h in run.es.search(
            index=run.s.alert.alerts_index, query={"term": {"watch": "every"}}, size=10_000
        )["hits"]["hits"]
    ]
    per_story = Counter(a["story"] for a in alerts)
    consumer = KafkaConsumer(
        run.s.kafka.alerts_topic,
        **kafka_client_kwargs(run.s.kafka),
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    try:
        sent = Counter(m.key.decode() for m in consumer)
    finally:
        consumer.close()
    print(
        f"\nalerts through the faults: {len(hits)} matching documents in {len(stories)} stories, "
        f"{len(alerts)} alerts, {sum(sent.values())} records on news.alerts "
        f"({sum(n - 1 for n in sent.values())} repeated)"
    )
    assert hits and stories
    assert stories <= set(per_story), f"stories without their alert: {stories - set(per_story)}"
    assert max(per_story.values()) == 1
    assert all(a["sent"] for a in alerts)
    assert {a["id"] for a in alerts} <= set(sent), "an alert never reached news.alerts"
