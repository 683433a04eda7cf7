"""The Kafka server (one KRaft node, broker and controller, on 127.0.0.1): its description, its
server.properties, the one-time storage format, the launch, the protocol-level readiness check."""

from __future__ import annotations

import base64
import socket
import struct
import subprocess
import uuid
from pathlib import Path

from newspipe.config import StackSettings
from newspipe.tools.stack.download import _java_home, _local, kafka_home
from newspipe.tools.stack.processes import StackError, _Launch, _Server


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


def new_cluster_id() -> str:
    """Kafka's Uuid: 16 random bytes, url-safe base64 without padding. One in 64 starts with
    "-": hand it to StorageTool as `--cluster-id=ID` (format_args), never as a separate word."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def format_args(cluster_id: str, props: Path) -> list[str]:
    """StorageTool format's arguments (an id starting with "-" would be read as an option)."""
    return ["format", f"--cluster-id={cluster_id}", "-c", str(props)]


def _format_kafka(s: StackSettings, props: Path) -> None:
    """StorageTool format, once: skipped when the log dir already holds meta.properties (saves a
    ~1.5 s JVM start on every restart); --ignore-formatted covers the race anyway."""
    if (s.state_dir / "kafka" / "data" / "meta.properties").exists():
        return
    id_file = s.state_dir / "kafka" / "cluster.id"
    if not id_file.exists():
        id_file.write_text(new_cluster_id())
    tool = [*_kafka_java(s, "256m"), "kafka.tools.StorageTool"]
    args = [*format_args(id_file.read_text().strip(), props), "--ignore-formatted"]
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
