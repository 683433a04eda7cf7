"""Kafka over SASL_SSL, for real: a broker of its own (the stack's Kafka jars, KRaft, one node)
with a SASL_SSL listener, a certificate signed by a CA made here and SCRAM users. The whole
pipeline (replay, enrich on faust, index) runs a replay through it; a wrong password and an
untrusted CA each fail at once with a message naming the setting; the password appears in no
output."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from pydantic import SecretStr

from newspipe.clients import es_client
from newspipe.config import KafkaSettings, Settings, kafka_client_kwargs
from newspipe.tools.stack.kafka import _kafka_java, format_args, new_cluster_id
from tests.conftest import ROOT, _free_port, require_stack, unique_env
from tests.integration.test_secured_es import PASSWORD as ES_PASSWORD
from tests.integration.test_secured_es import USER as ES_USER
from tests.integration.test_secured_es import _certificates, _newspipe, proxy

__all__ = ["proxy"]  # the fixture: nginx with TLS and basic auth in front of Elasticsearch

CLUSTER_ID = new_cluster_id()
PASSWORD = "k4fka-Misrata-77"
USER = "newspipe"

JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=INTERNAL://127.0.0.1:{internal},SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=INTERNAL://127.0.0.1:{internal},SASL_SSL://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={jaas}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}
ssl.keystore.type=PEM
ssl.keystore.location={folder}/broker.pem
log.dirs={folder}/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
num.partitions=3
group.initial.rebalance.delay.ms=0
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(bootstrap, CA file) of a SASL_SSL broker with SCRAM user `newspipe`."""
    stack = Settings().stack
    require_stack(Settings())  # the jars are the stack's, fetched by `stack up`
    folder = tmp_path_factory.mktemp("kafka-sasl-ssl")
    _certificates(folder)
    key = (folder / "server.key").read_text()
    (folder / "broker.pem").write_text(key + (folder / "server.crt").read_text())
    port, internal, controller = _free_port(), _free_port(), _free_port()
    props = folder / "server.properties"
    props.write_text(
        PROPERTIES.format(
            port=port, internal=internal, controller=controller, folder=folder, jaas=JAAS
        )
    )
    java = _kafka_java(stack, "384m")
    scram = f"SCRAM-SHA-256=[name={USER},password={PASSWORD}]"
    subprocess.run(
        [*java, "kafka.tools.StorageTool", *format_args(CLUSTER_ID, props),
         "--add-scram", scram, "--add-scram", scram.replace("256", "512")],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    log = (folder / "kafka.out").open("wb")
    proc = subprocess.Popen(
        [*java, "kafka.Kafka", str(props)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        bootstrap, ca = f"127.0.0.1:{port}", folder / "ca.crt"
        _wait_until_it_authenticates(bootstrap, ca, proc)
        yield bootstrap, ca
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_until_it_authenticates(bootstrap: str, ca: Path, proc: subprocess.Popen[bytes]) -> None:
    """Until a client with the right password gets metadata, not only until the port opens: the
    tests then meet a broker that is ready, not one still starting."""
    right = KafkaSettings(
        bootstrap=bootstrap,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username=USER,
        sasl_password=SecretStr(PASSWORD),
        ssl_cafile=ca,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            admin = KafkaAdminClient(
                **kafka_client_kwargs(right), request_timeout_ms=5000, bootstrap_timeout_ms=5000
            )
        except KafkaError:
            time.sleep(0.5)
            continue
        admin.close()
        return
    raise RuntimeError(f"the SASL_SSL broker at {bootstrap} never authenticated its user")


def _env(tmp: Path, bootstrap: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **unique_env(tmp),
        "NEWSPIPE_KAFKA__BOOTSTRAP": bootstrap,
        "NEWSPIPE_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "NEWSPIPE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-256",
        "NEWSPIPE_KAFKA__SASL_USERNAME": USER,
        **extra,
    }


def _settings(env: dict[str, str]) -> Settings:
    """The Settings a service started with `env` would build."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            if key.startswith("NEWSPIPE_"):
                patch.setenv(key, value)
        return Settings()


def test_a_replay_runs_through_sasl_ssl_kafka_and_tls_elasticsearch(
    broker: tuple[str, Path], proxy: tuple[str, Path, str], tmp_path: Path
) -> None:
    """Both secured endpoints at once: Kafka over SASL_SSL (SCRAM), Elasticsearch over HTTPS with
    basic auth (nginx); `setup`, `replay`, enrich, index and `search` all go through them."""
    bootstrap, ca = broker
    es_url, es_ca, _ = proxy
    env = _env(
        tmp_path,
        bootstrap,
        NEWSPIPE_KAFKA__SASL_PASSWORD=PASSWORD,
        NEWSPIPE_KAFKA__SSL_CAFILE=str(ca),
        NEWSPIPE_ES__URL=es_url,
        NEWSPIPE_ES__USERNAME=ES_USER,
        NEWSPIPE_ES__PASSWORD=ES_PASSWORD,
        NEWSPIPE_ES__CA_CERTS=str(es_ca),
    )
    setup = _newspipe(env, "setup", timeout=120)
    assert setup.returncode == 0, setup.stderr[-2000:]
    logs = tmp_path / "logs"
    logs.mkdir()
    services = [
        subprocess.Popen(
            [sys.executable, "-m", "newspipe", name],
            env=env,
            stdout=(logs / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for name in ("enrich", "index")
    ]
    secured = _settings(env)
    try:
        producer = KafkaProducer(**kafka_client_kwargs(secured.kafka))
        producer.send(secured.kafka.raw_topic, key=b"poison", value=b"{not an article").get(30)
        producer.close()  # a poison message: its dead letter is searched for the secrets too
        replay = _newspipe(env, "replay", str(ROOT / "seeds"), timeout=120)
        assert replay.returncode == 0 and "published 5, not published 0" in replay.stdout, (
            replay.stderr[-2000:]
        )
        alias = env["NEWSPIPE_ES__ALIAS"]
        es = es_client(Settings().es)
        deadline = time.monotonic() + 120
        count = 0
        while time.monotonic() < deadline and count < 5:
            with contextlib.suppress(Exception):
                es.indices.refresh(index=alias)
                count = int(es.count(index=alias)["count"])
            time.sleep(1)
        assert count == 5, [(p.name, p.read_text()[-1500:]) for p in logs.iterdir()]
    finally:
        for proc in services:
            proc.terminate()
        for proc in services:
            proc.wait(timeout=60)
    search = _newspipe(env, "search", "Haddad")
    assert search.returncode == 0 and "\n(0 shown" not in search.stdout, search.stderr[-1500:]
    print(f"\n$ newspipe replay seeds\n{replay.stdout}$ newspipe search Haddad\n{search.stdout}")
    letters = [
        r.value.decode("utf-8", "replace")
        for r in KafkaConsumer(
            secured.kafka.dlq_topic,
            **kafka_client_kwargs(secured.kafka),
            auto_offset_reset="earliest",
            consumer_timeout_ms=10_000,
        )
    ]
    assert len(letters) == 1 and "poison" in letters[0]
    config = _newspipe(env, "config")
    assert "NEWSPIPE_KAFKA__SASL_PASSWORD" in config.stdout
    docs = es.search(index=alias, size=100, query={"match_all": {}})["hits"]["hits"]
    output = replay.stdout + replay.stderr + setup.stdout + setup.stderr + config.stdout
    output += search.stdout + search.stderr + "".join(letters)
    output += "".join(p.read_text(errors="replace") for p in logs.iterdir())
    output += json.dumps(docs)
    # logs, `newspipe config`, indexed documents, dead letters
    assert PASSWORD not in output and ES_PASSWORD not in output


@pytest.mark.parametrize(
    "case,message",
    [
        ("wrong password", "NEWSPIPE_KAFKA__SASL_PASSWORD"),
        ("untrusted CA", "NEWSPIPE_KAFKA__SSL_CAFILE"),
    ],
)
def test_a_refused_kafka_configuration_fails_at_once_naming_the_setting(
    broker: tuple[str, Path], tmp_path: Path, case: str, message: str
) -> None:
    bootstrap, ca = broker
    extra = (
        {"NEWSPIPE_KAFKA__SASL_PASSWORD": "not-" + PASSWORD, "NEWSPIPE_KAFKA__SSL_CAFILE": str(ca)}
        if case == "wrong password"
        else {"NEWSPIPE_KAFKA__SASL_PASSWORD": PASSWORD}
    )
    started = time.monotonic()
    out = _newspipe(_env(tmp_path, bootstrap, **extra), "replay", str(ROOT / "seeds"), timeout=90)
    assert out.returncode != 0 and message in out.stderr, out.stderr[-1500:]
    assert time.monotonic() - started < 60
    assert PASSWORD not in out.stdout + out.stderr
