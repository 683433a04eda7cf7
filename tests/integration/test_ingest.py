"""The ingest loop (`watch`, in a thread) on the real Kafka: what reaches news.raw, what lands in
processed/ and rejected/ (with the reason), for the ways files really arrive: in sub-folders, too
large, written slowly, renamed in, as links, unparsable, under a name just taken, and while Kafka
is down."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

import services.ingest.publish as publish_module
import services.ingest.watch as watch_module
from newspipe.config import KafkaSettings, Settings, kafka_client_kwargs, message_max_bytes
from newspipe.contract import RawArticle
from newspipe.tools import bootstrap
from services.ingest.parse import parse as real_parse
from services.ingest.watch import replay, watch
from tests.conftest import _free_port


def article(n: int | str, extra: str = "") -> str:
    return (
        f"Sirte talks round {n}\n\nThe 5+5 Joint Military Commission met in Sirte for round {n}"
        f" of talks on the withdrawal of foreign fighters.{extra}"
    )


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def stack(isolated: Settings) -> Settings:
    """Fresh topics; news.raw takes the one message limit whatever the broker's default is."""
    admin = KafkaAdminClient(**kafka_client_kwargs(isolated.kafka))
    size = {"max.message.bytes": str(message_max_bytes(isolated.ingest))}
    with contextlib.suppress(TopicAlreadyExistsError):
        admin.create_topics([NewTopic(isolated.kafka.raw_topic, 3, 1, topic_configs=size)])
    admin.close()
    bootstrap.create_topics(isolated)
    return isolated


