"""Connection settings for secured clusters: what reaches kafka-python and faust, what is masked,
and how a refusal is worded (the servers themselves: tests/integration/test_secured_*.py)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from newspipe.clients import kafka_refusal
from newspipe.config import (
    KafkaSettings,
    Settings,
    describe,
    kafka_client_kwargs,
    kafka_ssl_context,
    port_clashes,
)

CA = Path("/etc/ssl/certs/ca-certificates.crt")


def test_sasl_ssl_settings_reach_kafka_python_and_faust() -> None:
    kafka = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password="p",  # type: ignore[arg-type]
        ssl_cafile=CA,
    )
    kwargs = kafka_client_kwargs(kafka)
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["ssl_cafile"] == str(CA)
    assert (kwargs["sasl_mechanism"], kwargs["sasl_plain_password"]) == ("SCRAM-SHA-512", "p")
    context = kafka_ssl_context(kafka)
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
    assert kafka_ssl_context(KafkaSettings()) is None
    assert "ssl_cafile" not in kafka_client_kwargs(KafkaSettings(ssl_cafile=CA))  # PLAINTEXT


def test_an_unknown_mechanism_or_protocol_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="SCRAM-SHA-256"):
        KafkaSettings(sasl_mechanism="SCRAM-SHA-1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SASL_SSL"):
        KafkaSettings(security_protocol="TLS")  # type: ignore[arg-type]


def test_every_secret_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "NEWSPIPE_KAFKA__SASL_PASSWORD": "kafka-secret-1",
        "NEWSPIPE_ES__PASSWORD": "es-secret-2",
        "NEWSPIPE_ES__API_KEY": "es-key-3",
        "NEWSPIPE_DASHBOARD__PASSWORD": "dash-secret-4",
    }
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    shown = "\n".join(f"{k} {v} {d}" for k, v, d in describe(Settings()))
    assert all(key in shown for key in secrets)
    assert not any(value in shown for value in secrets.values())


@pytest.mark.parametrize(
    "logged,setting",
    [
        (
            "Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
            "NEWSPIPE_KAFKA__SSL_CAFILE",
        ),
        (
            "Abort ([Error 58] SaslAuthenticationFailedError: Authentication failed",
            "NEWSPIPE_KAFKA__SASL_PASSWORD",
        ),
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number", "NEWSPIPE_KAFKA__SECURITY_PROTOCOL"),
    ],
)
def test_kafka_refusals_name_the_setting(logged: str, setting: str) -> None:
    reason = kafka_refusal(logged)
    assert reason is not None and setting in reason
    assert kafka_refusal("Unable to bootstrap: connection refused") is None  # down, not refused


@pytest.mark.parametrize("args", [["watch", "list"], ["alerts"], ["search", "Haddad"]])
def test_an_elasticsearch_that_does_not_answer_is_one_line(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port nothing listens on (no server needed): the command says where it looked and which
    setting to check, and exits 1, instead of a traceback."""
    from click.testing import CliRunner

    from newspipe.cli import main
    from tests.conftest import _free_port

    url = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("NEWSPIPE_ES__URL", url)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert f"cannot reach Elasticsearch at {url}" in result.output
    assert "NEWSPIPE_ES__URL" in result.output and "Traceback" not in result.output


# kafka-python 3.0.12's lines when a SCRAM password is refused and the broker's close is read
# before its answer (seen in 6 of 8 attempts against tests/integration/test_secured_kafka.py's
# broker): the bootstrap connection had the broker's version, then was lost.
LOST_WHILE_AUTHENTICATING = " ".join(
    [
        "<KafkaSSLTransport [127.0.0.1:33857<-34384]>: socket disconnected",
        "<KafkaConnection node_id=bootstrap-0 broker_version=(3, 9) (disconnected)>: Connection "
        "lost: KafkaConnectionError: socket disconnected",
        "Bootstrap failed: KafkaTimeoutError: Unable to bootstrap from ['127.0.0.1:33857']",
    ]
)


def test_a_bootstrap_closed_while_authenticating_names_the_sasl_settings() -> None:
    reason = kafka_refusal(LOST_WHILE_AUTHENTICATING, sasl=True)
    assert reason is not None and "NEWSPIPE_KAFKA__SASL_PASSWORD" in reason
    # without SASL there is nothing to refuse: a broker that went away, waited for
    assert kafka_refusal(LOST_WHILE_AUTHENTICATING, sasl=False) is None
    # a connection lost before the broker's version was known: not the authentication
    before = LOST_WHILE_AUTHENTICATING.replace("broker_version=(3, 9) ", "")
    assert kafka_refusal(before, sasl=True) is None


def test_two_services_on_one_port_are_refused_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert port_clashes(Settings()) == []  # the defaults are distinct
    monkeypatch.setenv("NEWSPIPE_DASHBOARD__PORT", "6066")  # faust's web port
    monkeypatch.setenv("NEWSPIPE_OPS__NOTIFY_PORT", "9461")  # ingest's
    clashes = port_clashes(Settings())
    assert clashes == [
        "port 6066: NEWSPIPE_ENRICH__WEB_PORT, NEWSPIPE_DASHBOARD__PORT",
        "port 9461: NEWSPIPE_OPS__INGEST_PORT, NEWSPIPE_OPS__NOTIFY_PORT",
    ]
    from click.testing import CliRunner

    from newspipe.cli import main

    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 2  # a usage error: nothing was started
    assert "two services would listen on one port" in result.output
    assert "port 6066: NEWSPIPE_ENRICH__WEB_PORT, NEWSPIPE_DASHBOARD__PORT" in result.output
