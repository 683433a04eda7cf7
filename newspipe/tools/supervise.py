"""`newspipe run`'s process supervisor: the services as child processes; one that exits is
restarted with capped backoff and logged, while the others keep running. A child that answers
its health endpoint as unhealthy (its loop hung) or not ready (a server away, no partition) is
reported once when that starts and once when it ends."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("newspipe.run")
MAX_BACKOFF = 60.0  # a service that keeps failing is retried once a minute, not in a tight loop
HEALTHY_AFTER = 60.0  # a child that ran this long before exiting starts its backoff afresh
STOP_TIMEOUT = 30.0  # faust flushes and leaves its group in ~2 s; the indexer finishes a batch
HEALTH_EVERY = 5.0  # seconds between two probes of a child's endpoint
HEALTH_GRACE = 30.0  # a child this young is still starting: not probed


@dataclass
class Child:
    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = field(default=0)
    health_url: str | None = None  # its /healthz and /readyz
    state: str = "starting"  # the last state reported

    def launch(self) -> None:
        self.proc, self.started_at, self.restart_at = self.start(), time.monotonic(), None

    def backoff(self) -> float:
        return float(min(MAX_BACKOFF, 2 ** (self.failures - 1)))


def supervise(children: list[Child], stop: threading.Event, tick: float = 0.5) -> None:
    """Run until `stop` is set; then SIGTERM every child and wait for it."""
    for child in children:
        child.launch()
    threading.Thread(target=_monitor, args=(children, stop), name="health", daemon=True).start()
    try:
        while not stop.wait(tick):
            for child in children:
                _check(child)
    finally:
        _terminate(children)


def _check(child: Child) -> None:
    now = time.monotonic()
    if child.restart_at is not None:
        if now >= child.restart_at:
            child.restarts += 1
            log.info("restarting %s (restart %d)", child.name, child.restarts)
            child.launch()
        return
    code = child.proc.poll() if child.proc else 0
    if code is None:
        return
    ran = now - child.started_at
    child.failures = 1 if ran >= HEALTHY_AFTER else child.failures + 1
    child.restart_at = now + child.backoff()
    log.error(
        "%s exited with code %s after %.0f s; restarting in %.0f s (the other services keep "
        "running)",
        child.name,
        code,
        ran,
        child.backoff(),
    )


def _terminate(children: list[Child]) -> None:
    running = [c.proc for c in children if c.proc is not None and c.proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for proc in running:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("pid %d did not stop in %.0f s: SIGKILL", proc.pid, STOP_TIMEOUT)
            proc.kill()
            proc.wait()


def _monitor(children: list[Child], stop: threading.Event) -> None:
    from newspipe.tools.status import health

    while not stop.wait(HEALTH_EVERY):
        for child in children:
            running = child.proc is not None and child.proc.poll() is None
            young = time.monotonic() - child.started_at < HEALTH_GRACE
            if child.health_url is None or not running or young:
                continue
            _report(child, health(child.health_url))


def _report(child: Child, state: str) -> None:
    """Log a child's health when it changes: an error when unhealthy or silent, a warning when
    not ready, a line when it is well again."""
    if state == child.state:
        return
    previous, child.state = child.state, state
    if state == "alive, ready":
        if previous != "starting":
            log.info("%s healthy and ready again", child.name)
    elif state.startswith("alive, not ready"):
        log.warning("%s is %s", child.name, state)
    else:
        log.error("%s is %s (%s)", child.name, state, child.health_url)
