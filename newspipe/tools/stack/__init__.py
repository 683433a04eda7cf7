"""The local stack without Docker: fetches Apache Kafka and Elasticsearch from Maven Central once
(`mvn`, into the cache folder) and runs one KRaft node and one ES node on 127.0.0.1, with data, logs
and pid files under the state folder. Standard library and the settings model only (no Kafka or
Elasticsearch client), so it runs before the servers do.

This module holds the commands (`up`, `down`, `status`); `download` fetches the servers, `kafka`
and `elasticsearch` describe, configure and launch each one, `processes` runs and stops them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from newspipe.config import StackSettings
from newspipe.tools.stack.download import _locked, es_dist, fetch, kafka_home
from newspipe.tools.stack.elasticsearch import _es, _launch_es
from newspipe.tools.stack.kafka import _kafka, _launch_kafka
from newspipe.tools.stack.processes import (
    LAUNCH_MARKER,
    StackError,
    _abort,
    _already_up,
    _check_ports,
    _Launch,
    _rotate,
    _running_pid,
    _Server,
    _stop,
    _wait,
)

__all__ = ["SERVERS", "StackError", "down", "es_dist", "fetch", "kafka_home", "status", "up"]
SERVERS = ("kafka", "elasticsearch")

log = logging.getLogger("newspipe.tools.stack")

_Launcher = Callable[[StackSettings], _Launch]


def up(s: StackSettings) -> None:
    """Fetch (once), start and wait for both servers; a server already up and healthy is left be.
    On failure the servers this call launched are stopped again, so a retry starts clean."""
    s.state_dir.mkdir(parents=True, exist_ok=True)
    with _locked(s.state_dir / ".lock"):  # two `up`s on one state folder would race on pid files
        fetch(s)
        todo = [(srv, launch) for srv, launch in _servers(s) if not _already_up(srv)]
        for srv, _ in todo:  # every conflict is reported before anything starts
            _check_ports(srv)
        launched: list[_Launch] = []
        try:
            for (
                srv,
                launch,
            ) in todo:  # Kafka boots while ES's launcher runs; then both are waited for
                log.info("starting %s %s on %s", srv.name, srv.version, srv.address)
                srv.folder.mkdir(parents=True, exist_ok=True)
                _rotate(srv.outfile)
                with srv.outfile.open("a") as out:  # tells this launch's lines from the last one's
                    out.write(f"{LAUNCH_MARKER} {srv.name} at {time.ctime()}\n")
                srv.stamp.write_text(srv.launched_with)
                launched.append(launch(s))
            _wait(launched)
        except BaseException:  # StackError, or Ctrl-C while waiting
            _abort(launched)
            raise


def down(s: StackSettings, only: tuple[str, ...] = SERVERS) -> None:
    """SIGTERM the servers (both, or those named), wait up to STOP_TIMEOUT, then SIGKILL;
    idempotent. `up` starts again whichever is down (used to rehearse outages)."""
    s.state_dir.mkdir(parents=True, exist_ok=True)
    with _locked(s.state_dir / ".lock"):
        _stop([srv for srv, _ in _servers(s) if srv.name in only])


def status(s: StackSettings) -> list[dict[str, Any]]:
    """One row per server: name, version, pid, running, healthy, address, data_dir, log_file."""
    rows = []
    for srv in (_kafka(s), _es(s)):
        pid = _running_pid(srv)
        rows.append(
            {
                "name": srv.name,
                "version": srv.version,
                "pid": pid,
                "running": pid is not None,
                "healthy": pid is not None and srv.healthy(),
                "address": srv.address,
                "data_dir": str(srv.data_dir),
                "log_file": str(srv.logfile),
            }
        )
    return rows


def _servers(s: StackSettings) -> list[tuple[_Server, _Launcher]]:
    """Each server with its launcher, which returns an "is the process still alive" probe."""
    return [(_kafka(s), _launch_kafka), (_es(s), _launch_es)]
