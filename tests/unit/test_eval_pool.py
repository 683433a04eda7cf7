"""`newspipe eval --pooled`: several corpora's counts summed and P/R/F1 recomputed."""

from __future__ import annotations

from typing import Any

from newspipe.tools.evaluate import pool


def _c(tp: int, fp: int, fn: int) -> dict[str, int]:
    return {"tp": tp, "fp": fp, "fn": fn}


def _result(n: int, ent: tuple[int, int, int], story: tuple[int, int, int], same: float) -> Any:
    return {
        "articles": n,
        "entities": {"PERSON": _c(*ent), "overall": _c(*ent)},
        "entities_by_language": {"ar": _c(*ent)},
        "topics": {"ceasefire": _c(1, 0, 1)},
        "topic_micro": _c(1, 0, 1),
        "off_track": _c(1, 1, 0),
        "near-duplicate pairs": _c(0, 0, 0),
        "story pairs": {
            **_c(*story),
            "same-language recall": same,
            "same-language pairs": 4,
            "cross-language recall": 0.0,
            "cross-language pairs": 0,
        },
    }


def test_counts_are_summed_and_scores_recomputed() -> None:
    both = pool([_result(10, (8, 2, 0), (3, 1, 1), 0.75), _result(5, (2, 0, 8), (1, 0, 3), 0.25)])
    assert both["articles"] == 15
    person = both["entities"]["PERSON"]
    assert (person["tp"], person["fp"], person["fn"]) == (10, 2, 8)
    assert abs(person["precision"] - 10 / 12) < 1e-9 and abs(person["recall"] - 10 / 18) < 1e-9
    assert both["off_track"]["f1"] == 2 / 3
    story = both["story pairs"]
    assert (story["tp"], story["fp"], story["fn"]) == (4, 1, 4)
    assert story["same-language pairs"] == 8 and story["same-language recall"] == 0.5
    assert story["cross-language recall"] == 0.0
