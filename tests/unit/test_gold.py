"""The enrichment scored against the gold set (tests/data/gold: the seeds plus articles written
in English, Arabic and French, annotated by hand), as `newspipe eval` prints it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from newspipe.tools.evaluate import evaluate
from tests.conftest import ROOT

NOW = datetime(2024, 1, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def scores() -> dict[str, Any]:
    return evaluate(ROOT / "tests/data/gold/gold.yaml", ROOT)


def test_gold_covers_three_languages(scores: dict[str, Any]) -> None:
    assert scores["articles"] >= 40


def test_topic_micro_f1(scores: dict[str, Any]) -> None:
    assert scores["topic_micro"]["f1"] >= 0.85


def test_a_named_process_or_operation_is_an_event_found_but_not_scored() -> None:
    """The labelling rules count conferences, processes and operation names as no entity: the
    pack types them EVENT; they are found (searchable, linked, watched) and left out of the
    entity scores, so that naming the Berlin Conference costs no precision."""
    from newspipe.tools.evaluate import _aliases, entity_counts
    from services.enrich.core import Enricher
    from tests.conftest import raw_article

    enricher = Enricher()
    doc = enricher.enrich(
        raw_article(
            "Participants of the Berlin Conference met in Tripoli as Operation Irini inspected a "
            "ship off Benghazi. Khalifa Haftar, who led Operation Dignity, was not invited.",
            "Berlin process meeting",
        ),
        NOW,
    )
    found = {e.id: e.type for e in doc.entities}
    assert {k: found.get(k) for k in ("berlin-process", "eu-irini", "operation-dignity")} == {
        "berlin-process": "EVENT",
        "eu-irini": "EVENT",
        "operation-dignity": "EVENT",
    }
    gold = [
        {"name": "Tripoli", "type": "LOC"},
        {"name": "Benghazi", "type": "LOC"},
        {"name": "Khalifa Haftar", "type": "PERSON"},
    ]
    counts = entity_counts(doc, gold, _aliases(enricher))
    assert counts == {"tp:LOC": 2, "tp:PERSON": 1}  # no fp: the three events are not scored
