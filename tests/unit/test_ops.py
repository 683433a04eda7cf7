"""Operability, the pure parts: liveness and readiness, reason labels, JSON log lines, the lag
series, and how `newspipe run` reports a child's health."""

from __future__ import annotations

import json
import logging
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from newspipe.obs import JsonFormatter
from newspipe.ops import Health, Lag, reason_class
from newspipe.tools.supervise import Child, _report


def test_liveness_follows_the_loop_and_readiness_says_why() -> None:
    health = Health(stall_after=0.2)
    assert health.alive()[0] and health.ready() == (True, "ready")
    health.checks["es"] = lambda: "Elasticsearch unreachable"
    health.checks["kafka"] = lambda: None
    assert health.ready() == (False, "Elasticsearch unreachable")
    health.checks["broken"] = lambda: 1 / 0  # type: ignore[return-value,func-returns-value]
    assert "broken check failed: ZeroDivisionError" in health.ready()[1]
    time.sleep(0.3)
    alive, detail = health.alive()
    assert not alive and detail.startswith("loop silent for")
    assert health.ready()[0] is False
    health.beat()
    assert health.alive()[0]


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        (
            "400 mapper_parsing_exception: failed to parse field [x] of 3f2a",
            "mapper parsing exception",
        ),
        ("invalid raw article: 1 validation error for RawArticle", "invalid raw article"),
        ("file is 5,242,880 bytes, over the 4,194,304-byte limit", "file is bytes over"),
        ("12345", "other"),
    ],
)
def test_a_reason_becomes_a_bounded_label(reason: str, label: str) -> None:
    assert reason_class(reason) == label


def test_json_log_lines_carry_service_stage_and_the_article() -> None:
    formatter = JsonFormatter("index")
    record = logging.LogRecord("newspipe.index", logging.INFO, __file__, 1, "batch: %d", (3,), None)
    record.article = "ab" * 32
    line = json.loads(formatter.format(record))
    assert line["service"] == "index" and line["stage"] == "index" and line["level"] == "INFO"
    assert line["message"] == "batch: 3" and line["article"] == "ab" * 32
    assert line["time"].endswith("Z")
    other = logging.LogRecord("aiokafka.consumer", logging.WARNING, __file__, 1, "x", (), None)
    assert json.loads(formatter.format(other))["stage"] == "aiokafka"


def test_the_lag_series_reads_the_broker_at_most_every_ttl() -> None:
    calls = []

    def read() -> list[dict[str, object]]:
        calls.append(1)
        return [{"group": "g", "topic": "t", "partition": 0, "lag": 7}]

    registry = CollectorRegistry()
    registry.register(Lag(read, ttl=60))
    text = generate_latest(registry).decode()
    assert 'newspipe_consumer_lag{group="g",partition="0",topic="t"} 7.0' in text
    generate_latest(registry)
    assert len(calls) == 1

    def down() -> list[dict[str, object]]:
        raise OSError("broker away")

    quiet = CollectorRegistry()
    quiet.register(Lag(down))
    assert "newspipe_consumer_lag{" not in generate_latest(quiet).decode()


def test_run_reports_a_child_when_its_health_changes(caplog: pytest.LogCaptureFixture) -> None:
    child = Child("index", lambda: None, health_url="http://127.0.0.1:1")  # type: ignore[arg-type,return-value]
    with caplog.at_level(logging.INFO, logger="newspipe.run"):
        _report(child, "alive, ready")  # started well: nothing to say
        _report(child, "alive, not ready: Elasticsearch unreachable")
        _report(child, "alive, not ready: Elasticsearch unreachable")  # said once
        _report(child, "unhealthy: loop silent for 75 s")
        _report(child, "alive, ready")
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert said == [
        ("WARNING", "index is alive, not ready: Elasticsearch unreachable"),
        ("ERROR", "index is unhealthy: loop silent for 75 s (http://127.0.0.1:1)"),
        ("INFO", "index healthy and ready again"),
    ]
