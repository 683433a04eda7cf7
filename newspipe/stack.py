"""The local stack without Docker: Kafka (KRaft, one node) and Elasticsearch (integ-test-zip),
fetched once from Maven Central with `mvn` into the cache folder, run on 127.0.0.1 with their
data, logs and pid files under one state folder. Standard library only."""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

from newspipe.config import StackSettings

log = logging.getLogger("newspipe.stack")
LOCAL = Path(__file__).resolve().parents[1] / "deploy" / "local"
START_TIMEOUT = 120.0  # ES on a loaded 2-core box took up to ~11 s; leave room for CI noise


class StackError(Exception):
    """The stack cannot start or stop; the message says why and what to change."""


# --- fetching -------------------------------------------------------------------------------


def _mvn(s: StackSettings, *args: str, pom: Path | None = None) -> None:
    cmd = ["mvn", "-B", "-q", f"-Dmaven.repo.local={s.cache_dir / 'm2'}"]
    if pom:
        cmd += ["-f", str(pom)]
    result = subprocess.run([*cmd, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"mvn failed ({' '.join(args[:1])}):\n{result.stdout[-2000:]}")


def kafka_home(s: StackSettings) -> Path:
    return s.cache_dir / f"kafka-{s.kafka_version}"


def es_dist(s: StackSettings) -> Path:
    return s.cache_dir / f"elasticsearch-{s.es_version}"


def fetch(s: StackSettings) -> None:
    """Download both servers once; a marker file marks a complete download."""
    s.cache_dir.mkdir(parents=True, exist_ok=True)
    home = kafka_home(s)
    if not (home / ".complete").exists():
        log.info("fetching Apache Kafka %s jars from Maven Central", s.kafka_version)
        tmp = home.with_name(home.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        _mvn(
            s,
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-Dkafka.version={s.kafka_version}",
            f"-DoutputDirectory={tmp / 'lib'}",
            pom=LOCAL / "kafka-pom.xml",
        )
        (tmp / ".complete").touch()
        shutil.rmtree(home, ignore_errors=True)
        tmp.rename(home)
    dist = es_dist(s)
    if not (dist / ".complete").exists():
        log.info("fetching Elasticsearch %s (integ-test-zip) from Maven Central", s.es_version)
        tmp = dist.with_name(dist.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        _mvn(
            s,
            "dependency:copy",
            f"-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:"
            f"{s.es_version}:zip",
            f"-DoutputDirectory={tmp}",
        )
        archive = next(tmp.glob("*.zip"))
        _unzip(archive, tmp)
        archive.unlink()
        (tmp / ".complete").touch()
        shutil.rmtree(dist, ignore_errors=True)
        tmp.rename(dist)


def _unzip(archive: Path, target: Path) -> None:
    """Extract keeping the Unix permissions (zipfile drops them: bin/elasticsearch must be +x)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


# --- processes --------------------------------------------------------------------------------


def _pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _check_ports(ports: dict[int, str]) -> None:
    for port, setting in ports.items():
        if _port_open(port):
            raise StackError(
                f"port {port} on 127.0.0.1 is already in use by another program; "
                f"stop it or choose another port with {setting}"
            )


def _java_home(s: StackSettings) -> Path:
    if s.java_home:
        return s.java_home
    java = shutil.which("java")
    if not java:
        raise StackError("no `java` on PATH: install Java 17+ or set NEWSPIPE_STACK__JAVA_HOME")
    return Path(os.path.realpath(java)).parent.parent


def _wait(what: str, ready: Any, pidfile: Path, logfile: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        if time.monotonic() > deadline - START_TIMEOUT + 5 and _pid(pidfile) is None:
            break  # the process died
        time.sleep(0.3)
    tail = logfile.read_text("utf-8", "replace")[-3000:] if logfile.exists() else "(no log)"
    raise StackError(f"{what} did not become ready; end of {logfile}:\n{tail}")


# --- Kafka ------------------------------------------------------------------------------------


def _kafka_dir(s: StackSettings) -> Path:
    return s.state_dir / "kafka"


def _kafka_properties(s: StackSettings) -> str:
    data = _kafka_dir(s) / "data"
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{s.kafka_controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},"
            f"CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data}",
            "num.partitions=3",  # faust's auto-created topics match news.raw (faust-state notes)
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "min.insync.replicas=1",
            "auto.create.topics.enable=true",  # faust creates its changelog topics itself
            "group.initial.rebalance.delay.ms=0",  # one node: no point waiting for more members
            "",
        ]
    )


def start_kafka(s: StackSettings) -> None:
    home, kdir = kafka_home(s), _kafka_dir(s)
    pidfile, logfile = kdir / "kafka.pid", kdir / "kafka.out"
    if _pid(pidfile):
        log.info("Kafka already running (pid %s)", _pid(pidfile))
        return
    _check_ports(
        {
            s.kafka_port: "NEWSPIPE_STACK__KAFKA_PORT",
            s.kafka_controller_port: "NEWSPIPE_STACK__KAFKA_CONTROLLER_PORT",
        }
    )
    kdir.mkdir(parents=True, exist_ok=True)
    props = kdir / "server.properties"
    props.write_text(_kafka_properties(s))
    cluster = kdir / "cluster.id"
    if not cluster.exists():
        cluster.write_text(uuid.uuid4().hex[:22])  # any 22-char id; StorageTool stores it
    java = [
        str(_java_home(s) / "bin" / "java"),
        f"-Xms{s.kafka_heap}",
        f"-Xmx{s.kafka_heap}",
        f"-Dlog4j.configuration=file:{LOCAL / 'log4j.properties'}",
        "-cp",
        f"{home / 'lib'}/*",
    ]
    fmt = subprocess.run(
        [
            *java,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster.read_text().strip(),
            "-c",
            str(props),
            "--ignore-formatted",
        ],
        capture_output=True,
        text=True,
    )
    if fmt.returncode != 0:
        raise StackError(f"Kafka storage format failed:\n{fmt.stdout[-2000:]}{fmt.stderr[-2000:]}")
    with logfile.open("ab") as out:
        proc = subprocess.Popen(
            [*java, "kafka.Kafka", str(props)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pidfile.write_text(str(proc.pid))
    _wait(
        "Kafka",
        lambda: _port_open(s.kafka_port) and b"started" in logfile.read_bytes()[-20000:],
        pidfile,
        logfile,
    )
    log.info("Kafka %s up on 127.0.0.1:%d (pid %d)", s.kafka_version, s.kafka_port, proc.pid)


# --- Elasticsearch ----------------------------------------------------------------------------


def _es_dir(s: StackSettings) -> Path:
    return s.state_dir / "elasticsearch"


def _es_config(s: StackSettings) -> str:
    es = _es_dir(s)
    return "\n".join(
        [
            "cluster.name: newspipe-local",
            "node.name: node-1",
            "discovery.type: single-node",
            "network.host: 127.0.0.1",
            f"http.port: {s.es_port}",
            f"transport.port: {s.es_transport_port}",
            "xpack.security.enabled: false",  # local only, bound to 127.0.0.1
            "cluster.routing.allocation.disk.threshold_enabled: false",  # shared dev disks fill up
            f"path.data: {es / 'data'}",
            f"path.logs: {es / 'logs'}",
            "",
        ]
    )


def _es_user(s: StackSettings) -> str | None:
    """Elasticsearch refuses to run as root: as root, run it as an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(s.es_user)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", s.es_user],
            check=True,
        )
    return s.es_user


def _grant(path: Path, user: str) -> None:
    """Let `user` own `path` and traverse (x only, not read) every parent folder."""
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _es_healthy(s: StackSettings) -> bool:
    url = f"http://127.0.0.1:{s.es_port}/_cluster/health?wait_for_status=yellow&timeout=1s"
    try:  # GET / answers 405 on this build: health is the readiness check
        with urllib.request.urlopen(url, timeout=3) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def start_es(s: StackSettings) -> None:
    es = _es_dir(s)
    pidfile, logfile = es / "es.pid", es / "es.out"
    if _pid(pidfile):
        log.info("Elasticsearch already running (pid %s)", _pid(pidfile))
        return
    _check_ports(
        {
            s.es_port: "NEWSPIPE_STACK__ES_PORT",
            s.es_transport_port: "NEWSPIPE_STACK__ES_TRANSPORT_PORT",
        }
    )
    home = es / "home"  # a private copy: ES writes into its config folder (keystore, jvm opts)
    if not home.exists():
        shutil.copytree(next(p for p in es_dist(s).iterdir() if p.is_dir()), home, symlinks=True)
    (home / "config" / "elasticsearch.yml").write_text(_es_config(s))
    for sub in ("data", "logs"):
        (es / sub).mkdir(parents=True, exist_ok=True)
    pidfile.unlink(missing_ok=True)
    user = _es_user(s)
    if user:
        _grant(es, user)
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(_java_home(s)),
        "ES_JAVA_OPTS": f"-Xms{s.es_heap} -Xmx{s.es_heap}",
    }
    cmd = [str(home / "bin" / "elasticsearch"), "-d", "-p", str(pidfile)]
    if user:
        cmd = [
            "runuser",
            "-u",
            user,
            "--",
            "env",
            f"ES_JAVA_HOME={env['ES_JAVA_HOME']}",
            f"ES_JAVA_OPTS={env['ES_JAVA_OPTS']}",
            *cmd,
        ]
    with logfile.open("ab") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        tail = logfile.read_text("utf-8", "replace")[-3000:]
        raise StackError(f"Elasticsearch failed to start (exit {result.returncode}):\n{tail}")
    _wait("Elasticsearch", lambda: _es_healthy(s), pidfile, logfile)
    log.info("Elasticsearch %s up on 127.0.0.1:%d (pid %s)", s.es_version, s.es_port, _pid(pidfile))


# --- the commands -----------------------------------------------------------------------------


def up(s: StackSettings) -> None:
    fetch(s)
    start_kafka(s)
    start_es(s)


def _stop(name: str, pidfile: Path) -> None:
    pid = _pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _pid(pidfile):
        time.sleep(0.2)
    if _pid(pidfile):
        log.warning("%s did not stop in 30 s: killing pid %d", name, pid)
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    log.info("%s stopped", name)


def down(s: StackSettings) -> None:
    _stop("Elasticsearch", _es_dir(s) / "es.pid")
    _stop("Kafka", _kafka_dir(s) / "kafka.pid")


def status(s: StackSettings) -> list[dict[str, Any]]:
    kpid, epid = _pid(_kafka_dir(s) / "kafka.pid"), _pid(_es_dir(s) / "es.pid")
    return [
        {
            "name": f"kafka {s.kafka_version}",
            "pid": kpid,
            "running": bool(kpid),
            "healthy": bool(kpid) and _port_open(s.kafka_port),
            "address": f"127.0.0.1:{s.kafka_port}",
            "data_dir": str(_kafka_dir(s) / "data"),
            "log_file": str(_kafka_dir(s) / "kafka.out"),
        },
        {
            "name": f"elasticsearch {s.es_version}",
            "pid": epid,
            "running": bool(epid),
            "healthy": bool(epid) and _es_healthy(s),
            "address": f"http://127.0.0.1:{s.es_port}",
            "data_dir": str(_es_dir(s) / "data"),
            "log_file": str(_es_dir(s) / "es.out"),
        },
    ]
