"""The local stack's pure parts, without servers: Kafka's properties and ES's config from the
settings, the launched-with stamp and pid-file checks, the download marker, the port check, the
launch-log tail, and the path to deploy/local."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import newspipe.tools.stack as local
from newspipe.config import StackSettings
from newspipe.tools.stack.download import LOCAL, MARKER, _fetch_once
from newspipe.tools.stack.elasticsearch import _es, _es_config
from newspipe.tools.stack.kafka import _kafka, _kafka_properties
from newspipe.tools.stack.processes import (
    LAUNCH_MARKER,
    StackError,
    _already_up,
    _check_ports,
    _running_pid,
    _Server,
    _tail,
)


def settings(tmp: Path, **kw: object) -> StackSettings:
    base: dict[str, object] = {
        "state_dir": tmp / "state",
        "cache_dir": tmp / "cache",
        "kafka_port": 31092,
        "kafka_controller_port": 31093,
        "es_port": 31200,
        "es_transport_port": 31300,
    }
    return StackSettings.model_validate(base | kw)


def test_public_api() -> None:
    assert local.SERVERS == ("kafka", "elasticsearch")
    for name in ("up", "down", "status", "fetch", "StackError", "kafka_home", "es_dist"):
        assert hasattr(local, name)
    assert local.StackError is StackError


def test_local_folder_is_deploy_local() -> None:
    assert LOCAL.parts[-2:] == ("deploy", "local")
    assert (LOCAL / "kafka-pom.xml").exists()
    assert (LOCAL / "log4j.properties").exists()


def test_kafka_properties_use_the_ports(tmp_path: Path) -> None:
    s = settings(tmp_path)
    lines = _kafka_properties(s).splitlines()
    assert "listeners=PLAINTEXT://127.0.0.1:31092,CONTROLLER://127.0.0.1:31093" in lines
    assert "advertised.listeners=PLAINTEXT://127.0.0.1:31092" in lines
    assert "controller.quorum.voters=1@127.0.0.1:31093" in lines
    assert f"log.dirs={tmp_path / 'state' / 'kafka' / 'data'}" in lines
    assert "offsets.topic.replication.factor=1" in lines


def test_es_config_uses_the_ports_and_state_folder(tmp_path: Path) -> None:
    s = settings(tmp_path)
    lines = _es_config(s).splitlines()
    folder = tmp_path / "state" / "elasticsearch"
    assert "http.port: 31200" in lines
    assert "transport.port: 31300" in lines
    assert "network.host: 127.0.0.1" in lines
    assert "discovery.type: single-node" in lines
    assert "xpack.security.enabled: false" in lines
    assert f"path.data: {folder / 'data'}" in lines
    assert f"path.logs: {folder / 'logs'}" in lines


def test_launched_with_names_version_ports_heap(tmp_path: Path) -> None:
    s = settings(tmp_path, kafka_heap="300m", es_heap="400m")
    kafka, es = _kafka(s), _es(s)
    assert kafka.launched_with == f"{s.kafka_version} 31092 31093 300m"
    assert es.launched_with == f"{s.es_version} 31200 31300 400m"
    assert kafka.stamp == tmp_path / "state" / "kafka" / "launched-with"
    assert es.marker == f"-Des.path.home={tmp_path / 'state' / 'elasticsearch'}/"


def server(folder: Path, marker: str, launched_with: str = "v 1 2 512m") -> _Server:
    folder.mkdir(parents=True, exist_ok=True)
    return _Server(
        name="fake",
        version="v",
        folder=folder,
        pidfile=folder / "fake.pid",
        outfile=folder / "fake.out",
        logfile=folder / "fake.out",
        data_dir=folder / "data",
        address="127.0.0.1:1",
        ports=(),
        marker=marker,
        healthy=lambda: True,
        launched_with=launched_with,
    )


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A live process whose command line carries a marker argument, like our servers."""
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs /proc (Linux): the pid check reads /proc/<pid>/cmdline")
    marker = str(tmp_path / "server.properties")
    code = "import time; time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, marker])
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    deadline = time.monotonic() + 10
    while marker.encode() not in cmdline.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)  # until exec: before it, the child still shows pytest's command line
    yield proc, marker
    proc.kill()
    proc.wait()


def test_stale_pid_file_is_removed(tmp_path: Path) -> None:
    srv = server(tmp_path / "s", "whatever")
    srv.pidfile.write_text("999999999\n")
    assert _running_pid(srv) is None
    assert not _already_up(srv)
    assert not srv.pidfile.exists()


def test_reused_pid_is_not_ours(
    tmp_path: Path, sleeper: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, _ = sleeper
    srv = server(tmp_path / "s", "/some/other/server.properties")
    srv.pidfile.write_text(f"{proc.pid}\n")
    assert _running_pid(srv) is None


def test_stamp_decides_whether_a_running_server_is_kept(
    tmp_path: Path, sleeper: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, marker = sleeper
    srv = server(tmp_path / "s", marker, launched_with="v 1 2 512m")
    srv.pidfile.write_text(f"{proc.pid}\n")
    assert _running_pid(srv) == proc.pid
    assert _already_up(srv)  # no stamp (launched before stamps existed): trusted
    srv.stamp.write_text("v 1 2 512m")
    assert _already_up(srv)
    srv.stamp.write_text("v 1 3 512m")
    with pytest.raises(StackError, match=r"runs with other settings .*stack down"):
        _already_up(srv)


def test_fetch_once_marks_complete_and_skips_after(tmp_path: Path) -> None:
    target = tmp_path / "kafka-x"
    calls: list[Path] = []

    def fill(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "lib").mkdir()

    _fetch_once(target, "x", fill)
    assert (target / MARKER).exists() and (target / "lib").is_dir()
    assert not target.with_name("kafka-x.partial").exists()
    _fetch_once(target, "x", fill)
    assert calls == [tmp_path / "kafka-x.partial"]


def test_interrupted_fetch_is_not_taken_for_complete(tmp_path: Path) -> None:
    target = tmp_path / "es-x"

    def fail(tmp: Path) -> None:
        (tmp / "half").write_text("")
        raise StackError("mvn failed")

    with pytest.raises(StackError):
        _fetch_once(target, "x", fail)
    assert not target.exists()
    _fetch_once(target, "x", lambda tmp: None)  # the leftover .partial is wiped
    assert (target / MARKER).exists() and not (target / "half").exists()


def test_taken_port_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        srv = _kafka(settings(tmp_path, kafka_port=port))
        with pytest.raises(StackError) as err:
            _check_ports(srv)
    message = str(err.value)
    assert f"port {port} (Kafka) on 127.0.0.1 is already in use" in message
    assert message.endswith("NEWSPIPE_STACK__KAFKA_PORT=<port>")


def test_free_ports_pass(tmp_path: Path) -> None:
    free = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            free.append(sock.getsockname()[1])
    _check_ports(_es(settings(tmp_path, es_port=free[0], es_transport_port=free[1])))


def test_tail_shows_this_launch_only(tmp_path: Path) -> None:
    srv = server(tmp_path / "s", "m")
    srv.outfile.write_text(
        f"{LAUNCH_MARKER} fake at then\nold failure\n{LAUNCH_MARKER} fake at now\nnew failure\n"
    )
    tail = _tail(srv)
    assert "new failure" in tail and "old failure" not in tail
    empty = server(tmp_path / "t", "m")
    assert "nothing logged yet" in _tail(empty)
