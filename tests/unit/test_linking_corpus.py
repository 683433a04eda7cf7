"""Near-duplicates and stories on the labelled corpus (tests/data/dedup: the seeds, copies derived
from them, rewrites in en/fr/ar and distractors with the same actors), pairwise, as `newspipe eval`
computes it. The bars are the issue's targets for the held-out set."""

from __future__ import annotations

from newspipe.evaluate import evaluate_links
from tests.conftest import ROOT


def test_pair_f1_on_labelled_corpus() -> None:
    result = evaluate_links(ROOT / "tests/data/dedup/labels.yaml", ROOT)
    assert result["articles"] >= 50
    assert result["near-duplicate pairs"]["f1"] >= 0.95
    assert result["story pairs"]["f1"] >= 0.80
