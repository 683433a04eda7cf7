"""Elasticsearch behind TLS and a password, for real: nginx (Debian's package) terminates HTTPS
with a certificate signed by a CA made here and demands basic auth, in front of the test stack's
Elasticsearch (whose integ-test build has no security plugin). The indexer and `newspipe search`
work through it with the CA file or the certificate's fingerprint; a wrong password, a missing CA
or a wrong fingerprint each fail at once with a message naming the setting; the password appears
in no output."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer

from newspipe.clients import check_es, es_client
from newspipe.config import Settings, kafka_client_kwargs, message_max_bytes
from newspipe.tools import bootstrap
from tests.conftest import _free_port, linked_article, run_cli

PASSWORD = "s3cret-Tobruk-42"
USER = "analyst"


def _run(*args: str, cwd: Path) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def _certificates(folder: Path) -> str:
    """CA, then a server certificate for 127.0.0.1 signed by it; returns its SHA-256 fingerprint."""
    new_key = ["-newkey", "rsa:2048", "-nodes"]
    ca = ["-subj", "/CN=newspipe test CA", "-keyout", "ca.key", "-out", "ca.crt"]
    _run("openssl", "req", "-x509", *new_key, "-days", "2", *ca, cwd=folder)
    server = ["-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"]
    _run("openssl", "req", *new_key, *server, cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    signed = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2"]
    sign = ["-in", "server.csr", *signed, "-extfile", "san.ext", "-out", "server.crt"]
    _run("openssl", "x509", "-req", *sign, cwd=folder)
    out = _run(
        "openssl", "x509", "-in", "server.crt", "-noout", "-fingerprint", "-sha256", cwd=folder
    )
    return out.strip().split("=", 1)[1]


NGINX = """user root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{}}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  client_max_body_size 200m;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/server.crt;
    ssl_certificate_key {d}/server.key;
    auth_basic "newspipe test";
    auth_basic_user_file {d}/htpasswd;
    location / {{
      proxy_pass {upstream};
      proxy_set_header Authorization "";
    }}
  }}
}}
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    """(https URL, CA file, server certificate fingerprint) of nginx in front of the stack's ES."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("the secured-cluster tests need nginx: apt-get install nginx-light")
    folder = tmp_path_factory.mktemp("tls")
    fingerprint = _certificates(folder)
    hashed = _run("openssl", "passwd", "-apr1", PASSWORD, cwd=folder).strip()
    (folder / "htpasswd").write_text(f"{USER}:{hashed}\n")
    port = _free_port()
    upstream = Settings().es.url
    (folder / "nginx.conf").write_text(NGINX.format(d=folder, port=port, upstream=upstream))
    proc = subprocess.Popen([nginx, "-c", str(folder / "nginx.conf"), "-p", str(folder)])
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.1)
        yield f"https://127.0.0.1:{port}", folder / "ca.crt", fingerprint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _secured(settings: Settings, url: str, **es: object) -> Settings:
    return settings.model_copy(
        update={"es": settings.es.model_copy(update={"url": url, "username": USER, **es})}
    )


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {**os.environ, "NEWSPIPE_ES__URL": settings.es.url, "NEWSPIPE_ES__USERNAME": USER}
    return {**env, **extra}


def test_the_indexer_and_search_work_through_tls_and_auth(
    isolated: Settings, proxy: tuple[str, Path, str]
) -> None:
    from pydantic import SecretStr

    from services.index.sink import Sink

    url, ca, _ = proxy
    bootstrap.prepare(isolated)
    secured = _secured(isolated, url, password=SecretStr(PASSWORD), ca_certs=ca)
    check_es(secured.es)
    doc = linked_article(
        "The 5+5 Joint Military Commission met in Sirte behind a secured cluster.",
        "secure.txt",
        datetime(2024, 5, 1, tzinfo=UTC),
        [],
        {},
    ).model_copy(update={"title": "Secured Sirte meeting"})
    producer = KafkaProducer(**kafka_client_kwargs(isolated.kafka))
    producer.send(isolated.kafka.enriched_topic, key=doc.id.encode(), value=doc.to_bytes()).get(30)
    producer.close()
    stop = threading.Event()
    sink = Sink(secured.kafka, secured.es, secured.index, message_max_bytes(secured.ingest), stop)
    thread = threading.Thread(target=sink.run)
    thread.start()
    try:
        direct = es_client(isolated.es)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not direct.exists(index=isolated.es.alias, id=doc.id):
            time.sleep(0.3)
        assert direct.exists(index=isolated.es.alias, id=doc.id)
    finally:
        stop.set()
        thread.join(30)
    env = _env(secured, NEWSPIPE_ES__PASSWORD=PASSWORD, NEWSPIPE_ES__CA_CERTS=str(ca))
    out = _newspipe(env, "search", "Sirte", "--json")
    assert out.returncode == 0 and doc.id in out.stdout, out.stderr
    assert PASSWORD not in out.stdout + out.stderr


def test_the_certificate_fingerprint_instead_of_the_ca_file(
    isolated: Settings, proxy: tuple[str, Path, str]
) -> None:
    url, _, fingerprint = proxy
    env = _env(_secured(isolated, url), NEWSPIPE_ES__PASSWORD=PASSWORD,
               NEWSPIPE_ES__SSL_FINGERPRINT=fingerprint)  # fmt: skip
    bootstrap.prepare(isolated)
    out = _newspipe(env, "search", "Sirte")
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    "case,message",
    [
        (
            "wrong password",
            "Elasticsearch refused the credentials (401): check NEWSPIPE_ES__USERNAME",
        ),
        ("no CA", "the Elasticsearch certificate is not trusted: set NEWSPIPE_ES__CA_CERTS"),
        ("wrong fingerprint", "does not match NEWSPIPE_ES__SSL_FINGERPRINT"),
    ],
)
def test_a_refused_configuration_fails_at_once_naming_the_setting(
    isolated: Settings, proxy: tuple[str, Path, str], case: str, message: str
) -> None:
    url, ca, _ = proxy
    extra = {
        "wrong password": {
            "NEWSPIPE_ES__PASSWORD": "not-" + PASSWORD,
            "NEWSPIPE_ES__CA_CERTS": str(ca),
        },
        "no CA": {"NEWSPIPE_ES__PASSWORD": PASSWORD},
        "wrong fingerprint": {
            "NEWSPIPE_ES__PASSWORD": PASSWORD,
            "NEWSPIPE_ES__SSL_FINGERPRINT": "AB" * 32,
        },
    }[case]
    env = _env(_secured(isolated, url), **extra)
    for command in (["search", "Sirte"], ["index"]):  # the indexer exits too: no endless wait
        started = time.monotonic()
        out = _newspipe(env, *command)
        assert out.returncode != 0 and message in out.stderr, (command, out.stderr[-800:])
        assert time.monotonic() - started < 30
        assert PASSWORD not in out.stdout + out.stderr


def _newspipe(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """A `newspipe` command run with `env` (test_secured_kafka.py uses it too)."""
    return run_cli(*args, env=env, timeout=timeout)
