"""Logging in one place, and the one way a service waits out an unreachable dependency.

One summary line per batch at INFO, per-message lines at DEBUG. A dependency (Kafka,
Elasticsearch) that goes away gives one WARNING when the wait starts and one INFO when it ends,
never a line per retry; the client libraries' own per-retry lines are collapsed by `_Repeats`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import orjson
from tenacity import Retrying, retry_if_exception, wait_exponential

from newspipe.ops import DEPENDENCY_UP, HEALTH, OUTAGE_SECONDS, RETRIES

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
T = TypeVar("T")
# Client libraries log each failed connection attempt (kafka-python at ERROR, every backoff step;
# aiokafka/faust once per fetch loop: 17k lines in one outage). One line per repeat window is kept.
REPEAT_WINDOW = 300.0
# The one retry policy: 0.5 s, doubling, capped at 30 s (a dependency back after an outage is
# noticed within 30 s). Blocking calls use Dependency.call; the enrich app's async sends and the
# ingest loop's non-blocking Backoff follow the same numbers.
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


class _Repeats(logging.Filter):
    """Drops a library record whose (logger, level, template) was emitted in the last window;
    the next one after the window says how many were dropped."""

    def __init__(self, window: float = REPEAT_WINDOW) -> None:
        super().__init__()
        self.window = window
        self.seen: dict[tuple[str, int, str], tuple[float, int]] = {}
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("newspipe") or record.levelno >= logging.CRITICAL:
            return True
        key = (record.name, record.levelno, str(record.msg)[:80])
        now = time.monotonic()
        with self.lock:
            last, dropped = self.seen.get(key, (-self.window, 0))
            if now - last < self.window:
                self.seen[key] = (last, dropped + 1)
                return False
            self.seen[key] = (now, 0)
            if len(self.seen) > 10_000:  # templates are few; this only bounds a pathological case
                self.seen.clear()
        if dropped:
            record.msg = f"{record.msg} [{dropped} similar lines in the last {self.window:.0f} s]"
        return True


def collapse_repeats(logger: logging.Logger) -> None:
    """Put the repeat filter on the logger's handlers (again after a framework, such as faust's
    worker, replaced the root logger's handlers with its own)."""
    for handler in logger.handlers:
        if not any(isinstance(f, _Repeats) for f in handler.filters):
            handler.addFilter(_Repeats())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, service, stage, logger, message, and the
    article, alert or file a line is about when the caller says so (`extra={"article": id}`).
    Settings are never logged whole, so no secret reaches a line (clients.py, config.describe)."""

    FIELDS = ("article", "alert", "file")

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        name = record.name
        stage = name.split(".")[1] if name.startswith("newspipe.") else name.split(".")[0]
        out: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "stage": stage,
            "logger": name,
            "message": record.getMessage(),
        }
        for key in self.FIELDS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


_FORMATTER: logging.Formatter = logging.Formatter(FORMAT)


def use_format(logger: logging.Logger) -> None:
    """Put the chosen format on the logger's handlers (again after faust replaced them)."""
    for handler in logger.handlers:
        handler.setFormatter(_FORMATTER)


def setup_logging(level: str, fmt: str = "text", service: str = "newspipe") -> None:
    global _FORMATTER
    _FORMATTER = JsonFormatter(service) if fmt == "json" else logging.Formatter(FORMAT)
    logging.basicConfig(level=level.upper(), format=FORMAT)
    use_format(logging.getLogger())
    collapse_repeats(logging.getLogger())
    # Client libraries log every connection at INFO; their warnings still show (collapsed).
    # httpx logs every request with its full URL, and a webhook's path often carries a token.
    for noisy in ("kafka", "aiokafka", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The ES client logs each retried request with a traceback; our own line says it is waiting.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    # kafka-python's admin client warns on every faust group it cannot decode (readiness polls).
    logging.getLogger("kafka.admin").setLevel(logging.ERROR)


class Dependency:
    """A server a service needs; says once that it is waiting for it and once that it is back."""

    def __init__(self, name: str, log: logging.Logger) -> None:
        self.name, self.log = name, log
        self.down_since: float | None = None

    def lost(self, exc: BaseException) -> None:
        RETRIES.labels(self.name).inc()
        DEPENDENCY_UP.labels(self.name).set(0)
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.log.warning("%s unreachable (%s): waiting", self.name, _short(exc))

    def back(self) -> None:
        DEPENDENCY_UP.labels(self.name).set(1)
        if self.down_since is not None:
            waited = time.monotonic() - self.down_since
            OUTAGE_SECONDS.labels(self.name).inc(waited)
            self.down_since = None
            self.log.info("%s reachable again after %.0f s", self.name, waited)

    def call(
        self,
        fn: Callable[[], T],
        transient: Callable[[BaseException], bool],
        stop: threading.Event | None = None,
    ) -> T:
        """`fn()`, retried with capped backoff for as long as it fails transiently (an outage of
        any length is waited out; `stop` ends the wait by raising the last error)."""
        stop = stop or threading.Event()
        retrying = Retrying(
            retry=retry_if_exception(transient),
            wait=wait_exponential(multiplier=FIRST_BACKOFF, max=MAX_BACKOFF),
            stop=lambda _state: stop.is_set(),
            sleep=lambda seconds: _wait(stop, seconds),
            before_sleep=lambda state: self.lost(state.outcome.exception()),  # type: ignore[union-attr,arg-type]
            reraise=True,
        )
        result = retrying(fn)
        self.back()
        return result


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    name = type(exc).__name__
    if text.startswith(name):  # kafka-python's errors already start with their type
        return text[:200]
    return f"{name}: {text[:200]}" if text else name


def _wait(stop: threading.Event, seconds: float) -> None:
    """Sleep between retries; the loop stays alive (liveness) while it waits for a server."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        HEALTH.beat()
        stop.wait(min(5.0, left))
