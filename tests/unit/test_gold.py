"""The enrichment scored against the gold set (tests/data/gold: the seeds plus articles written
in English, Arabic and French, annotated by hand), as `newspipe eval` prints it."""

from __future__ import annotations

from typing import Any

import pytest

from newspipe.tools.evaluate import evaluate
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def scores() -> dict[str, Any]:
    return evaluate(ROOT / "tests/data/gold/gold.yaml", ROOT)


def test_gold_covers_three_languages(scores: dict[str, Any]) -> None:
    assert scores["articles"] >= 40


def test_topic_micro_f1(scores: dict[str, Any]) -> None:
    assert scores["topic_micro"]["f1"] >= 0.85
