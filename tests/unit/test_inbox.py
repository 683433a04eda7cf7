"""The inbox decisions without servers: names, the settle state machine, the /proc writer scan, the
reappear rule, destinations under processed/ and rejected/, symbolic links, the size limit, and
what a Kafka error means for a file."""

from __future__ import annotations

import os
import time
from pathlib import Path, PurePath

import pytest
from kafka import errors as kafka_errors

from services.ingest.inbox import (
    ATOMIC_SETTLE_SECONDS,
    Backoff,
    Pending,
    RecentlyTaken,
    Refused,
    destination,
    is_article_name,
    open_for_writing,
    too_large,
    what_to_read,
)
from services.ingest.publish import on_publish_error, read_bounded
from services.ingest.watch import batches

A = PurePath("outlet-x/2024/a.txt")
SIG = (1, 100, 1_000)


@pytest.mark.parametrize(
    ("name", "taken"),
    [
        ("a.txt", True),
        ("outlet-x/2024/a.txt", True),
        (".a.txt", False),
        ("a.txt.part", False),
        ("a.txt.tmp", False),
        ("a.txt.crdownload", False),
        ("a.txt~", False),
        (".staging/a.txt", False),
        ("outlet/.git/a.txt", False),
    ],
)
def test_article_names(name: str, taken: bool) -> None:
    assert is_article_name(PurePath(name)) is taken


def test_a_file_is_due_once_unchanged_for_the_settle_time() -> None:
    p = Pending(settle=2.0)
    p.note(A, 0.0)
    assert p.due(5.0) == []  # never looked at: no signature yet
    p.observe(A, SIG, 0.0)
    assert p.due(1.9) == []
    p.observe(A, (1, 150, 1_500), 1.5)  # grew: the settle time starts again
    assert p.due(3.4) == []
    p.observe(A, (1, 150, 1_500), 3.5)
    assert p.due(3.5) == [A]
    p.observe(A, None, 4.0)  # gone
    assert p.due(10.0) == [] and A not in p.entries


def test_a_renamed_file_settles_fast_unless_written_in_place_afterwards() -> None:
    p = Pending(settle=2.0)
    p.note(A, 0.0, renamed=True)
    p.observe(A, SIG, 0.0)
    assert p.due(ATOMIC_SETTLE_SECONDS) == [A]
    p.observe(A, (1, 120, 2_000), 0.3)  # appended after the rename: the full settle time
    assert p.due(0.3 + ATOMIC_SETTLE_SECONDS) == []
    assert p.due(2.31) == [A]


def test_a_rename_over_a_pending_file_is_a_new_complete_file() -> None:
    p = Pending(settle=2.0)
    p.note(A, 0.0)
    p.observe(A, SIG, 0.0)
    p.note(A, 1.0, renamed=True)
    p.observe(A, (2, 300, 5_000), 1.0)  # another inode: the renamed file
    assert p.due(1.01 + ATOMIC_SETTLE_SECONDS) == [A]
    assert p.entries[A].first_seen == 0.0


def test_a_held_file_is_not_looked_at_until_its_recheck_time() -> None:
    p = Pending(settle=2.0)
    p.note(A, 0.0)
    p.refresh(0.0, lambda rel: SIG)
    p.hold(A, 3.0)
    assert p.due(2.5) == []
    looked: list[PurePath] = []

    def look(rel: PurePath) -> tuple[int, int, int]:
        looked.append(rel)
        return SIG

    p.refresh(2.5, look)
    assert looked == []
    p.refresh(3.0, lambda rel: (1, 999, 9_999))  # changed meanwhile: settles from now
    assert p.due(4.9) == [] and p.due(5.0) == [A]


def test_due_files_come_oldest_first() -> None:
    p = Pending(settle=1.0)
    for t, name in enumerate(("c.txt", "a.txt", "b.txt")):
        p.note(PurePath(name), float(t))
        p.observe(PurePath(name), SIG, float(t))
    assert [r.name for r in p.due(10.0)] == ["c.txt", "a.txt", "b.txt"]


