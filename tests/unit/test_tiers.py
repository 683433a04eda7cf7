"""A missing Kafka or Elasticsearch fails the run under CI=true (and under `make test`), and only a
bare local `pytest` skips the server tiers (tests/conftest.py, house style)."""

from __future__ import annotations

import pytest

from newspipe.config import Settings
from tests.conftest import _free_port, require_stack


def _nowhere(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSPIPE_KAFKA__BOOTSTRAP", f"127.0.0.1:{_free_port()}")
    monkeypatch.setenv("NEWSPIPE_ES__URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.delenv("NEWSPIPE_TESTS_NEED_STACK", raising=False)
    return Settings()


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_a_missing_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    settings = _nowhere(monkeypatch)
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="not running: Kafka at"):
        require_stack(settings)


def test_a_missing_server_fails_under_make_test(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _nowhere(monkeypatch)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("NEWSPIPE_TESTS_NEED_STACK", "1")
    with pytest.raises(pytest.fail.Exception, match="Elasticsearch at"):
        require_stack(settings)


def test_a_bare_local_run_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _nowhere(monkeypatch)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_stack(settings)
