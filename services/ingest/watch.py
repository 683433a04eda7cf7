"""The ingest I/O loop: inbox folder (recursive) -> parse -> news.raw -> move the file to processed/
after the broker acked, or to rejected/ with `<name>.error.txt` saying why. Also `replay`.

The decisions (complete or not, reappeared, links, destinations, Kafka errors) are in inbox.py,
reading and the producer in publish.py; this module owns the watchdog observer, the loop's state
and moving files. One file never stops the loop: an error while reading, parsing or publishing it
rejects that file. A Kafka that is down (at start or later) keeps the files in the inbox, is
retried with capped backoff and said once, while the inbox is still watched and files that need no
broker (too large, bad links, reappeared names) are still rejected.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path, PurePath

from kafka.errors import KafkaError
from tqdm import tqdm
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper

from newspipe.config import IngestSettings, KafkaSettings
from newspipe.contract import RawArticle
from newspipe.obs import Dependency
from newspipe.ops import FILES, HEALTH, PRODUCED, reason_class
from services.ingest.inbox import (
    HELD_RECHECK_SECONDS,
    SIDECAR_WAIT_SECONDS,
    Backoff,
    Pending,
    RecentlyTaken,
    Refused,
    Signature,
    destination,
    is_article_name,
    is_page_asset,
    is_sidecar,
    open_for_writing,
    sidecar_names,
    sidecar_owners,
    signature,
    size_limit,
    too_large,
    what_to_read,
)
from services.ingest.parse import SIDECAR_SUFFIX, Parsed, Rejected
from services.ingest.publish import Publisher, load, on_publish_error, short

log = logging.getLogger("newspipe.ingest")
TICK_SECONDS = 0.05
# watchdog holds every IN_MOVED_FROM 0.5 s, waiting for its IN_MOVED_TO, and the events queued
# behind it wait too: each file the loop moves out to processed/ held the next arrivals back half a
# second. A rename's two events are read together from the kernel, so 50 ms still pairs them.
MOVE_PAIR_SECONDS = 0.05
# The files due in a tick are published together (one wait for their acks), in groups this big:
# a backlog of large files is not all read into memory at once.
BATCH_FILES = 200
BATCH_BYTES = 64 * 2**20
REPLAY_FILES = 1000  # replay's groups: sent together, then their acks awaited


class _Events(FileSystemEventHandler):
    """watchdog events as (path, is_dir, renamed) for the loop. Opens and reads change nothing;
    a move out of the inbox has an empty destination."""

    def __init__(self, seen: queue.Queue[tuple[Path, bool, bool]]) -> None:
        self.seen = seen

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write", "deleted"):
            return
        renamed = event.event_type == "moved"
        path = os.fsdecode(event.dest_path if renamed else event.src_path)
        if path and (not event.is_directory or event.event_type in ("created", "moved")):
            self.seen.put((Path(path), event.is_directory, renamed))


def _observer() -> BaseObserver:
    """On Linux, report a file renamed in from elsewhere on the disk as a move (an atomic arrival),
    not as a creation."""
    if not sys.platform.startswith("linux"):
        return Observer()
    from watchdog.observers.inotify import InotifyObserver

    InotifyMoveEventGrouper.delay = MOVE_PAIR_SECONDS
    return InotifyObserver(generate_full_events=True)


def _walk(folder: Path) -> list[Path]:
    """Files and links under `folder`, links never followed (a link to a folder is listed)."""
    found: list[Path] = []
    for top, dirs, files in os.walk(folder):
        found.extend(Path(top, d) for d in dirs if os.path.islink(os.path.join(top, d)))
        found.extend(Path(top, f) for f in files)
    return sorted(found)


def _signature(path: Path) -> Signature | None:
    for look in (os.stat, os.lstat):  # lstat: a dangling link is still a file to reject
        try:
            return signature(look(path))
        except OSError:
            continue
    return None


def _real(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop
        return None


class Ingest:
    """The loop's state: files pending, names recently taken, the producer and Kafka's state."""

    def __init__(self, kafka: KafkaSettings, cfg: IngestSettings, stop: threading.Event) -> None:
        cfg.inbox.mkdir(parents=True, exist_ok=True)
        self.cfg, self.stop = cfg, stop
        self.inbox = cfg.inbox.resolve()
        # processed/ or rejected/ configured inside the inbox: their files are never taken again
        self.outputs = [p.resolve() for p in (cfg.processed, cfg.rejected)]
        self.seen: queue.Queue[tuple[Path, bool, bool]] = queue.Queue()
        self.pending = Pending(cfg.settle_seconds)
        self.taken = RecentlyTaken(window=cfg.reappear_seconds)
        self.publisher = Publisher(kafka, cfg)
        self.kafka = Dependency("Kafka", log)
        self.backoff = Backoff()
        self.topic = kafka.raw_topic
        HEALTH.checks["kafka"] = lambda: "Kafka unreachable" if self.kafka.down_since else None

    def run(self) -> None:
        observer = _observer()
        observer.schedule(_Events(self.seen), str(self.inbox), recursive=True)
        observer.start()
        self.seen.put((self.inbox, True, False))  # files already there, in every sub-folder
        log.info(
            "watching %s: a file is taken once unchanged %.1f s%s",
            self.inbox,
            self.cfg.settle_seconds,
            "" if Path("/proc/self/fdinfo").is_dir() else " (no /proc: open writers not seen)",
        )
        try:
            while not self.stop.is_set():
                HEALTH.beat()
                self.connect()
                self.tick()
                self.stop.wait(TICK_SECONDS)
        finally:
            observer.stop()
            observer.join()
            self.publisher.close()

    def connect(self) -> None:
        if self.publisher.producer is not None or not self.backoff.ready(time.monotonic()):
            return
        try:
            self.publisher.connect()
        except (KafkaError, OSError) as exc:
            self.unreachable(exc)
            return
        self.reachable()

    def unreachable(self, exc: BaseException) -> None:
        self.kafka.lost(exc)  # logs once per outage
        delay = self.backoff.failed(time.monotonic())
        log.debug("Kafka still unreachable (%s); next try in %.0f s", exc, delay)

    def reachable(self) -> None:
        self.backoff.succeeded()
        self.kafka.back()

    def tick(self) -> None:
        now = time.monotonic()
        self.drain(now)
        self.pending.refresh(now, lambda rel: _signature(self.inbox / rel))
        due = self.pending.due(now)
        writers = open_for_writing(self.inbox) if due else None
        ready: list[tuple[PurePath, Path]] = []  # published together, after the decisions
        for rel in due:
            if self.stop.is_set():
                return
            if rel not in self.pending.entries:
                continue  # a sidecar taken with its article earlier in this tick
            if writers and _real(self.inbox / rel) in writers:
                self.pending.hold(rel, now + HELD_RECHECK_SECONDS)
                log.debug("%s is open for writing: waiting", rel)
            elif is_sidecar(rel):
                self.sidecar_due(rel, now)
            elif is_page_asset(rel):
                log.debug("%s is a saved page's asset: moved unread", rel)
                self.finish(rel, None)
            elif (sidecar := self.sidecar_of(rel)) and not self.pending.settled(sidecar, now):
                self.pending.hold(rel, now + HELD_RECHECK_SECONDS)  # its sidecar is still written
            elif source := self.take(rel):
                ready.append((rel, source))
        for batch in batches(ready):
            if self.stop.is_set():
                return
            self.publish(batch)

    def sidecar_due(self, rel: PurePath, now: float) -> None:
        """A sidecar is taken with its article; one left alone too long is rejected."""
        if self.owners(rel) or now - self.pending.entries[rel].first_seen < SIDECAR_WAIT_SECONDS:
            self.pending.hold(rel, now + HELD_RECHECK_SECONDS)
        else:
            base = rel.name[: -len(SIDECAR_SUFFIX)]
            self.finish(
                rel,
                f"sidecar without an article: no file {base} or {base}.<format> arrived next to"
                f" it within {SIDECAR_WAIT_SECONDS:.0f} s; put the article next to it and move"
                " both back into the inbox",
            )

    def owners(self, sidecar: PurePath) -> list[PurePath]:
        try:
            names = os.listdir(self.inbox / sidecar.parent)
        except OSError:
            return []
        return sidecar_owners(sidecar, names)

    def sidecar_of(self, rel: PurePath) -> PurePath | None:
        """The article's sidecar in the inbox, if it has one."""
        return next((s for s in sidecar_names(rel) if os.path.isfile(self.inbox / s)), None)

    def drain(self, now: float) -> None:
        while True:
            try:
                path, is_dir, renamed = self.seen.get_nowait()
            except queue.Empty:
                return
            for p in _walk(path) if is_dir else [path]:
                if p.is_relative_to(self.inbox) and not any(map(p.is_relative_to, self.outputs)):
                    rel = p.relative_to(self.inbox)
                    if is_article_name(rel) and os.path.lexists(p):
                        self.pending.note(rel, now, renamed=renamed)

    def take(self, rel: PurePath) -> Path | None:
        """Reject the file, hold it while Kafka is unreachable, or return what to publish."""
        try:
            source = self.check(rel)
        except FileNotFoundError:  # gone since the last look
            self.pending.pop(rel)
            return None
        except OSError as exc:
            source = Refused(f"could not inspect the file: {short(exc)}")
        if source is None:  # a link to a folder in the inbox: left alone
            self.pending.pop(rel)
        elif isinstance(source, Refused):
            self.finish(rel, source.reason)
        elif self.publisher.producer is None or not self.backoff.ready(time.monotonic()):
            self.pending.hold(rel, self.backoff.next_try)
        else:
            return source
        return None

    def check(self, rel: PurePath) -> Path | Refused | None:
        """The decisions made without reading the file (no broker needed for them)."""
        reason = self.taken.reappeared(rel, self.pending.entries[rel].first_seen)
        if reason:
            return Refused(reason)
        source = what_to_read(self.inbox / rel, self.inbox)
        if isinstance(source, Path) and (
            reason := too_large(source.stat().st_size, *size_limit(rel, self.cfg))
        ):
            return Refused(reason)
        return source

    def publish(self, ready: list[tuple[PurePath, Path]]) -> None:
        """Read and parse the files, send them all, and move each once all its articles were
        acknowledged; a file Kafka refused is rejected, one it could not take now is held."""
        loaded: list[tuple[PurePath, Parsed, PurePath | None]] = []
        for rel, source in ready:
            sidecar = self.sidecar_of(rel)
            outcome = load(source, rel, self.cfg, self.inbox / sidecar if sidecar else None)
            if isinstance(outcome, Rejected):
                self.finish(rel, outcome.reason, sidecar=sidecar)
            else:
                loaded.append((rel, outcome, sidecar))
        if loaded:
            self.send(loaded)

    def send(self, loaded: list[tuple[PurePath, Parsed, PurePath | None]]) -> None:
        """Publish parsed files together; move each once acknowledged, reject one Kafka refused,
        hold them all while Kafka cannot take them."""
        errors = self.publisher.publish([parsed.articles for _, parsed, _ in loaded], self.stop)
        if errors is None:
            return  # stopping: the files stay in the inbox
        waited: BaseException | None = None
        for (rel, parsed, sidecar), exc in zip(loaded, errors, strict=True):
            if exc is None:
                self.finish(rel, None, parsed, sidecar)
            elif on_publish_error(exc) == "wait":
                waited = waited or exc  # held below, until the backoff's next try
            else:
                size = max(len(a.to_bytes()) for a in parsed.articles)
                reason = f"Kafka refused the message ({size:,} bytes): {short(exc)}"
                self.finish(rel, reason, sidecar=sidecar)
        if waited is None:
            if self.publisher.producer is not None:
                self.reachable()
            return
        self.publisher.reset()  # the next try on a fresh producer, not a wedged one
        self.unreachable(waited)
        for rel, _, _ in loaded:
            if rel in self.pending.entries:
                self.pending.hold(rel, self.backoff.next_try)

    def finish(
        self,
        rel: PurePath,
        reason: str | None,
        parsed: Parsed | None = None,
        sidecar: PurePath | None = None,
    ) -> None:
        """Move a taken file (and its sidecar) to processed/ (reason None) or rejected/ with its
        reason, mirroring its sub-folder, and remember its name for the reappear rule. An
        export's records that could not be published go to rejected/ under the file's name."""
        self.pending.pop(rel)
        self.taken.add(rel, time.monotonic())
        if reason is None and parsed is not None:
            ids = ", ".join(a.id[:12] for a in parsed.articles[:3])
            more = f" (+{len(parsed.articles) - 3})" if len(parsed.articles) > 3 else ""
            FILES.labels("published", "").inc()
            PRODUCED.labels("ingest", self.topic).inc(len(parsed.articles))
            extra = {"file": rel.as_posix(), "article": parsed.articles[0].id}
            log.info("published %s as %s%s", rel.as_posix(), ids, more, extra=extra)
        elif reason is not None:
            FILES.labels("rejected", reason_class(reason)).inc()
            log.warning("rejected %s: %s", rel.as_posix(), reason, extra={"file": rel.as_posix()})
        folder = self.cfg.processed if reason is None else self.cfg.rejected
        try:
            target = destination(folder, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(self.inbox / rel, target)  # a link is moved as a link, never followed
            if reason is not None:
                target.with_name(target.name + ".error.txt").write_text(reason + "\n", "utf-8")
            if sidecar is not None:
                self.move_sidecar(sidecar, target)
        except OSError as exc:
            log.error("could not move %s to %s: %s (left in the inbox)", rel, folder, exc)
        if parsed is not None and parsed.problems:
            self.put_aside(rel, parsed)

    def move_sidecar(self, sidecar: PurePath, article_target: Path) -> None:
        """Next to the article's new place, unless another article in the inbox shares it."""
        self.pending.pop(sidecar)
        if not self.owners(sidecar):
            shutil.move(
                self.inbox / sidecar, article_target.with_name(article_target.name + SIDECAR_SUFFIX)
            )

    def put_aside(self, rel: PurePath, parsed: Parsed) -> None:
        """An export's bad records, as they were, in rejected/ under the file's name, with one
        reason per record in the .error.txt: fixed, the file can be dropped in again."""
        problems = parsed.problems
        for problem in problems:
            log.warning("rejected %s: %s", rel.as_posix(), problem.reason)
        raws = [p.raw or "" for p in problems]
        text = (
            "\n".join(raws) + "\n"
            if rel.suffix.lower() != ".json"
            else ("[\n" + ",\n".join(raws) + "\n]\n")
        )
        note = (
            f"{len(problems)} record(s) of {rel.as_posix()} not published ({len(parsed.articles)}"
            f" published; the whole file is in {self.cfg.processed}):\n"
            + "".join(f"{p.reason}\n" for p in problems)
        )
        try:
            target = destination(self.cfg.rejected, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
            target.with_name(target.name + ".error.txt").write_text(note, "utf-8")
        except OSError as exc:
            log.error("could not write %s's rejected records: %s", rel, exc)


def batches(
    ready: list[tuple[PurePath, Path]], files: int = BATCH_FILES, size: int = BATCH_BYTES
) -> Iterable[list[tuple[PurePath, Path]]]:
    """The files due in one tick (or a replay's), in groups sent together: at most `files` files,
    and no more than `size` bytes on disk unless one file alone is larger."""
    batch: list[tuple[PurePath, Path]] = []
    total = 0
    for rel, source in ready:
        try:
            length = source.stat().st_size
        except OSError:
            length = 0  # gone or unreadable: load() says why
        if batch and (len(batch) >= files or total + length > size):
            yield batch
            batch, total = [], 0
        batch.append((rel, source))
        total += length
    if batch:
        yield batch


def watch(kafka: KafkaSettings, cfg: IngestSettings, stop: threading.Event | None = None) -> None:
    """Run the ingest loop until `stop` is set."""
    Ingest(kafka, cfg, stop or threading.Event()).run()


def article_files(folder: Path) -> list[Path]:
    return [
        p
        for p in _walk(folder)
        if p.is_file()  # links to files followed here
        and is_article_name(rel := p.relative_to(folder))
        and not is_sidecar(rel)
        and not is_page_asset(rel)
    ]


def named_article_files(paths: Iterable[Path]) -> list[tuple[Path, PurePath]]:
    """Each article file under `paths` with the name ingest gives it: relative to the folder it
    was found in, or its own name for a file given directly (replay and offline enrich)."""
    files: list[tuple[Path, PurePath]] = []
    for p in paths:
        found = article_files(p) if p.is_dir() else [p]
        files += [(f, f.relative_to(p) if p.is_dir() else PurePath(p.name)) for f in found]
    return files


def replay(kafka: KafkaSettings, paths: Iterable[Path], ingest: IngestSettings) -> dict[str, int]:
    """Publish every article under `paths` (files not moved; named relative to the folder given;
    each with its sidecar), in the watch loop's groups (`batches`: REPLAY_FILES files or
    BATCH_BYTES on disk): a group's articles sent together, then their acks awaited, so an archive
    is never held in memory whole. Counts articles published; files too large or unparsable, an
    export's bad records, and messages Kafka refuses are counted as not published."""
    publisher = Publisher(kafka, ingest, timeouts={})  # the library's patient defaults
    publisher.connect()
    counts = {"published": 0, "rejected": 0}
    files = [(rel, path) for path, rel in named_article_files(paths)]
    with tqdm(total=len(files), desc="replay", unit="file") as progress:
        for chunk in batches(files, REPLAY_FILES):
            group: list[tuple[Path, RawArticle]] = []
            for rel, path in chunk:
                group += [(path, a) for a in _replay_load(path, rel, ingest, counts)]
                progress.update()
            if publisher.producer is None:
                publisher.connect()  # dropped after a refusal
            outcomes = publisher.publish([[article] for _, article in group], threading.Event())
            assert outcomes is not None  # only a stop request gives None, and none is made here
            for (path, _), error in zip(group, outcomes, strict=True):
                counts["published" if error is None else "rejected"] += 1
                if error is not None:
                    log.warning("not published %s: %s", path, short(error))
    publisher.close()
    return counts


def _replay_load(
    path: Path, rel: PurePath, ingest: IngestSettings, counts: dict[str, int]
) -> list[RawArticle]:
    """One file's articles for replay (its sidecar read with it); what cannot be published is
    counted and logged."""
    sidecar = next((Path(s) for s in sidecar_names(path) if Path(s).is_file()), None)
    outcome = load(path.resolve(), rel, ingest, sidecar)  # links followed: replay is explicit
    if isinstance(outcome, Rejected):
        counts["rejected"] += 1
        log.warning("not published %s: %s", path, outcome.reason)
        return []
    for problem in outcome.problems:
        counts["rejected"] += 1
        log.warning("not published %s: %s", path, problem.reason)
    return outcome.articles