def test_scan_finds_files_open_for_writing_only(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    w, r, rw, closed = (root / n for n in ("w.txt", "r.txt", "rw.txt", "closed.txt"))
    for p in (r, rw, closed):
        p.write_text("x")
    closed.open("a").close()
    outside = root.parent / f"outside-{os.getpid()}.txt"
    with w.open("w"), r.open("r"), rw.open("r+"), outside.open("w"):
        found = open_for_writing(root)
        assert found is not None, "this machine has /proc"
        assert found == {w, rw}
        started = time.perf_counter()
        for _ in range(20):
            open_for_writing(root)
        print(f"\n/proc scan: {(time.perf_counter() - started) / 20 * 1000:.1f} ms")
    outside.unlink()
    assert open_for_writing(root) == set()


def test_scan_without_proc_says_so(tmp_path: Path) -> None:
    assert open_for_writing(tmp_path, proc=tmp_path / "no-proc") is None


def test_a_name_taken_recently_is_refused_with_the_reason() -> None:
    taken = RecentlyTaken(window=300.0)
    taken.add(A, 100.0)
    reason = taken.reappeared(A, 112.4)
    assert reason is not None
    assert "outlet-x/2024/a.txt was taken 12 s before" in reason
    assert "tail of a file still being written" in reason and "new name" in reason
    assert "after 300 s" in reason
    assert taken.reappeared(A, 400.0) is None  # outside the window
    assert taken.reappeared(A, 99.0) is None  # seen before that take: the same file
    assert taken.reappeared(PurePath("a.txt"), 101.0) is None  # another path


def test_the_taken_record_is_bounded_and_forgets_old_names() -> None:
    taken = RecentlyTaken(window=300.0, limit=3)
    for i in range(5):
        taken.add(PurePath(f"{i}.txt"), float(i))
    assert list(taken.taken) == [PurePath(f"{i}.txt") for i in (2, 3, 4)]
    taken.add(PurePath("late.txt"), 303.5)  # 2, 3 are older than the window now
    assert list(taken.taken) == [PurePath("4.txt"), PurePath("late.txt")]


def test_destination_mirrors_sub_folders_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "rejected"
    assert destination(out, A, lambda p: False) == out / "outlet-x/2024/a.txt"
    used = {out / "outlet-x/2024/a.txt", out / "outlet-x/2024/a.1.txt.error.txt"}
    assert destination(out, A, used.__contains__) == out / "outlet-x/2024/a.2.txt"


def test_links_inside_are_read_outside_and_dangling_ones_are_refused(tmp_path: Path) -> None:
    inbox = (tmp_path / "inbox").resolve()
    (inbox / "sub").mkdir(parents=True)
    real = inbox / "sub" / "real.txt"
    real.write_text("text")
    (tmp_path / "secret.txt").write_text("secret")
    links = {
        "inside.txt": "sub/real.txt",
        "outside.txt": str(tmp_path / "secret.txt"),
        "dangling.txt": "missing.txt",
        "loop.txt": "loop.txt",
        "folder": "sub",
        "out-folder": str(tmp_path),
    }
    for name, target in links.items():
        (inbox / name).symlink_to(target)
    assert what_to_read(real, inbox) == real
    assert what_to_read(inbox / "inside.txt", inbox) == real
    outside = what_to_read(inbox / "outside.txt", inbox)
    assert isinstance(outside, Refused) and f"{tmp_path}/secret.txt, outside the inbox" in (
        outside.reason
    )
    dangling = what_to_read(inbox / "dangling.txt", inbox)
    assert isinstance(dangling, Refused) and "dangling" in dangling.reason
    assert isinstance(what_to_read(inbox / "loop.txt", inbox), Refused)
    assert what_to_read(inbox / "folder", inbox) is None  # a shortcut inside: left alone
    assert isinstance(what_to_read(inbox / "out-folder", inbox), Refused)
    os.mkfifo(inbox / "pipe.txt")
    pipe = what_to_read(inbox / "pipe.txt", inbox)
    assert isinstance(pipe, Refused) and "not a regular file" in pipe.reason


def test_bounded_read_opens_no_link_and_no_pipe(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"x" * 10)
    assert read_bounded(tmp_path / "a.txt", 10) == b"x" * 10
    over = read_bounded(tmp_path / "a.txt", 9)
    assert isinstance(over, Refused) and "10 bytes" in over.reason
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    with pytest.raises(OSError):
        read_bounded(tmp_path / "link.txt", 10)
    os.mkfifo(tmp_path / "pipe.txt")
    assert isinstance(read_bounded(tmp_path / "pipe.txt", 10), Refused)  # and did not block


def test_size_reason_names_the_limit_and_the_setting() -> None:
    assert too_large(4 * 2**20, 4 * 2**20) is None
    reason = too_large(60 * 2**20, 4 * 2**20)
    assert reason == (
        "too large: 62,914,560 bytes (60.0 MB) > limit 4,194,304 bytes (4.0 MB);"
        " raise NEWSPIPE_INGEST__MAX_BYTES to accept it"
    )


@pytest.mark.parametrize(
    ("exc", "action"),
    [
        (kafka_errors.MessageSizeTooLargeError("big"), "reject"),
        (kafka_errors.InvalidTopicError(), "reject"),
        (kafka_errors.CorruptRecordError(), "reject"),
        (ValueError("topic name is invalid"), "reject"),
        (kafka_errors.KafkaTimeoutError("Unable to bootstrap"), "wait"),
        (kafka_errors.KafkaConnectionError("111 ECONNREFUSED"), "wait"),
        (kafka_errors.NotEnoughReplicasError(), "wait"),
        (kafka_errors.TopicAuthorizationFailedError(), "wait"),
        (ConnectionRefusedError(), "wait"),
    ],
)
def test_kafka_errors_reject_the_file_or_wait(exc: Exception, action: str) -> None:
    assert on_publish_error(exc) == action


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    b = Backoff(first=1.0, cap=30.0)
    assert b.ready(0.0)
    assert [b.failed(0.0) for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert not b.ready(29.9) and b.ready(30.0)
    b.succeeded()
    assert b.ready(0.0) and b.failed(0.0) == 1.0


def test_a_ticks_files_are_grouped_by_count_and_size(tmp_path: Path) -> None:
    sizes = [10, 10, 10, 50, 10, 0]
    ready = []
    for i, size in enumerate(sizes):
        (tmp_path / f"{i}.txt").write_bytes(b"x" * size)
        ready.append((PurePath(f"{i}.txt"), tmp_path / f"{i}.txt"))
    ready.append((PurePath("gone.txt"), tmp_path / "gone.txt"))  # gone: counted as empty
    groups = [[rel.name for rel, _ in g] for g in batches(ready, files=3, size=40)]
    # 3 files at most; 40 bytes at most unless one file alone is larger (the 50-byte one)
    assert groups == [["0.txt", "1.txt", "2.txt"], ["3.txt"], ["4.txt", "5.txt", "gone.txt"]]
    assert [[r for r, _ in g] for g in batches(ready[:2])] == [[r for r, _ in ready[:2]]]
    assert list(batches([])) == []
