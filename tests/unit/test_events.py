"""Event evidence: when (dates in the lead, with or without their year) and where (the city after
a locative, not the dateline)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.enrich.core import Enricher
from services.enrich.events import event_dates, stated_figures
from services.enrich.stories import days_apart
from tests.conftest import raw_article

PUBLISHED = datetime(2022, 1, 9, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lead", "published", "expected"),
    [
        ("GENEVA, Oct 23 (MNA) - Delegations signed", None, ["--10-23"]),
        ("GENEVA, Oct. 23 (MNA) - Delegations signed", None, ["--10-23"]),
        ("signed on 8 October 2021 in Geneva", None, ["2021-10-08"]),
        ("le 8 octobre 2021 à Genève", None, ["2021-10-08"]),
        ("يوم الجمعة 23 أكتوبر/تشرين الأول 2020 في جنيف", None, ["2020-10-23"]),
        ("في 11 كانون الأول 2021", None, ["2021-12-11"]),
        # No year: the year that puts the date nearest the publication (2022-01-09), a day
        # ahead counting as two behind.
        ("the talks of Dec. 11 in Sirte", PUBLISHED, ["2021-12-11"]),
        ("SIRTE, Jan 8 (Agency) -", PUBLISHED, ["2022-01-08"]),
        ("the commission will meet on 4 February in Sirte", PUBLISHED, ["2022-02-04"]),
        ("the vote of 30 June", PUBLISHED, ["2021-06-30"]),
        ("on February 29 the council met", PUBLISHED, []),  # 2021-2023 have none
        # Weekdays count only against a publication date, and only when no date is written.
        ("met on Saturday in Sirte", PUBLISHED, ["2022-01-08"]),
        ("met on Saturday in Sirte", None, []),
        ("وقّع الطرفان «الجمعة» في جنيف", PUBLISHED, ["2022-01-07"]),
        ("اجتمعا يوم الأحد في سرت", PUBLISHED, ["2022-01-09"]),
        ("in May 2023 the commission", None, []),  # a month is not a day
        ("on February 30, 2023", None, []),
    ],
)
def test_event_dates(lead: str, published: datetime | None, expected: list[str]) -> None:
    assert event_dates(lead, published) == expected


def test_partial_dates_compare_by_month_and_day_across_new_year() -> None:
    assert days_apart("--10-23", "2020-10-23") == 0
    assert days_apart("--12-31", "--01-01") == 1
    assert days_apart("--02-08", "--10-23") > 100
    assert days_apart("2021-10-08", "2020-10-08") == 365


def test_meeting_place_is_after_the_locative_not_the_dateline() -> None:
    body = (
        "TRIPOLI, Nov 3 (LNW) - The Joint Military Commission wrapped up two days of talks in "
        "the desert town of Ghadames on Tuesday.\n\nThe next round will be held later."
    )
    event = Enricher().enrich(raw_article(body), PUBLISHED).event
    assert event["places"] == ["ghadames"]
    assert event["dates"] == ["--11-03"]


def test_a_facility_is_placed_in_its_city() -> None:
    body = (
        "Clashes broke out at Mitiga airport on Monday between two armed groups.\n\n"
        "Flights were diverted to Misrata."
    )
    # Mitiga is `in: tripoli` in the pack: a report "in Tripoli" of the same clashes has no
    # conflicting place with this one.
    assert Enricher().enrich(raw_article(body), PUBLISHED).event["places"] == ["tripoli"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32 killed and 159 injured in Tripoli", ["32", "159"]),
        ("مقتل ٣٢ شخصا وإصابة 159 آخرين", ["32", "159"]),  # Arabic-Indic digits read as digits
        ("1,200 fighters, 1.200 combattants, 1 200 hommes", ["1200"]),
        ("in 2011, on 23 October 2020, five brigades, 5+5, 10 days", ["23"]),
        ("no figure at all", []),
    ],
)
def test_stated_figures(text: str, expected: list[str]) -> None:
    assert stated_figures(text) == sorted(expected, key=int)
