"""What an operator sees of each service without reading its log: Prometheus metrics, liveness and
readiness, on one small HTTP endpoint per service (127.0.0.1, ports in settings `ops`):

- `GET /metrics`: the series below, plus the process's own (`process_resident_memory_bytes`,
  CPU seconds, open files) from prometheus-client;
- `GET /healthz`: 200 while the service's loop runs (it beat within `STALL_AFTER` seconds, waits
  for a server that is away included), else 503: a hung process;
- `GET /readyz`: 200 when its servers are reachable and it is consuming, else 503 and why.

Each service imports the series it moves; a series with no value yet is still listed (the
operator's alert rules do not depend on whether something happened since the start).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

log = logging.getLogger("newspipe.ops")
STALL_AFTER = 60.0  # a loop silent this long is hung (outage waits beat every few seconds)

FILES = Counter(
    "newspipe_files_total",
    "Files the inbox took: published, or rejected (reason: the kind of refusal)",
    ["outcome", "reason"],
)
CONSUMED = Counter("newspipe_messages_consumed_total", "Messages consumed", ["stage"])
PRODUCED = Counter(
    "newspipe_messages_produced_total", "Messages produced, per topic", ["stage", "topic"]
)
DEAD_LETTERS = Counter(
    "newspipe_dead_letters_total", "Messages sent to the dead-letter topic", ["stage", "reason"]
)
ENRICH_SECONDS = Histogram(
    "newspipe_enrich_seconds",
    "Enrichment time per article",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LINK_SECONDS = Histogram(
    "newspipe_link_seconds",
    "Near-duplicate and story decision time per article",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1),
)
BULK_DOCUMENTS = Histogram(
    "newspipe_bulk_documents",
    "Documents per Elasticsearch bulk request",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
BULK_SECONDS = Histogram(
    "newspipe_bulk_seconds",
    "Elasticsearch bulk request time",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DROP_TO_SEARCHABLE = Histogram(
    "newspipe_drop_to_searchable_seconds",
    "From an article's ingestion to its bulk write acknowledged (refresh adds up to 1 s); "
    "articles first seen over an hour earlier (replays) are not counted",
    buckets=(0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 300, 3600),
)
RETRIES = Counter(
    "newspipe_retries_total", "Retries of a call to an unreachable server", ["dependency"]
)
OUTAGE_SECONDS = Counter(
    "newspipe_outage_seconds_total", "Seconds spent waiting for a server", ["dependency"]
)
DEPENDENCY_UP = Gauge(
    "newspipe_dependency_up",
    "1 when the server answered the last call, 0 while waited for",
    ["dependency"],
)
ALERTS = Counter("newspipe_alerts_total", "Alerts raised by the watches", ["watch", "trigger"])
ALERT_FAILURES = Counter(
    "newspipe_alert_failures_total",
    "Batches whose watches could not be evaluated (a bug or a refused request: see the log)",
)
WEBHOOKS = Counter("newspipe_webhook_deliveries_total", "Alerts POSTed to webhooks", ["outcome"])
LAST_BEAT = Gauge("newspipe_loop_last_beat_seconds", "Unix time the service's loop last ran")


def reason_class(reason: str) -> str:
    """A bounded label for a free-text reason: its first words, ids and numbers dropped."""
    head = reason.split(":", 1)[0].strip().lower()
    words = [w.strip(".,;()[]'\"") for w in head.replace("_", " ").split()]
    words = [w for w in words if w.isalpha()][:4]
    return " ".join(words) or "other"


class Health:
    """The process's liveness (its loop beats) and readiness (named checks, each None when fine
    or the reason it is not ready)."""

    def __init__(self, stall_after: float = STALL_AFTER) -> None:
        self.stall_after = stall_after
        self.last = time.monotonic()
        self.checks: dict[str, Callable[[], str | None]] = {}

    def beat(self) -> None:
        self.last = time.monotonic()
        LAST_BEAT.set_to_current_time()

    def alive(self) -> tuple[bool, str]:
        age = time.monotonic() - self.last
        if age > self.stall_after:
            return False, f"loop silent for {age:.0f} s"
        return True, f"loop ran {age:.1f} s ago"

    def ready(self) -> tuple[bool, str]:
        alive, detail = self.alive()
        if not alive:
            return False, detail
        problems = []
        for name, check in self.checks.items():
            try:
                problem = check()
            except Exception as exc:  # a check must answer, not take the endpoint down
                problem = f"{name} check failed: {type(exc).__name__}"
            if problem:
                problems.append(problem)
        return (False, "; ".join(problems)) if problems else (True, "ready")


HEALTH = Health()  # one per process: each service is its own process


class Lag(Collector):
    """`newspipe_consumer_lag{group,topic,partition}`, read from the broker on each scrape
    (cached `ttl` seconds); nothing when the broker does not answer."""

    def __init__(self, read: Callable[[], list[dict[str, Any]]], ttl: float = 5.0) -> None:
        self.read, self.ttl = read, ttl
        self.cached: tuple[float, list[dict[str, Any]]] = (0.0, [])
        self.lock = threading.Lock()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "newspipe_consumer_lag",
            "Messages not yet consumed, per consumer group, topic and partition",
            labels=["group", "topic", "partition"],
        )
        with self.lock:
            at, rows = self.cached
            if time.monotonic() - at > self.ttl:
                try:
                    rows = self.read()
                except Exception as exc:
                    log.debug("consumer lag not read: %s", exc)
                    rows = []
                self.cached = (time.monotonic(), rows)
        for row in rows:
            family.add_metric([row["group"], row["topic"], str(row["partition"])], row["lag"])
        yield family


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/metrics"):
            self._answer(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        elif self.path.startswith("/healthz"):
            ok, detail = HEALTH.alive()
            self._answer(200 if ok else 503, detail.encode() + b"\n")
        elif self.path.startswith("/readyz"):
            ok, detail = HEALTH.ready()
            self._answer(200 if ok else 503, detail.encode() + b"\n")
        else:
            self._answer(404, b"/metrics, /healthz or /readyz\n")

    def _answer(self, status: int, body: bytes, kind: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # scrapes every few seconds: not worth a line
        pass


def serve(service: str, host: str, port: int) -> ThreadingHTTPServer | None:
    """Start the endpoint in a daemon thread; a port in use is a warning, not a failed service
    (its work matters more than its metrics)."""
    try:
        server = ThreadingHTTPServer((host, port), _Handler)
    except OSError as exc:
        log.warning(
            "%s: metrics and health endpoint not started on %s:%d (%s)", service, host, port, exc
        )
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ops-endpoint", daemon=True).start()
    log.info(
        "%s: metrics on http://%s:%d/metrics, health on /healthz and /readyz", service, host, port
    )
    return server
