"""The local stack without Docker: fetches Apache Kafka and Elasticsearch from Maven Central once
(`mvn`, into the cache folder) and runs one KRaft node and one ES node on 127.0.0.1, with data, logs
and pid files under the state folder. Standard library and the settings model only (no Kafka or
Elasticsearch client), so it runs before the servers do."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import logging
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newspipe.config import StackSettings

__all__ = ["StackError", "down", "fetch", "status", "up"]
SERVERS = ("kafka", "elasticsearch")

log = logging.getLogger("newspipe.tools.stack")

LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"
# Pinned: without a version Maven resolves the newest plugin from remote metadata on each run.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MARKER = ".complete"  # written last in a download folder: its absence means "fetch again"
START_TIMEOUT = 90.0  # ES takes ~10 s on a 2-core box, Kafka ~3 s: 90 s covers a loaded CI machine
LAUNCH_MARKER = "--- newspipe stack: launching"  # heads each launch's output in *.out
STOP_TIMEOUT = 30.0  # Kafka's controlled shutdown and ES's flush take 1-5 s; then SIGKILL


class StackError(Exception):
    """The stack cannot start or stop; the message says why and which setting to change."""


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


# --- the commands ---------------------------------------------------------------------------


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


def _abort(launched: list[_Launch]) -> None:
    _stop([one.srv for one in launched])
    for one in launched:  # an ES launcher still booting has no pid file yet
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(one.group, signal.SIGKILL)


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


# --- fetching -------------------------------------------------------------------------------


def kafka_home(s: StackSettings) -> Path:
    return s.cache_dir / f"kafka-{s.kafka_version}"


def es_dist(s: StackSettings) -> Path:
    """The unzipped distribution; the zip's own top folder is kept inside it."""
    return s.cache_dir / f"elasticsearch-{s.es_version}"


def fetch(s: StackSettings) -> None:
    """Download both servers unless a previous complete download is in the cache."""
    s.cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(s.cache_dir / ".lock"):  # `make run` and `make test` share one cache
        _fetch_once(kafka_home(s), f"Apache Kafka {s.kafka_version}", lambda t: _fill_kafka(s, t))
        _fetch_once(es_dist(s), f"Elasticsearch {s.es_version}", lambda t: _fill_es(s, t))


def _fetch_once(target: Path, what: str, fill: Callable[[Path], None]) -> None:
    """Fill a temp folder, mark it complete, then rename: an interrupted fetch is never taken
    for a complete one (the rename is atomic; a leftover .partial is wiped next time)."""
    if (target / MARKER).exists():
        return
    log.info("fetching %s from Maven Central into %s", what, target)
    started = time.monotonic()
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fill(tmp)
    (tmp / MARKER).touch()
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    log.info("fetched %s in %.1f s", what, time.monotonic() - started)


def _fill_kafka(s: StackSettings, tmp: Path) -> None:
    _mvn(
        s,
        "-f",
        str(_local("kafka-pom.xml")),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",  # compile scope alone misses server/raft/metadata
        f"-Dkafka.version={s.kafka_version}",
        f"-DoutputDirectory={tmp / 'lib'}",
    )


