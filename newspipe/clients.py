"""Client factories every service and tool uses, built from settings (credentials never logged),
and the one place that turns a refused connection into a message naming the setting to change."""

from __future__ import annotations

import logging
import re

from elastic_transport import TlsError
from elasticsearch import ApiError, AuthenticationException, AuthorizationException, Elasticsearch
from elasticsearch.exceptions import ConnectionError as ESConnectionError
from elasticsearch.exceptions import TransportError
from kafka.errors import RetriableError

from newspipe.config import ElasticSettings, KafkaSettings, kafka_client_kwargs

log = logging.getLogger("newspipe")


class ConfigError(RuntimeError):
    """The servers refuse this configuration (credentials, certificates): waiting will not help."""


def es_client(es: ElasticSettings) -> Elasticsearch:
    kwargs: dict[str, object] = {"request_timeout": 60}
    if es.api_key is not None:
        kwargs["api_key"] = es.api_key.get_secret_value()
    elif es.username and es.password is not None:
        kwargs["basic_auth"] = (es.username, es.password.get_secret_value())
    if es.url.startswith("https:"):
        if es.ca_certs is not None:
            kwargs["ca_certs"] = str(es.ca_certs)
        if es.ssl_fingerprint:
            kwargs["ssl_assert_fingerprint"] = es.ssl_fingerprint.replace(":", "").lower()
        if not es.verify_certs:
            log.warning(
                "NEWSPIPE_ES__VERIFY_CERTS=false: the Elasticsearch certificate is NOT verified;"
                " anyone between here and %s can read and change what is sent",
                es.url,
            )
            kwargs["verify_certs"] = False
            kwargs["ssl_show_warn"] = False
    return Elasticsearch(es.url, **kwargs)  # type: ignore[arg-type]


def es_refusal(exc: BaseException) -> str | None:
    """What to change when Elasticsearch refuses us for good (not an outage), else None."""
    if isinstance(exc, AuthenticationException) or (
        isinstance(exc, ApiError) and exc.status_code == 401
    ):
        return (
            "Elasticsearch refused the credentials (401): check NEWSPIPE_ES__USERNAME and"
            " NEWSPIPE_ES__PASSWORD, or NEWSPIPE_ES__API_KEY"
        )
    if isinstance(exc, AuthorizationException):
        return "Elasticsearch denied this user the request (403): grant it the index privileges"
    if isinstance(exc, TlsError):
        text = str(exc)
        if "fingerprint" in text.lower():
            return (
                "the Elasticsearch certificate does not match NEWSPIPE_ES__SSL_FINGERPRINT"
                f" ({text[:160]})"
            )
        return (
            "the Elasticsearch certificate is not trusted: set NEWSPIPE_ES__CA_CERTS to the CA"
            f" file that signed it, or NEWSPIPE_ES__SSL_FINGERPRINT ({text[:160]})"
        )
    return None


def check_es(es: ElasticSettings) -> None:
    """Raise ConfigError with what to change if the cluster refuses this configuration; an
    unreachable cluster is not a refusal (the caller waits for it)."""
    try:
        es_client(es).cluster.health(timeout="5s")
    except Exception as exc:
        reason = es_refusal(exc)
        if reason is not None:
            raise ConfigError(reason) from None


class KafkaLog(logging.Handler):
    """kafka-python says why a connection was refused only in its log: while in a `with` block,
    keep its warnings and errors (at most MAX_KEPT) to explain a failure."""

    MAX_KEPT = 200

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < self.MAX_KEPT:
            self.lines.append(record.getMessage())

    def __enter__(self) -> KafkaLog:
        logging.getLogger("kafka").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("kafka").removeHandler(self)


# A bootstrap connection that got the broker's version (ApiVersions, the step before SASL) and was
# then closed: with SASL on, the broker ended the authentication. kafka-python 3.0 reports a
# refused SCRAM password this way in most attempts: the broker answers the failure and closes,
# and the close is read first (6 of 8 attempts here, 2026-12-01).
_LOST_AUTHENTICATING = re.compile(
    r"node_id=bootstrap-\d+ broker_version=\([^)]*\) \(disconnected\)>: Connection lost: "
    r"KafkaConnectionError: socket disconnected"
)


def kafka_refusal(text: str, sasl: bool = False) -> str | None:
    """What to change when the brokers refuse this configuration, from what kafka-python said;
    `sasl`: the configuration authenticates with SASL."""
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            "the Kafka brokers' certificate is not trusted: set NEWSPIPE_KAFKA__SSL_CAFILE to the"
            " CA file that signed it"
        )
    if "SaslAuthenticationFailed" in text or "Authentication failed" in text:
        return (
            "Kafka refused the SASL credentials: check NEWSPIPE_KAFKA__SASL_USERNAME,"
            " NEWSPIPE_KAFKA__SASL_PASSWORD and NEWSPIPE_KAFKA__SASL_MECHANISM"
        )
    if sasl and "Unable to bootstrap" in text and _LOST_AUTHENTICATING.search(text):
        return (
            "Kafka closed the connection while authenticating (SASL): check"
            " NEWSPIPE_KAFKA__SASL_USERNAME, NEWSPIPE_KAFKA__SASL_PASSWORD and"
            " NEWSPIPE_KAFKA__SASL_MECHANISM"
        )
    if "UnsupportedSaslMechanism" in text:
        return "the Kafka brokers do not offer NEWSPIPE_KAFKA__SASL_MECHANISM"
    if "WRONG_VERSION_NUMBER" in text or "unexpected eof" in text.lower():
        return (
            "TLS to a Kafka listener that does not speak it (or the reverse): check"
            " NEWSPIPE_KAFKA__SECURITY_PROTOCOL against the listener at NEWSPIPE_KAFKA__BOOTSTRAP"
        )
    return None


def check_kafka(kafka: KafkaSettings, timeout_ms: int = 10_000) -> None:
    """Raise ConfigError with what to change if the brokers refuse this configuration (TLS trust,
    SASL credentials); brokers that are merely unreachable are not a refusal (callers wait)."""
    from kafka import KafkaAdminClient

    with KafkaLog() as kafka_log:
        try:
            admin = KafkaAdminClient(
                **kafka_client_kwargs(kafka),
                request_timeout_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,
            )
            admin.close()
        except Exception as exc:
            text = " ".join([*kafka_log.lines, str(exc)])
            reason = kafka_refusal(text, sasl=kafka.sasl_mechanism is not None)
            if reason is not None:
                raise ConfigError(reason) from None


def kafka_transient(exc: BaseException) -> bool:
    """Broker away, coordinator moving, timeouts: wait and retry (a KafkaError that is not
    retriable, e.g. a message over the limit, is a bug in our limits and must surface)."""
    return isinstance(exc, RetriableError)


def es_transient(exc: BaseException) -> bool:
    """Connection refused/reset, timeouts (TransportError), and 429/5xx answers; not a refusal
    of the configuration (bad credentials, an untrusted certificate): waiting cannot fix that."""
    if es_refusal(exc) is not None:
        return False
    if isinstance(exc, ApiError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, ESConnectionError | TransportError)


def es_unreachable(exc: BaseException, url: str) -> str | None:
    """The one line for a command whose Elasticsearch does not answer (down, wrong address)."""
    from elastic_transport import ConnectionError as NoConnection
    from elastic_transport import ConnectionTimeout

    if isinstance(exc, NoConnection | ConnectionTimeout) and es_refusal(exc) is None:
        return (
            f"cannot reach Elasticsearch at {url} ({type(exc).__name__}); check NEWSPIPE_ES__URL"
            " and that the cluster runs (`newspipe stack status`)"
        )
    return None