class Topic:
    """Everything on news.raw, read with fetch sizes from the one message limit."""

    def __init__(self, settings: Settings) -> None:
        limit = message_max_bytes(settings.ingest)
        self.consumer = KafkaConsumer(
            settings.kafka.raw_topic,
            **kafka_client_kwargs(settings.kafka),
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_bytes=limit,
            max_partition_fetch_bytes=limit,
        )
        self.got: list[RawArticle] = []

    def poll(self, seconds: float) -> int:
        """Read for `seconds`; how many messages so far."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for records in self.consumer.poll(timeout_ms=200).values():
                self.got += [RawArticle.model_validate_json(r.value) for r in records]
        return len(self.got)

    def read(self, n: int, timeout: float = 15) -> dict[str, RawArticle]:
        """At least n messages, by source path (then a short quiet time to catch extra ones)."""
        wait_for(lambda: self.poll(0.2) >= n, timeout, f"{n} messages")
        self.poll(0.5)
        return {m.source.path: m for m in self.got}


@contextlib.contextmanager
def ingesting(settings: Settings, kafka: KafkaSettings | None = None) -> Iterator[Topic]:
    """`watch` in a thread (on `kafka` if given), and a reader of news.raw."""
    topic = Topic(settings)
    settings.ingest.inbox.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(kafka or settings.kafka, settings.ingest, stop))
    thread.start()
    try:
        yield topic
    finally:
        stop.set()
        thread.join(timeout=30)
        topic.consumer.close()
        assert not thread.is_alive()


def error_of(settings: Settings, rel: str) -> str:
    return (settings.ingest.rejected / f"{rel}.error.txt").read_text("utf-8")


def test_sub_folders_present_at_start_and_new_keep_their_relative_path(stack: Settings) -> None:
    inbox, processed = stack.ingest.inbox, stack.ingest.processed
    (inbox / "outlet-x" / "2024").mkdir(parents=True)
    (inbox / "empty").mkdir()
    (inbox / "a.txt").write_text(article(1))
    (inbox / "outlet-x" / "2024" / "a.txt").write_text(article(2))
    with ingesting(stack) as topic:
        (inbox / "outlet-y" / "new").mkdir(parents=True)
        (inbox / "outlet-y" / "new" / "c.txt").write_text(article(3))
        got = topic.read(3)
    assert set(got) == {"a.txt", "outlet-x/2024/a.txt", "outlet-y/new/c.txt"}
    assert "round 2 " in got["outlet-x/2024/a.txt"].body and len(topic.got) == 3
    for rel in got:
        assert (processed / rel).is_file() and not (inbox / rel).exists()
    assert (inbox / "empty").is_dir() and (inbox / "outlet-x" / "2024").is_dir()  # left alone


class Opens(FileSystemEventHandler):
    def __init__(self) -> None:
        self.opened: list[str] = []

    def on_opened(self, event: FileSystemEvent) -> None:
        self.opened.append(os.path.basename(os.fsdecode(event.src_path)))


def test_files_over_the_limit_are_rejected_unread_and_one_just_under_is_published(
    stack: Settings,
) -> None:
    inbox, limit = stack.ingest.inbox, stack.ingest.max_bytes
    inbox.mkdir(parents=True)
    title = "Near the limit\n\n"
    body = ("The ceasefire committee met again in Sirte. " * (limit // 40))[: limit - 64 - 16]
    (inbox / "near.txt").write_text(title + body.strip(), "ascii")
    assert limit - 100 < (inbox / "near.txt").stat().st_size < limit
    (inbox / "over.txt").write_bytes(b"x" * (limit + 1))
    with (inbox / "sparse.txt").open("wb") as f:
        f.truncate(60 * 2**20)  # 60 MB, no data blocks: reading it would still take its time
    opens, observer = Opens(), Observer()
    observer.schedule(opens, str(inbox))
    observer.start()
    started = time.monotonic()
    try:
        with ingesting(stack) as topic:
            wait_for(lambda: (stack.ingest.rejected / "sparse.txt.error.txt").exists(), 10, "it")
            elapsed = time.monotonic() - started
            got = topic.read(1)
    finally:
        observer.stop()
        observer.join()
    assert elapsed < stack.ingest.settle_seconds + 1.5
    assert "near.txt" in opens.opened  # opens are seen...
    assert "sparse.txt" not in opens.opened and "over.txt" not in opens.opened  # ...never opened
    assert error_of(stack, "sparse.txt") == (
        "too large: 62,914,560 bytes (60.0 MB) > limit 4,194,304 bytes (4.0 MB);"
        " raise NEWSPIPE_INGEST__MAX_BYTES to accept it\n"
    )
    assert "4,194,305 bytes" in error_of(stack, "over.txt")
    assert list(got) == ["near.txt"] and len(got["near.txt"].body) == len(body.strip())
    assert (stack.ingest.processed / "near.txt").stat().st_size > limit - 100


def _held_open(path: Path) -> None:
    with path.open("w") as f:  # open for writing the whole time, a line every 0.5 s for 5 s
        f.write(article("held") + "\n")
        for i in range(10):
            f.write(f"Held line {i}.\n")
            f.flush()
            time.sleep(0.5)


def _paused(path: Path) -> None:
    with path.open("w") as f:  # open for writing, silent for longer than the settle time
        f.write(article("paused") + "\n")
        f.flush()
        time.sleep(3.0)
        f.write("Paused line after the pause.\n")


def _reopened(path: Path) -> None:
    path.write_text(article("reopened") + "\n")
    for i in range(8):  # reopen, append, close every 0.5 s for 4 s (gaps < the 2 s settle time)
        time.sleep(0.5)
        with path.open("a") as f:
            f.write(f"Reopened line {i}.\n")


def test_slow_writers_give_one_complete_message_each(stack: Settings) -> None:
    inbox = stack.ingest.inbox
    with ingesting(stack) as topic:
        writers = [
            threading.Thread(target=_held_open, args=(inbox / "held.txt",)),
            threading.Thread(target=_reopened, args=(inbox / "reopened.txt",)),
            threading.Thread(target=_paused, args=(inbox / "paused.txt",)),
        ]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        got = topic.read(3)
        topic.poll(1.0)
    assert len(topic.got) == 3, [m.source.path for m in topic.got]
    assert got["held.txt"].body.endswith("Held line 9.")
    assert got["reopened.txt"].body.endswith("Reopened line 7.")
    assert got["paused.txt"].body.endswith("Paused line after the pause.")  # seen open: waited
    assert not stack.ingest.rejected.exists()


def test_a_file_renamed_into_the_inbox_is_taken_well_before_the_settle_time(
    stack: Settings,
) -> None:
    inbox, processed = stack.ingest.inbox, stack.ingest.processed
    with ingesting(stack) as topic:
        (inbox / "warm-up.txt").write_text(article("warm-up"))
        topic.read(1)
        (inbox / "fast.txt.part").write_text(article("fast"))
        time.sleep(0.5)  # a .part file is never taken, however long it waits
        (inbox / "fast.txt.part").rename(inbox / "fast.txt")
        renamed = time.monotonic()
        wait_for(lambda: (processed / "fast.txt").exists(), 5, "fast.txt")
        elapsed = time.monotonic() - renamed
        got = topic.read(2)
    assert elapsed < 1.0 < stack.ingest.settle_seconds
    assert set(got) == {"warm-up.txt", "fast.txt"}


def test_links_out_of_the_inbox_and_dangling_are_rejected_unread(
    stack: Settings, tmp_path: Path
) -> None:
    inbox, rejected = stack.ingest.inbox, stack.ingest.rejected
    (inbox / "sub").mkdir(parents=True)
    (inbox / "sub" / "real.txt").write_text(article("real"))
    (inbox / "alias.txt").symlink_to("sub/real.txt")
    (inbox / "hostname.txt").symlink_to("/etc/hostname")
    os.mkfifo(tmp_path / "fifo")  # opening it would block the loop: proof that it is not read
    (inbox / "fifo.txt").symlink_to(tmp_path / "fifo")
    (inbox / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    with ingesting(stack) as topic:
        got = topic.read(2)
        wait_for(lambda: len(list(rejected.glob("*.error.txt"))) == 3, 10, "3 rejections")
    assert set(got) == {"alias.txt", "sub/real.txt"}
    assert got["alias.txt"].body == got["sub/real.txt"].body
    assert os.readlink(rejected / "hostname.txt") == "/etc/hostname"  # the link itself moved
    assert "symbolic link to /etc/hostname, outside the inbox" in error_of(stack, "hostname.txt")
    assert "outside the inbox" in error_of(stack, "fifo.txt")
    assert "dangling symbolic link" in error_of(stack, "dangling.txt")


def test_an_unparsable_file_between_good_ones_is_rejected_and_the_loop_goes_on(
    stack: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = stack.ingest.inbox

    def parse(name: str, *args: Any) -> Any:
        if name == "boom.txt":
            raise RuntimeError("parser bug")
        return real_parse(name, *args)

    monkeypatch.setattr("services.ingest.publish.parse", parse)
    inbox.mkdir(parents=True)
    for name, data in [
        ("good1.txt", article(1).encode()),
        ("scan.txt", b"%PDF-1.7 binary"),
        ("boom.txt", article("boom").encode()),
        ("good2.txt", article(2).encode()),
    ]:
        (inbox / name).write_bytes(data)
        time.sleep(0.05)
    with ingesting(stack) as topic:
        got = topic.read(2)
        wait_for(lambda: (stack.ingest.rejected / "boom.txt.error.txt").exists(), 5, "boom")
    assert set(got) == {"good1.txt", "good2.txt"}
    assert "PDF" in error_of(stack, "scan.txt")
    assert error_of(stack, "boom.txt") == "could not read or parse: RuntimeError: parser bug\n"
    assert sorted(os.listdir(stack.ingest.processed)) == ["good1.txt", "good2.txt"]


def test_a_name_that_reappears_soon_after_it_was_taken_is_rejected(stack: Settings) -> None:
    inbox, processed = stack.ingest.inbox, stack.ingest.processed
    with ingesting(stack) as topic:
        (inbox / "a.txt").write_text(article("first part"))
        wait_for(lambda: (processed / "a.txt").exists(), 10, "a.txt")
        (inbox / "a.txt").write_text("the tail of the same article, written after a pause.")
        wait_for(lambda: (stack.ingest.rejected / "a.txt.error.txt").exists(), 10, "rejection")
        topic.read(1)
    assert len(topic.got) == 1 and "first part" in topic.got[0].body
    reason = error_of(stack, "a.txt")
    assert "a file named a.txt was taken" in reason and "tail of a file" in reason
    assert (stack.ingest.rejected / "a.txt").read_text().startswith("the tail")


def test_replay_names_files_relative_to_the_folder_and_counts_bad_ones(
    stack: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "archive"
    (folder / "2023" / "june").mkdir(parents=True)
    (folder / "2023" / "june" / "a.txt").write_text(article("archived"))
    (folder / "b.txt").write_text(article("b"))
    (folder / "scan.txt").write_bytes(b"\x00" * 100)
    with (folder / "huge.txt").open("wb") as f:
        f.truncate(60 * 2**20)
    counts = replay(stack.kafka, [folder], stack.ingest)
    assert counts == {"published": 2, "rejected": 2}
    topic = Topic(stack)
    assert set(topic.read(2)) == {"2023/june/a.txt", "b.txt"}
    topic.consumer.close()
    assert (folder / "b.txt").exists()  # replay moves nothing


@contextlib.contextmanager
def proxy(port: int, target: tuple[str, int]) -> Iterator[None]:
    """A TCP forwarder on 127.0.0.1:port: Kafka 'comes up' at that address when it starts (the
    client bootstraps through it, then talks to the advertised broker address directly)."""
    server = socket.create_server(("127.0.0.1", port))
    stop = threading.Event()

    def pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        server.close()


def test_ingest_starts_while_kafka_is_down_and_publishes_once_it_is_up(
    stack: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="newspipe.ingest")
    monkeypatch.setattr(publish_module, "CONNECT_TIMEOUT_MS", 1000)
    port = _free_port()
    host, _, broker_port = stack.kafka.bootstrap.split(",")[0].rpartition(":")
    down = stack.kafka.model_copy(update={"bootstrap": f"127.0.0.1:{port}"})
    inbox, processed = stack.ingest.inbox, stack.ingest.processed
    with ingesting(stack, down) as topic:
        (inbox / "waits.txt").write_text(article("waits"))
        (inbox / "big.txt").write_bytes(b"x" * (stack.ingest.max_bytes + 1))
        wait_for(lambda: (stack.ingest.rejected / "big.txt").exists(), 10, "big.txt (no broker)")
        time.sleep(1.5)
        assert (inbox / "waits.txt").exists()
        with proxy(port, (host, int(broker_port))):
            wait_for(lambda: (processed / "waits.txt").exists(), 20, "waits.txt published")
        assert list(topic.read(1)) == ["waits.txt"]
    lines = [r.getMessage() for r in caplog.records if r.name == "newspipe.ingest"]
    assert sum(line.startswith("Kafka unreachable (") for line in lines) == 1, lines
    assert sum(line.startswith("Kafka reachable again after") for line in lines) == 1, lines
    assert not [r for r in caplog.records if r.name == "newspipe.ingest" and r.exc_info]


def test_a_burst_renamed_in_together_is_published_whole_and_each_file_moved_once(
    stack: Settings,
) -> None:
    """The files due in one tick are sent together and moved once each is acknowledged: none lost,
    none sent twice, and the burst spans several of the loop's groups (BATCH_FILES)."""
    inbox, processed = stack.ingest.inbox, stack.ingest.processed
    aside = inbox.parent / "aside"
    aside.mkdir(parents=True)
    names = [f"burst-{i:03d}.txt" for i in range(watch_module.BATCH_FILES + 50)]
    for i, name in enumerate(names):
        (aside / name).write_text(article(f"burst {i}"))
    with ingesting(stack) as topic:
        for name in names:
            os.replace(aside / name, inbox / name)
        got = topic.read(len(names), timeout=60)
        wait_for(lambda: len(list(processed.iterdir())) == len(names), 20, "every file moved")
    assert len(topic.got) == len(names) and set(got) == set(names)  # each once
    assert not list(inbox.iterdir())
    assert not stack.ingest.rejected.exists() or not list(stack.ingest.rejected.iterdir())


