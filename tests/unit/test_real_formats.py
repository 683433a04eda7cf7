"""Floors on what ingest reads from real-shaped inputs labelled by helpers who never read the code
(`newspipe eval-formats`): saved pages around real articles, and real wire and outlet openings
with datelines and credits. The blind parts were never tuned on; their floors are the figures
first measured on them, less one item, so that a regression fails while noise does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from newspipe.tools.formats_eval import datelines, pages

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    "part,whole,title,outlet,date",
    [("tune", 25, 25, 23, 23), ("blind", 13, 13, 10, 13)],
)
def test_saved_pages(part: str, whole: int, title: int, outlet: int, date: int) -> None:
    result = pages(DATA / "formats" / "pages" / part)
    assert result["pages with boilerplate in the body"] <= 1, result["misses"]
    assert result["pages with the whole body"] >= whole, result["misses"]
    assert result["title right"] >= title, result["misses"]
    assert result["outlet right"] >= outlet, result["misses"]
    assert result["date right"] >= date, result["misses"]


@pytest.mark.parametrize(
    "part,dated_right,wrong_dates,outlet_right,wrong_outlets",
    [("tune", 6, 1, 22, 1), ("blind", 1, 1, 12, 1)],
)
def test_datelines_and_credits(
    part: str, dated_right: int, wrong_dates: int, outlet_right: int, wrong_outlets: int
) -> None:
    result = datelines(DATA / "datelines" / part)
    dated, undated = (
        result["dated: date right/wrong/none"],
        result["undated: date right/wrong/none"],
    )
    credited = result["credited: outlet right/wrong/none"]
    assert dated["right"] >= dated_right, result["misses"]
    assert dated["wrong"] + undated["wrong"] <= wrong_dates, result["misses"]
    assert credited["right"] >= outlet_right, result["misses"]
    assert credited["wrong"] <= wrong_outlets, result["misses"]
