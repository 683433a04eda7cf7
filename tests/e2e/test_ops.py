"""Operability on the real stack, each service its own process as an operator runs them (JSON
logs): every metrics endpoint answers with the named series, which move as files arrive; the
consumer lag rises while the indexer is stopped and returns to zero once it is back, in the
metrics and in `newspipe status`; every log line is one JSON object."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newspipe.config import Settings
from newspipe.tools import bootstrap
from tests.conftest import ROOT, run_cli
from tests.e2e.test_pipeline import Pipeline, wait_for

SERVICES = ("ingest", "enrich", "index", "notify")


class Services(Pipeline):
    def __init__(self, settings: Settings, logs: Path) -> None:
        super().__init__(settings)
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "newspipe", name],
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    def url(self, name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.settings.ops.port(name)}{path}"

    def get(self, name: str, path: str) -> httpx.Response | None:
        try:
            return httpx.get(self.url(name, path), timeout=2)
        except httpx.HTTPError:
            return None

    def series(self, name: str) -> dict[str, float]:
        """The endpoint's samples, `name{labels}` -> value."""
        resp = self.get(name, "/metrics")
        assert resp is not None and resp.status_code == 200, f"{name}: no metrics"
        out = {}
        for line in resp.text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def lag(self, group: str) -> float:
        return sum(
            v
            for k, v in self.series("ingest").items()
            if k.startswith("newspipe_consumer_lag{") and f'group="{group}"' in k
        )


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    from tests.conftest import require_stack, unique_env

    tmp = tmp_path_factory.mktemp("ops")
    old = os.environ.copy()
    os.environ.update(unique_env(tmp))
    os.environ["NEWSPIPE_LOG_FORMAT"] = "json"
    settings = Settings()
    require_stack(settings)
    bootstrap.prepare(settings)
    running = Services(settings, tmp)
    try:
        for name in SERVICES:
            running.start(name)
        for name in SERVICES:
            wait_for(
                lambda name=name: (r := running.get(name, "/readyz")) and r.status_code == 200,
                120,
                f"{name} ready",
            )
        yield running
    finally:
        for name in list(running.procs):
            running.stop(name)
        os.environ.clear()
        os.environ.update(old)


def _drop(services: Services, names: list[str]) -> None:
    inbox = services.settings.ingest.inbox
    for i, seed in enumerate(names):
        text = (ROOT / "seeds" / seed).read_text("utf-8") + f"\n\nOps check {len(names)}-{i}.\n"
        (inbox.parent / f"{i}.part").write_text(text, "utf-8")
        (inbox.parent / f"{i}.part").rename(inbox / f"ops-{len(names)}-{i}-{seed}")


def test_each_endpoint_answers_and_its_series_move_as_files_arrive(services: Services) -> None:
    for name in SERVICES:
        assert services.get(name, "/healthz").status_code == 200  # type: ignore[union-attr]
    before = {name: services.series(name) for name in SERVICES}
    seeds = sorted(p.name for p in (ROOT / "seeds").glob("*.txt"))
    _drop(services, seeds)
    wait_for(lambda: services.count() == len(seeds), 90, "the files indexed")
    n = len(seeds)

    def moved(name: str, key: str) -> float:
        return services.series(name).get(key, 0.0) - before[name].get(key, 0.0)

    published = 'newspipe_files_total{outcome="published",reason=""}'
    wait_for(lambda: moved("ingest", published) == n, 10, "ingest's file count")
    assert moved("enrich", 'newspipe_messages_consumed_total{stage="enrich"}') == n
    assert moved("enrich", "newspipe_enrich_seconds_count") == n
    assert moved("enrich", "newspipe_link_seconds_count") == n
    assert moved("enrich", 'newspipe_messages_produced_total{stage="enrich",topic="enriched"}') >= n
    assert moved("index", 'newspipe_messages_consumed_total{stage="index"}') >= n
    assert moved("index", "newspipe_bulk_documents_sum") >= n
    assert moved("index", "newspipe_bulk_seconds_count") >= 1
    assert moved("index", "newspipe_drop_to_searchable_seconds_count") == n
    latency = services.series("index")
    mean = latency["newspipe_drop_to_searchable_seconds_sum"] / max(
        1.0, latency["newspipe_drop_to_searchable_seconds_count"]
    )
    print(f"\nmean ingestion -> acknowledged write over {n} files: {mean:.2f} s")
    assert 0 < mean < 60
    # A replay (straight to news.raw, no inbox) moves the enrich and index series too.
    folder = services.logs / "replay"
    folder.mkdir()
    for i, seed in enumerate(seeds[:3]):
        text = (ROOT / "seeds" / seed).read_text("utf-8")
        (folder / seed).write_text(f"{text}\n\nReplayed for the metrics check {i}.\n", "utf-8")
    mid = {name: services.series(name) for name in ("enrich", "index")}
    assert "published 3" in run_cli("replay", str(folder)).stdout
    wait_for(lambda: services.count() == n + 3, 90, "the replayed files indexed")
    for name, stage in (("enrich", "enrich"), ("enrich", "link"), ("index", "index")):
        key = f'newspipe_messages_consumed_total{{stage="{stage}"}}'
        assert services.series(name)[key] - mid[name][key] >= 3, (name, stage)
    for name in SERVICES:
        series = services.series(name)
        assert series["process_resident_memory_bytes"] > 10 * 2**20
        assert "newspipe_dead_letters_total" in services.get(name, "/metrics").text  # type: ignore[union-attr]


def test_lag_rises_while_the_indexer_is_stopped_and_returns_to_zero(services: Services) -> None:
    group = services.settings.index.group
    wait_for(lambda: services.lag(group) == 0, 30, "no lag to begin with")
    services.stop("index")
    before = services.count()
    _drop(
        services,
        ["000_bcd341568d676ff1.txt", "002_c10a15e947a66a7f.txt", "003_01b30ef46d6ec3fe.txt"],
    )
    wait_for(lambda: services.lag(group) >= 3, 60, "the indexer's lag to reach 3")
    status = run_cli("status").stdout
    assert re.search(r"index\s+down \(no answer\)", status), status
    total = int(re.search(r"total lag: (\d+)", status).group(1))  # type: ignore[union-attr]
    assert total >= 3
    assert services.count() == before
    services.start("index")
    wait_for(lambda: services.lag(group) == 0, 90, "the lag back to zero")
    wait_for(lambda: services.count() == before + 3, 30, "the three files indexed")
    status = run_cli("status").stdout
    assert "total lag: 0" in status and re.search(r"index\s+alive, ready", status), status


def test_every_log_line_is_one_json_object_with_service_and_stage(services: Services) -> None:
    for name in ("ingest", "index", "notify"):
        lines = [
            line for line in (services.logs / f"{name}.log").read_text("utf-8").splitlines() if line
        ]
        assert lines, f"{name} logged nothing"
        records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
        assert {r["service"] for r in records} == {name}
        assert all({"time", "level", "stage", "logger", "message"} <= set(r) for r in records)
    ingest = [json.loads(x) for x in (services.logs / "ingest.log").read_text("utf-8").splitlines()]
    published = [r for r in ingest if r["message"].startswith("published ")]
    assert published and all(len(r["article"]) == 64 and r["file"] for r in published)
    enrich = (services.logs / "enrich.log").read_text("utf-8").splitlines()
    ours = [json.loads(x) for x in enrich if x.startswith("{")]
    assert ours and {r["service"] for r in ours} == {"enrich"}
