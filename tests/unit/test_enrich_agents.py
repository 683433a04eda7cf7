"""The enrich app's two agents driven through faust's test context (no broker): what each sends
where, and the dead-letter paths. Outputs are recorders and the members table a dict; everything
between the agent and them is the code the worker runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from newspipe.config import Settings
from newspipe.contract import (
    INGESTED_HEADER,
    KIND_ARTICLE,
    KIND_HEADER,
    DeadLetter,
    EnrichedArticle,
)
from services.enrich.app import Stages, build
from tests.conftest import raw_article

BODY = (
    "The 5+5 Joint Military Commission met in Sirte with General Mohammed al-Haddad to discuss "
    "the withdrawal of foreign fighters and mercenaries under the October 2020 ceasefire."
)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []

    async def send(self, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None:
        self.sent.append((key, value, headers))


@pytest.fixture
def app_and_stages(tmp_path: Path) -> tuple[Any, Stages, dict[str, Recorder]]:
    settings = Settings(
        kafka={"bootstrap": "127.0.0.1:1"},  # never contacted: no output reaches a producer
        enrich={"datadir": tmp_path / "faust", "store": "memory://"},
    )
    app, stages = build(settings)
    recorders = {name: Recorder() for name in ("link", "enriched", "dlq")}
    stages.outputs = dict(recorders)
    stages.members = {}
    app.finalize()
    app.flow_control.resume()
    return app, stages, recorders


def _put(app: Any, agent_name: str, values: list[bytes]) -> None:
    agent = next(a for a in app.agents.values() if a.name.endswith(agent_name))

    async def go() -> None:
        async with agent.test_context() as test_agent:
            for value in values:
                await test_agent.put(value)

    asyncio.run(go())


def test_enrich_agent_sends_the_enriched_article_to_link(app_and_stages: Any) -> None:
    app, _stages, out = app_and_stages
    raw = raw_article(BODY, title="JMC meets in Sirte")
    _put(app, "enrich", [raw.to_bytes()])
    assert out["dlq"].sent == []
    [(key, value, _headers)] = out["link"].sent
    doc = EnrichedArticle.model_validate_json(value)
    assert key == raw.id.encode() and doc.id == raw.id
    assert "jmc-5plus5" in {t.id for t in doc.topics}


def test_enrich_agent_dead_letters_what_it_cannot_read(app_and_stages: Any) -> None:
    app, _stages, out = app_and_stages
    _put(app, "enrich", [b"{not json", raw_article(BODY).to_bytes()])
    [(_k, value, _h)] = out["dlq"].sent
    letter = DeadLetter.model_validate_json(value)
    assert letter.stage == "enrich" and letter.reason.startswith("invalid raw article")
    assert letter.payload == "{not json" and letter.offset == 0
    assert len(out["link"].sent) == 1  # the good message after it went on


def test_link_agent_decides_and_dead_letters(app_and_stages: Any) -> None:
    app, stages, out = app_and_stages
    _put(app, "enrich", [raw_article(BODY).to_bytes()])
    enriched = out["link"].sent[0][1]
    _put(app, "link", [enriched, b'{"id": "nope"}'])
    [(key, value, headers)] = out["enriched"].sent
    decided = EnrichedArticle.model_validate_json(value)
    # the first-seen time in milliseconds, for the indexer's batching (sink.linger_for)
    at = round(decided.ingested_at.timestamp() * 1000)
    assert headers == {KIND_HEADER: KIND_ARTICLE, INGESTED_HEADER: str(at).encode()}
    assert key == decided.id.encode() and decided.story.id == decided.id  # a story of its own
    [(_k, letter_bytes, _h)] = out["dlq"].sent
    letter = DeadLetter.model_validate_json(letter_bytes)
    assert letter.reason.startswith("linking failed") and letter.payload == '{"id": "nope"}'
    assert stages.members  # the article was remembered for later copies


def test_an_output_over_the_limit_dead_letters_the_input(app_and_stages: Any) -> None:
    app, stages, out = app_and_stages
    stages.out_limit = 1000  # the enriched message of BODY is a few KB
    raw = raw_article(BODY)
    _put(app, "enrich", [raw.to_bytes()])
    assert out["link"].sent == []
    letter = DeadLetter.model_validate_json(out["dlq"].sent[0][1])
    assert "output too large" in letter.reason and "NEWSPIPE_INGEST__MAX_BYTES" in letter.reason
    assert letter.payload == raw.to_bytes().decode()  # the input, replayable after a fix


def test_rebalance_drops_the_linker(app_and_stages: Any) -> None:
    _app, stages, _out = app_and_stages
    first = asyncio.run(stages.linker())
    assert asyncio.run(stages.linker()) is first
    stages.reset()
    assert asyncio.run(stages.linker()) is not first


class _SlowTable(dict[str, Any]):
    """A members table that takes its time to be read, as a large one does."""

    def items(self) -> Any:
        time.sleep(0.5)
        return super().items()


def test_the_linker_is_built_off_the_event_loop(app_and_stages: Any) -> None:
    """Heartbeats and commits go on while a large table is indexed."""
    _app, stages, _out = app_and_stages
    stages.reset()
    stages.members = _SlowTable()

    async def ticks_while_building() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        await stages.linker()
        ticker.cancel()
        return ticks

    assert asyncio.run(ticks_while_building()) >= 20


def test_a_rebalance_during_the_build_builds_again(app_and_stages: Any) -> None:
    """The table may have changed hands: the linker indexed before the rebalance is dropped."""
    _app, stages, _out = app_and_stages
    stages.reset()
    stages.members = _SlowTable()
    builds = []
    stages.cold = lambda: builds.append(1)  # type: ignore[assignment, func-returns-value]

    async def rebalance_midway() -> Any:
        building = asyncio.create_task(stages.linker())
        await asyncio.sleep(0.2)  # the first build is under way
        stages.reset()
        return await building

    linker = asyncio.run(rebalance_midway())
    assert len(builds) == 2 and asyncio.run(stages.linker()) is linker
