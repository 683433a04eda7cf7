"""docker-compose.yml cannot be run here (no Docker engine); what can be checked without it is:
every pipeline service is there with the command `newspipe run` starts, and its healthcheck asks
its own readiness endpoint on the port the settings give it."""

from __future__ import annotations

import re

import yaml

from newspipe.config import OpsSettings
from tests.conftest import ROOT


def test_every_service_is_composed_with_a_healthcheck_on_its_own_port() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))["services"]
    ops = OpsSettings()
    for name in ("ingest", "enrich", "index", "notify"):
        service = compose[name]
        assert service["command"] == ["newspipe", name]
        probe = " ".join(service["healthcheck"]["test"])
        assert re.search(rf"127\.0\.0\.1:{ops.port(name)}/readyz", probe), (name, probe)
    assert compose["dashboard"]["command"] == ["newspipe", "dashboard"]
