"""The ingest I/O loop: inbox folder -> parse -> news.raw -> move the file (after the broker acked).

watchdog reports file events; a file is taken once its size and mtime have not changed for
`settle_seconds` (a writer still copying it would change them). Files already in the inbox at start
are taken too, so nothing dropped while the service was down is missed.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaProducer
from tenacity import retry, stop_after_attempt, wait_exponential
from tqdm import tqdm
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from newspipe.config import IngestSettings, KafkaSettings, kafka_client_kwargs
from newspipe.contract import RawArticle
from services.ingest.parse import Rejected, parse

log = logging.getLogger("newspipe.ingest")
_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")


class Publisher:
    """kafka-python producer: acks=all, keyed by article id, one blocking confirm per article."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.topic = kafka.raw_topic
        self.producer = KafkaProducer(
            **kafka_client_kwargs(kafka),
            acks="all",
            linger_ms=10,
            retries=5,
            max_in_flight_requests_per_connection=1,  # keep per-key order across retries
            key_serializer=str.encode,
        )

    def send(self, article: RawArticle) -> object:
        return self.producer.send(self.topic, key=article.id, value=article.to_bytes())

    @retry(stop=stop_after_attempt(5), wait=wait_exponential(min=0.5, max=8), reraise=True)
    def publish(self, article: RawArticle) -> None:
        self.send(article).get(timeout=30)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


def is_candidate(path: Path) -> bool:
    name = path.name
    return path.is_file() and not name.startswith(".") and not name.endswith(_IGNORED_SUFFIXES)


def _free_target(folder: Path, name: str) -> Path:
    """A path in `folder` for `name` that does not overwrite an earlier file of the same name."""
    target = folder / name
    n = 1
    while target.exists() or target.with_name(target.name + ".error.txt").exists():
        target = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return target


def take(path: Path, publisher: Publisher, cfg: IngestSettings) -> str:
    """Parse one settled file, publish it, then move it. Returns the outcome for the summary."""
    outcome = parse(path.name, path.read_bytes(), datetime.now(UTC))
    if isinstance(outcome, Rejected):
        cfg.rejected.mkdir(parents=True, exist_ok=True)
        target = _free_target(cfg.rejected, path.name)
        shutil.move(str(path), target)
        target.with_name(target.name + ".error.txt").write_text(outcome.reason + "\n", "utf-8")
        log.warning("rejected %s: %s", path.name, outcome.reason)
        return "rejected"
    publisher.publish(outcome)  # raises after retries: the file stays in the inbox
    cfg.processed.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), _free_target(cfg.processed, path.name))
    log.info("published %s as %s", path.name, outcome.id[:12])
    return "published"


class _Events(FileSystemEventHandler):
    def __init__(self, seen: queue.Queue[Path]) -> None:
        self.seen = seen

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        target = getattr(event, "dest_path", "") or event.src_path
        self.seen.put(Path(os.fsdecode(target)))


def _settled(pending: dict[Path, tuple[float, int, float]], settle: float) -> Iterator[Path]:
    """Yield pending files whose (size, mtime) stayed the same for `settle` seconds."""
    now = time.monotonic()
    for path, (since, size, mtime) in list(pending.items()):
        try:
            st = path.stat()
        except FileNotFoundError:
            del pending[path]
            continue
        if (st.st_size, st.st_mtime) != (size, mtime):
            pending[path] = (now, st.st_size, st.st_mtime)
        elif now - since >= settle:
            del pending[path]
            yield path


def watch(kafka: KafkaSettings, cfg: IngestSettings, stop: threading.Event | None = None) -> None:
    cfg.inbox.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    seen: queue.Queue[Path] = queue.Queue()
    observer = Observer()
    observer.schedule(_Events(seen), str(cfg.inbox), recursive=False)
    observer.start()
    for existing in sorted(cfg.inbox.iterdir()):
        seen.put(existing)
    publisher = Publisher(kafka)
    pending: dict[Path, tuple[float, int, float]] = {}
    log.info("watching %s (settle %.1fs)", cfg.inbox.resolve(), cfg.settle_seconds)
    try:
        while not stop.is_set():
            _drain(seen, pending)
            for path in _settled(pending, cfg.settle_seconds):
                if is_candidate(path):
                    take(path, publisher, cfg)
            stop.wait(0.1)
    finally:
        observer.stop()
        observer.join()
        publisher.close()


def _drain(seen: queue.Queue[Path], pending: dict[Path, tuple[float, int, float]]) -> None:
    while True:
        try:
            path = seen.get_nowait()
        except queue.Empty:
            return
        if path not in pending and path.exists():
            pending[path] = (time.monotonic(), -1, -1.0)


def article_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if is_candidate(p))


def replay(kafka: KafkaSettings, paths: Iterable[Path]) -> dict[str, int]:
    """Publish every article file (not moved); unparsable ones are reported, not published."""
    files = [f for p in paths for f in (article_files(p) if p.is_dir() else [p])]
    publisher = Publisher(kafka)
    counts = {"published": 0, "rejected": 0}
    futures = []
    for path in tqdm(files, desc="replay", unit="file"):
        outcome = parse(str(path), path.read_bytes(), datetime.now(UTC))
        if isinstance(outcome, Rejected):
            counts["rejected"] += 1
            log.warning("not published %s: %s", path, outcome.reason)
            continue
        futures.append(publisher.send(outcome))
    for future in futures:
        future.get(timeout=60)  # type: ignore[attr-defined]
        counts["published"] += 1
    publisher.close()
    return counts
