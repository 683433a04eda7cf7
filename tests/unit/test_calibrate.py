"""`newspipe calibrate-topics`: thresholds swept on tune parts only, each topic's best never worse
than its present one, the tags as the pipeline gives them (thresholds, then withholding)."""

from __future__ import annotations

import pytest

from newspipe.tools.calibrate import calibrate
from newspipe.tools.evaluate import BlindRefused, _prf
from services.enrich.core import Enricher
from tests.conftest import ROOT


def test_a_blind_part_is_refused() -> None:
    with pytest.raises(BlindRefused):
        calibrate([ROOT / "tests/data/real/blind/labels.yaml"], ROOT)


def test_each_topics_best_threshold_is_no_worse_than_the_present_one() -> None:
    rows = calibrate([ROOT / "tests/data/real/labels.yaml"], ROOT)
    present = Enricher().tagger.thresholds
    per_topic = [r for r in rows if "present" in r]
    assert {r["topic"]: r["present"] for r in per_topic} == present
    for row in per_topic:
        assert _prf(*row["after"])["f1"] >= _prf(*row["before"])["f1"]  # type: ignore[misc]
    # The present thresholds reproduce what `newspipe eval` scores on the same corpus.
    from newspipe.tools.evaluate import evaluate

    micro = evaluate(ROOT / "tests/data/real/labels.yaml", ROOT)["topic_micro"]
    [present_row] = [r for r in rows if r["topic"] == "MICRO (present)"]
    assert present_row["tp_fp_fn"] == [micro["tp"], micro["fp"], micro["fn"]]