def _fill_es(s: StackSettings, tmp: Path) -> None:
    artifact = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{s.es_version}:zip"
    _mvn(s, f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={tmp}")
    for archive in tmp.glob("*.zip"):
        _unzip(archive, tmp)
        archive.unlink()
    if not (tmp / _es_dist_home(s).name / "bin" / "elasticsearch").exists():
        raise StackError(f"the Elasticsearch {s.es_version} zip has no bin/elasticsearch")


def _mvn(s: StackSettings, *args: str) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("`mvn` is not on PATH: install Maven 3.6+ (apt-get install maven)")
    # -B -q: no progress bars; the Maven repo lives in the cache folder, deleted with it.
    cmd = [mvn, "-B", "-q", f"-Dmaven.repo.local={s.cache_dir / 'm2'}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        out = (done.stdout + done.stderr)[-3000:]
        raise StackError(f"mvn failed (exit {done.returncode}): {' '.join(cmd)}\n{out}")


def _unzip(archive: Path, target: Path) -> None:
    """Extract keeping Unix modes (zipfile drops them, and bin/elasticsearch must stay +x)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


def _local(name: str) -> Path:
    path = LOCAL / name
    if not path.exists():
        raise StackError(f"{path} is missing: the stack needs a source checkout (pip install -e .)")
    return path


# --- Kafka ----------------------------------------------------------------------------------


def _kafka(s: StackSettings) -> _Server:
    folder = s.state_dir / "kafka"
    return _Server(
        name="kafka",
        version=s.kafka_version,
        folder=folder,
        pidfile=folder / "kafka.pid",
        outfile=folder / "kafka.out",
        logfile=folder / "kafka.out",
        data_dir=folder / "data",
        address=f"127.0.0.1:{s.kafka_port}",
        ports=(
            (s.kafka_port, "Kafka", "NEWSPIPE_STACK__KAFKA_PORT"),
            (s.kafka_controller_port, "KRaft controller", "NEWSPIPE_STACK__KAFKA_CONTROLLER_PORT"),
        ),
        marker=str(folder / "server.properties"),
        healthy=lambda: _kafka_answers(s.kafka_port),
        launched_with=f"{s.kafka_version} {s.kafka_port} {s.kafka_controller_port} {s.kafka_heap}",
    )


def _kafka_properties(s: StackSettings) -> str:
    data = s.state_dir / "kafka" / "data"
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{s.kafka_controller_port}
listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
# one node: every replication factor and ISR minimum is 1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
# faust creates its changelog/repartition topics itself; 3 matches news.raw's partitions
num.partitions=3
auto.create.topics.enable=true
# one node, short-lived test groups: waiting 3 s for more members only slows every test
group.initial.rebalance.delay.ms=0
"""


def _kafka_java(s: StackSettings, heap: str) -> list[str]:
    return [
        str(_java_home(s) / "bin" / "java"),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        f"-Dlog4j.configuration=file:{_local('log4j.properties')}",
        "-cp",
        f"{kafka_home(s) / 'lib'}/*",  # a classpath wildcard: java expands it, not the shell
    ]


def _format_kafka(s: StackSettings, props: Path) -> None:
    """StorageTool format, once: skipped when the log dir already holds meta.properties (saves a
    ~1.5 s JVM start on every restart); --ignore-formatted covers the race anyway."""
    if (s.state_dir / "kafka" / "data" / "meta.properties").exists():
        return
    id_file = s.state_dir / "kafka" / "cluster.id"
    if not id_file.exists():  # Kafka's Uuid: 16 random bytes, url-safe base64 without padding
        id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    tool = [*_kafka_java(s, "256m"), "kafka.tools.StorageTool", "format"]
    args = ["-t", id_file.read_text().strip(), "-c", str(props), "--ignore-formatted"]
    done = subprocess.run([*tool, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise StackError(f"Kafka storage format failed:\n{(done.stdout + done.stderr)[-3000:]}")


def _launch_kafka(s: StackSettings) -> _Launch:
    srv = _kafka(s)
    srv.folder.mkdir(parents=True, exist_ok=True)
    props = srv.folder / "server.properties"
    props.write_text(_kafka_properties(s))
    _format_kafka(s, props)
    with srv.outfile.open("ab") as out:
        proc = subprocess.Popen(
            [*_kafka_java(s, s.kafka_heap), "kafka.Kafka", str(props)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=srv.folder,
            start_new_session=True,  # outlives this process and Ctrl-C in its terminal
        )
    srv.pidfile.write_text(f"{proc.pid}\n")
    return _Launch(srv, lambda: proc.poll() is None, proc.pid)


def _kafka_answers(port: int) -> bool:
    """A real protocol check: an ApiVersions v0 request answered with error code 0. The broker
    opens its port only once it is unfenced, so this means "clients can work now"."""
    correlation, client = 7, b"newspipe-stack"
    # header: api key 18 (ApiVersions), version 0, correlation id, client id; v0 has no body
    body = struct.pack(">hhih", 18, 0, correlation, len(client)) + client
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            (size,) = struct.unpack(">i", _recv(sock, 4))
            reply = _recv(sock, min(size, 6))
    except OSError:
        return False
    return len(reply) == 6 and struct.unpack(">ih", reply) == (correlation, 0)


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


# --- Elasticsearch --------------------------------------------------------------------------


def _es(s: StackSettings) -> _Server:
    folder = s.state_dir / "elasticsearch"
    return _Server(
        name="elasticsearch",
        version=s.es_version,
        folder=folder,
        pidfile=folder / "es.pid",
        outfile=folder / "es.out",
        logfile=folder / "logs" / "newspipe-local.log",  # <path.logs>/<cluster.name>.log
        data_dir=folder / "data",
        address=f"http://127.0.0.1:{s.es_port}",
        ports=(
            (s.es_port, "Elasticsearch HTTP", "NEWSPIPE_STACK__ES_PORT"),
            (s.es_transport_port, "Elasticsearch transport", "NEWSPIPE_STACK__ES_TRANSPORT_PORT"),
        ),
        marker=f"-Des.path.home={folder}/",  # the node's java, not the launcher
        healthy=lambda: _es_healthy(s.es_port),
        launched_with=f"{s.es_version} {s.es_port} {s.es_transport_port} {s.es_heap}",
    )


def _es_config(s: StackSettings) -> str:
    folder = s.state_dir / "elasticsearch"
    # Only core settings: this stripped build refuses settings of modules it lacks.
    return f"""\
cluster.name: newspipe-local
node.name: node-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: {s.es_port}
transport.port: {s.es_transport_port}
# bound to 127.0.0.1 only; with security on, every client would need the generated password
xpack.security.enabled: false
# a dev disk over 90 % full would otherwise turn every index read-only
cluster.routing.allocation.disk.threshold_enabled: false
path.data: {folder / "data"}
path.logs: {folder / "logs"}
"""


def _es_dist_home(s: StackSettings) -> Path:
    return es_dist(s) / f"elasticsearch-{s.es_version}"


def _es_home(s: StackSettings) -> Path:
    """A private ES home per version in the state folder: ES writes into config/ (its keystore),
    which the ES user must own. Files are hard links into the cache (no 100 MB copy, ~0.1 s),
    except config/, which is a real copy so that chown never reaches the cache."""
    home = s.state_dir / "elasticsearch" / f"home-{s.es_version}"
    for old in home.parent.glob("home*"):  # other versions', half-made or pre-versioned ones:
        if old != home:  # unused, since ES is not running (we are about to start it)
            shutil.rmtree(old, ignore_errors=True)
    if home.exists():
        return home
    tmp = home.with_name(home.name + ".partial")
    src = _es_dist_home(s)
    shutil.copytree(src, tmp, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("config"))
    shutil.copytree(src / "config", tmp / "config")
    tmp.rename(home)
    return home


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem
        shutil.copy2(src, dst)
    return dst


def _es_user(s: StackSettings) -> str | None:
    """ES refuses to run as root: as root, run it as an unprivileged system user (made once)."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        pwd.getpwnam(s.es_user)
        return s.es_user
    log.info("creating system user %r to run Elasticsearch", s.es_user)
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    done = subprocess.run([*cmd, s.es_user], capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"useradd {s.es_user} failed: {done.stderr.strip()}")
    return s.es_user


def _grant(folder: Path, home: Path, user: str) -> None:
    """Let `user` write what ES writes (its folder, data, logs, config) and traverse (x, not r)
    every parent folder. Trees already owned by the user are not walked again."""
    pw = pwd.getpwnam(user)
    for tree in (folder / "data", folder / "logs", home / "config"):
        if tree.stat().st_uid != pw.pw_uid:
            for root, dirs, files in os.walk(tree):
                for name in (*dirs, *files):
                    os.lchown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
        os.chown(tree, pw.pw_uid, pw.pw_gid)
    for own in (folder, home):  # the pid file goes in folder; home only holds dirs made by us
        os.chown(own, pw.pw_uid, pw.pw_gid)
    for parent in folder.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _es_command(s: StackSettings, home: Path, pidfile: Path, user: str | None) -> list[str]:
    # `env` rather than Popen(env=...): runuser would not pass our environment through as is.
    cmd = [
        "env",
        "-u",
        "ES_PATH_CONF",  # an exported one would point ES at another config
        f"ES_JAVA_HOME={_java_home(s)}",  # the integ-test zip bundles no JDK
        f"ES_JAVA_OPTS=-Xms{s.es_heap} -Xmx{s.es_heap}",  # else it takes half the machine
        str(home / "bin" / "elasticsearch"),
        "-d",  # daemonize: returns once the node has started (or failed)
        "-p",
        str(pidfile),
    ]
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def _launch_es(s: StackSettings) -> _Launch:
    srv = _es(s)
    home = _es_home(s)
    (home / "config" / "elasticsearch.yml").write_text(_es_config(s))
    for sub in (srv.folder / "data", srv.folder / "logs"):
        sub.mkdir(parents=True, exist_ok=True)
    user = _es_user(s)
    if user:
        _grant(srv.folder, home, user)
    with srv.outfile.open("ab") as out:  # the launcher returns once the node is up (or failed)
        launcher = subprocess.Popen(
            _es_command(s, home, srv.pidfile, user),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home,
            start_new_session=True,  # Ctrl-C in this terminal must not reach the node
        )

    def alive() -> bool:  # booting (launcher still waiting), or launched and running
        code = launcher.poll()
        return code is None or (code == 0 and _running_pid(srv) is not None)

    return _Launch(srv, alive, launcher.pid)


def _es_healthy(port: int) -> bool:
    # GET / answers 405 on this build: cluster health is the readiness check.
    url = f"http://127.0.0.1:{port}/_cluster/health?wait_for_status=yellow&timeout=1s"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return bool(resp.status == 200)
    except OSError:  # refused, timeout, or HTTP 408 (not yellow yet)
        return False


# --- processes ------------------------------------------------------------------------------


_Launcher = Callable[[StackSettings], _Launch]


def _servers(s: StackSettings) -> list[tuple[_Server, _Launcher]]:
    """Each server with its launcher, which returns an "is the process still alive" probe."""
    return [(_kafka(s), _launch_kafka), (_es(s), _launch_es)]


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


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _rotate(path: Path, limit: int = 20 * 2**20) -> None:
    """Keep one previous launch log once it passes `limit`: Kafka logs ~0.5 MB/min under tests."""
    if path.exists() and path.stat().st_size > limit:
        path.replace(path.with_name(path.name + ".1"))


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


def _java_home(s: StackSettings) -> Path:
    if s.java_home:
        return s.java_home
    java = shutil.which("java")
    if not java:
        raise StackError("no `java` on PATH: install Java 17+ or set NEWSPIPE_STACK__JAVA_HOME")
    return Path(os.path.realpath(java)).parents[1]  # /usr/lib/jvm/<jdk>/bin/java -> <jdk>


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Read-only is enough for flock: a user who may not write a shared cache can still lock it.
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
