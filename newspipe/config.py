"""The one settings object: every knob a NEWSPIPE_* variable with a localhost default.

Precedence (pydantic-settings): explicit arguments > environment (NEWSPIPE_*, nested with `__`,
e.g. NEWSPIPE_KAFKA__BOOTSTRAP) > `.env` file > defaults. Build it once in the CLI and pass it down.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _home(*parts: str) -> Path:
    return Path.home().joinpath(*parts)


class KafkaSettings(BaseModel):
    bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers (host:port,...)")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    sasl_username: str | None = Field(None, description="SASL user name")
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret)")
    ssl_cafile: Path | None = Field(
        None,
        description="CA certificate (PEM) that signed the brokers' certificates (SSL, SASL_SSL)",
    )
    ssl_certfile: Path | None = Field(
        None, description="client certificate (PEM), for brokers that authenticate clients by TLS"
    )
    ssl_keyfile: Path | None = Field(None, description="the client certificate's private key (PEM)")
    raw_topic: str = Field("news.raw", description="topic of parsed raw articles")
    link_topic: str = Field(
        "news.link", description="internal topic: enriched, awaiting dedup/story"
    )
    enriched_topic: str = Field("news.enriched", description="topic of enriched documents")
    dlq_topic: str = Field("news.dlq", description="dead-letter topic (message + reason)")
    alerts_topic: str = Field("news.alerts", description="topic of the watches' alerts")
    partitions: int = Field(3, description="partitions of news.raw and news.enriched")


class ElasticSettings(BaseModel):
    url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL (https://... for TLS)")
    username: str | None = Field(None, description="Elasticsearch user")
    password: SecretStr | None = Field(None, description="Elasticsearch password (secret)")
    api_key: SecretStr | None = Field(
        None,
        description="Elasticsearch API key, base64 'id:key' (secret); instead of user/password",
    )
    ca_certs: Path | None = Field(
        None, description="CA certificate (PEM) that signed the cluster's HTTPS certificate"
    )
    ssl_fingerprint: str | None = Field(
        None, description="SHA-256 fingerprint of the cluster's certificate (instead of a CA file)"
    )
    verify_certs: bool = Field(
        True, description="verify the cluster's certificate; false only for tests (a loud warning)"
    )
    alias: str = Field("news-articles", description="index alias analysts query")
    index: str = Field("news-articles-v1", description="concrete index behind the alias")


class StackSettings(BaseModel):
    """The no-Docker local stack (`newspipe stack up|down|status`)."""

    cache_dir: Path = Field(
        _home(".cache", "newspipe"), description="downloaded jars/zip + Maven repo"
    )
    state_dir: Path = Field(
        _home(".local", "state", "newspipe"), description="servers' data, logs and pid files"
    )
    kafka_version: str = Field("3.9.1", description="Apache Kafka broker version (Maven Central)")
    es_version: str = Field("8.19.21", description="Elasticsearch integ-test-zip version")
    kafka_port: int = Field(9092, description="Kafka PLAINTEXT port on 127.0.0.1")
    kafka_controller_port: int = Field(9093, description="KRaft controller port on 127.0.0.1")
    es_port: int = Field(9200, description="Elasticsearch HTTP port on 127.0.0.1")
    es_transport_port: int = Field(9300, description="Elasticsearch transport port on 127.0.0.1")
    kafka_heap: str = Field("512m", description="Kafka JVM heap")
    es_heap: str = Field("512m", description="Elasticsearch JVM heap")
    es_user: str = Field(
        "newspipe", description="unprivileged user that runs Elasticsearch as root"
    )
    java_home: Path | None = Field(None, description="JDK for both servers (default: java on PATH)")


class IngestSettings(BaseModel):
    inbox: Path = Field(Path("inbox"), description="watched folder for new article files")
    processed: Path = Field(Path("processed"), description="where published files are moved")
    rejected: Path = Field(Path("rejected"), description="where unparsable files go, with reason")
    settle_seconds: float = Field(
        2.0,
        description="a file no process holds open for writing is complete once unchanged this long",
    )
    reappear_seconds: float = Field(
        300.0,
        description="a file named like one taken this recently is rejected as a possible tail",
    )
    max_bytes: int = Field(
        4 * 2**20,
        description="largest article (its UTF-8 text; a .txt/.md file too) accepted; Kafka limits"
        " derive from it",
    )
    # A saved page carries 5-20x its article in scripts and styles, a PDF its fonts and images,
    # an export thousands of articles: 64 MB holds a 3,000-article JSON Lines export.
    max_file_bytes: int = Field(
        64 * 2**20,
        description="largest HTML, PDF, e-mail or JSON file read (each article in it within"
        " max_bytes)",
    )


class EnrichSettings(BaseModel):
    app_id: str = Field("newspipe-enrich", description="faust app id (consumer group)")
    datadir: Path = Field(
        _home(".local", "state", "newspipe", "faust"), description="faust table state (per worker)"
    )
    store: str = Field("rocksdb://", description="faust table store: rocksdb:// or memory://")
    web_port: int = Field(6066, description="faust web port (health)")
    commit_interval: float = Field(0.5, description="faust broker_commit_interval, seconds")
    reorder_settle: float = Field(
        0.25,
        description="link stage: seconds a news.raw partition that sent lately is waited for, "
        "so that articles are linked in ingestion order (0: as they come)",
    )
    reorder_limit: int = Field(
        2000, description="link stage: articles held at most while merging the partitions"
    )


class IndexSettings(BaseModel):
    group: str = Field("newspipe-index", description="indexer consumer group")
    batch_size: int = Field(500, description="max documents per bulk request")
    batch_wait: float = Field(0.5, description="max seconds to wait for a first document")
    batch_linger: float = Field(
        0.1,
        description="once a document arrived, max seconds to go on filling its batch while more "
        "keep coming (a backlog is written 500 at a time, a lone file at once)",
    )
    backlog_age: float = Field(
        5.0,
        description="articles first seen longer ago than this when they reach the indexer mean "
        "the pipeline is behind (a backfill, a catch-up after an outage): their batch is then "
        "filled for up to backlog_linger instead of batch_linger",
    )
    backlog_linger: float = Field(
        1.0,
        description="max seconds to go on filling a batch of articles that already waited "
        "longer than backlog_age: bigger bulk requests cost Elasticsearch less CPU per document, "
        "and an article that waited that long loses little by another second",
    )
    max_retries: int = Field(8, description="retries of transient errors before crashing")
    live_refresh: float = Field(
        0.1,
        description="after a batch that emptied the backlog (a live feed, not a backfill), refresh "
        "the index so its documents are searchable at once rather than at the next periodic "
        "refresh (up to 1 s later); at most once per this many seconds; negative: never",
    )


class DashboardSettings(BaseModel):
    host: str = Field(
        "127.0.0.1", description="the dashboard's address; another than loopback needs a password"
    )
    port: int = Field(8050, description="the coverage dashboard's port")
    username: str = Field("analyst", description="the dashboard's user, when it has a password")
    password: SecretStr | None = Field(
        None, description="the dashboard's password (secret): HTTP basic auth on every page"
    )


class AlertSettings(BaseModel):
    """Standing queries (`newspipe watch`): evaluated by the indexer after each batch, alerts
    delivered to news.alerts, the alerts index and, per watch, a webhook (`newspipe notify`)."""

    watches_index: str = Field("newspipe-watches", description="index of the watches")
    alerts_index: str = Field("newspipe-alerts", description="index of the alerts raised")
    group: str = Field("newspipe-notify", description="consumer group of the webhook sender")
    webhook_attempts: int = Field(
        5, ge=1, description="POSTs of an alert to its webhook before it is dead-lettered"
    )
    webhook_timeout: float = Field(10.0, description="seconds to wait for a webhook's answer")


class OpsSettings(BaseModel):
    """Each service's metrics and health endpoint (/metrics, /healthz, /readyz)."""

    host: str = Field("127.0.0.1", description="address of every service's metrics endpoint")
    ingest_port: int = Field(9461, description="ingest's metrics and health port")
    enrich_port: int = Field(9462, description="enrich's metrics and health port")
    index_port: int = Field(9463, description="index's metrics and health port")
    notify_port: int = Field(9464, description="notify's metrics and health port")

    def port(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSPIPE_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    log_level: str = Field("INFO", description="logging level")
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one object per line (time, level, service, stage...)"
    )
    kafka: KafkaSettings = KafkaSettings()
    es: ElasticSettings = ElasticSettings()
    stack: StackSettings = StackSettings()
    ingest: IngestSettings = IngestSettings()
    enrich: EnrichSettings = EnrichSettings()
    index: IndexSettings = IndexSettings()
    dashboard: DashboardSettings = DashboardSettings()
    alert: AlertSettings = AlertSettings()
    ops: OpsSettings = OpsSettings()


