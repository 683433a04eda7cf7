"""The servers' processes: the `_Server`/`_Launch` descriptions, pid files (telling our pid from a
reused one), signals, port checks, waiting for readiness, and the launch logs (tail, rotation)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("newspipe.tools.stack")

START_TIMEOUT = 90.0  # ES takes ~10 s on a 2-core box, Kafka ~3 s: 90 s covers a loaded CI machine
LAUNCH_MARKER = "--- newspipe stack: launching"  # heads each launch's output in *.out
STOP_TIMEOUT = 30.0  # Kafka's controlled shutdown and ES's flush take 1-5 s; then SIGKILL


class StackError(Exception):
    """The stack cannot start or stop; the message says why and which setting to change."""

    __module__ = "newspipe.tools.stack"  # its public home: tracebacks name it as before the split


@dataclass(frozen=True)
class _Server:
    name: str
    version: str
    folder: Path
    pidfile: Path
    outfile: Path  # the launch's stdout/stderr
    logfile: Path  # the server's own log (the same file for Kafka)
    data_dir: Path
    address: str
    ports: tuple[tuple[int, str, str], ...]  # (port, what it is, the setting that moves it)
    marker: str  # starts an argument of our process's command line: tells our pid from a reused one
    healthy: Callable[[], bool]
    launched_with: str  # version, ports, heap: a running server with others must be restarted

    @property
    def stamp(self) -> Path:
        return self.folder / "launched-with"


@dataclass(frozen=True)
class _Launch:
    srv: _Server
    alive: Callable[[], bool]  # booting or running; False once the process died
    group: int  # its process group (start_new_session): killed whole if `up` fails midway


# --- starting -------------------------------------------------------------------------------


def _already_up(srv: _Server) -> bool:
    """True when the process its pid file names is ours and alive (waiting if still booting)."""
    pid = _running_pid(srv)
    if pid is None:
        srv.pidfile.unlink(missing_ok=True)  # stale: its process is gone
        return False
    stamp = _read(srv.stamp)  # absent for a server launched before stamps existed: trust it
    if stamp and stamp != srv.launched_with:
        raise StackError(
            f"{srv.name} (pid {pid}) runs with other settings (version ports heap: {stamp}; "
            f"wanted {srv.launched_with}): run `newspipe stack down` first, then `up`"
        )
    if not srv.healthy():
        log.info("%s is running (pid %d) but not answering yet: waiting", srv.name, pid)
        _wait([_Launch(srv, lambda: _running_pid(srv) is not None, pid)])
    log.info("%s %s already up on %s (pid %d)", srv.name, srv.version, srv.address, pid)
    return True


def _check_ports(srv: _Server) -> None:
    for port, what, setting in srv.ports:
        if _port_open(port):
            raise StackError(
                f"port {port} ({what}) on 127.0.0.1 is already in use by another program, not "
                f"by the {srv.name} of {srv.folder}. Stop that program, or pick a free port: "
                f"{setting}=<port>"
            )


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(launched: list[_Launch]) -> None:
    """Until every server answers; fails fast when one's process dies, else after START_TIMEOUT."""
    started = time.monotonic()
    pending = list(launched)
    while pending:
        for one in list(pending):
            if one.srv.healthy():
                pending.remove(one)
                took = time.monotonic() - started
                pid = _running_pid(one.srv)
                log.info("%s up on %s (pid %s) in %.1f s", one.srv.name, one.srv.address, pid, took)
            elif not one.alive():
                raise StackError(f"{one.srv.name} exited while starting{_tail(one.srv)}")
        if pending and time.monotonic() - started > START_TIMEOUT:
            names = " and ".join(one.srv.name for one in pending)
            tails = "".join(_tail(one.srv) for one in pending)
            raise StackError(f"{names} not ready after {START_TIMEOUT:.0f} s{tails}")
        time.sleep(0.25)


# --- launch logs ----------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _rotate(path: Path, limit: int = 20 * 2**20) -> None:
    """Keep one previous launch log once it passes `limit`: Kafka logs ~0.5 MB/min under tests."""
    if path.exists() and path.stat().st_size > limit:
        path.replace(path.with_name(path.name + ".1"))


def _tail(srv: _Server, lines: int = 40) -> str:
    """This launch's output (after our marker line); the server's own log when that says little."""
    out = _last_lines(srv.outfile, lines).split(LAUNCH_MARKER)[-1].partition("\n")[2].strip()
    text = f"\n--- {srv.outfile} (this launch):\n{out}" if out else ""
    if srv.logfile != srv.outfile and out.count("\n") < 3 and srv.logfile.exists():
        text += f"\n--- {srv.logfile}:\n{_last_lines(srv.logfile, 20)}"
    return text or f"\n(nothing logged yet under {srv.folder})"


def _last_lines(path: Path, n: int) -> str:
    try:
        data = path.read_bytes()[-30000:]
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-n:])


# --- pids and stopping ----------------------------------------------------------------------


def _running_pid(srv: _Server) -> int | None:
    """The pid in the pid file, if that process is alive and is our server (pids get reused)."""
    try:
        pid = int(srv.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # no /proc (not Linux): trust the pid file
        return pid
    return pid if any(arg.startswith(srv.marker.encode()) for arg in args) else None


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):  # reap our own exited child: a zombie looks alive
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _stop(servers: list[_Server]) -> None:
    running = {srv.name: pid for srv in servers if (pid := _running_pid(srv))}
    for name, pid in running.items():
        log.info("stopping %s (pid %d)", name, pid)
        _signal(pid, signal.SIGTERM)
    left = _await_exit(list(running.values()), STOP_TIMEOUT)
    for pid in left:
        log.warning("pid %d did not stop in %.0f s: SIGKILL", pid, STOP_TIMEOUT)
        _signal(pid, signal.SIGKILL)
    _await_exit(left, 5.0)
    for srv in servers:
        srv.pidfile.unlink(missing_ok=True)
    if running:
        log.info("stopped %s", ", ".join(running))


def _abort(launched: list[_Launch]) -> None:
    _stop([one.srv for one in launched])
    for one in launched:  # an ES launcher still booting has no pid file yet
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(one.group, signal.SIGKILL)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise StackError(f"not allowed to stop pid {pid}: run `stack down` as its owner") from exc


def _await_exit(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = [pid for pid in pids if _alive(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [pid for pid in left if _alive(pid)]
    return left