def test_a_message_the_broker_refuses_rejects_its_file_and_not_its_neighbours(
    isolated: Settings,
) -> None:
    """news.raw takes 20 kB messages here: the broker refuses the large file's message (the
    producer's own limit is higher), which is rejected with Kafka's reason; the small files sent
    in the same group are published. (kafka-python's idempotent producer aborts every batch in
    flight once a message is refused, and fails every later send: the small files used to be
    rejected with the large one's reason.)"""
    admin = KafkaAdminClient(**kafka_client_kwargs(isolated.kafka))
    admin.create_topics(
        [NewTopic(isolated.kafka.raw_topic, 1, 1, topic_configs={"max.message.bytes": "20000"})]
    )
    admin.close()  # no bootstrap: it would raise the topic's limit to the pipeline's
    inbox = isolated.ingest.inbox
    aside = inbox.parent / "aside"
    aside.mkdir(parents=True)
    noise = " ".join(os.urandom(16).hex() for _ in range(2500))  # 82 kB, 40 kB compressed
    (aside / "large.txt").write_text(article("large", f" {noise}"))
    for i in range(3):
        (aside / f"small-{i}.txt").write_text(article(f"small {i}"))
    with ingesting(isolated) as topic:
        for name in ("small-0.txt", "large.txt", "small-1.txt", "small-2.txt"):
            os.replace(aside / name, inbox / name)
        got = topic.read(3)
        wait_for(lambda: (isolated.ingest.rejected / "large.txt.error.txt").exists(), 20, "large")
    assert set(got) == {"small-0.txt", "small-1.txt", "small-2.txt"}
    assert error_of(isolated, "large.txt").startswith("Kafka refused the message (")
    assert "MessageSizeTooLarge" in error_of(isolated, "large.txt")
    assert sorted(p.name for p in isolated.ingest.processed.iterdir()) == [
        "small-0.txt",
        "small-1.txt",
        "small-2.txt",
    ]
    # replay, which sends a whole folder before waiting: the same verdicts
    again = inbox.parent / "again"
    shutil.copytree(isolated.ingest.processed, again)
    shutil.copy(isolated.ingest.rejected / "large.txt", again / "large.txt")
    assert replay(isolated.kafka, [again], isolated.ingest) == {"published": 3, "rejected": 1}