def port_clashes(settings: Settings) -> list[str]:
    """The ports `newspipe run` would have two of its services listen on: each as
    "port N: VAR_A, VAR_B". A clash leaves one service failing to bind and restarting forever."""
    wanted = {
        "NEWSPIPE_ENRICH__WEB_PORT": settings.enrich.web_port,
        "NEWSPIPE_DASHBOARD__PORT": settings.dashboard.port,
        **{
            f"NEWSPIPE_OPS__{name.upper()}_PORT": settings.ops.port(name)
            for name in ("ingest", "enrich", "index", "notify")
        },
    }
    by_port: dict[int, list[str]] = {}
    for var, port in wanted.items():
        by_port.setdefault(port, []).append(var)
    return [f"port {p}: {', '.join(v)}" for p, v in by_port.items() if p and len(v) > 1]


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable, value, description) for every knob, secrets masked: `newspipe config`."""
    rows: list[tuple[str, str, str]] = [
        ("NEWSPIPE_LOG_LEVEL", settings.log_level, "logging level"),
        ("NEWSPIPE_LOG_FORMAT", settings.log_format, "text or json"),
    ]
    for section in (
        "kafka",
        "es",
        "stack",
        "ingest",
        "enrich",
        "index",
        "dashboard",
        "alert",
        "ops",
    ):
        model = getattr(settings, section)
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            shown = "**********" if isinstance(value, SecretStr) else str(value)
            env = f"NEWSPIPE_{section.upper()}__{name.upper()}"
            rows.append((env, shown, field.description or ""))
    return rows


def message_max_bytes(ingest: IngestSettings) -> int:
    """The one Kafka message limit (topics' max.message.bytes, producers' max request size,
    consumers' fetch sizes), derived from the article limit so that whatever ingest accepts passes
    every stage: the enriched message carries the body twice (body + search_text) plus entities and
    event evidence, and a dead letter wraps a whole message with its reason."""
    return 4 * ingest.max_bytes + 2**20


def kafka_client_kwargs(kafka: KafkaSettings) -> dict[str, object]:
    """kafka-python connection arguments (bootstrap + optional SASL). Never log the result."""
    kwargs: dict[str, object] = {
        "bootstrap_servers": kafka.bootstrap.split(","),
        "security_protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        kwargs["sasl_mechanism"] = kafka.sasl_mechanism
        kwargs["sasl_plain_username"] = kafka.sasl_username
        if kafka.sasl_password is not None:
            kwargs["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if (path := getattr(kafka, name)) is not None:
                kwargs[name] = str(path)
    return kwargs


def kafka_ssl_context(kafka: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context faust (aiokafka) connects with: the same CA and client certificate as
    kafka-python's; None without TLS."""
    if kafka.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
    if kafka.ssl_certfile is not None:
        context.load_cert_chain(
            str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None
        )
    return context
