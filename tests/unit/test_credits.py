"""Datelines, closing credits and URLs: what a text says about where and when it was written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingest.credits import find_credit, find_dateline, outlets

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
AFP, AP, REUTERS = "Agence France-Presse", "Associated Press", "Reuters"


@pytest.mark.parametrize(
    "text,place,date,outlet",
    [
        (
            "TRIPOLI, Oct 23 (Reuters) - Rival forces met on Friday in 2020",
            "TRIPOLI",
            "2020-10-23",
            REUTERS,
        ),
        ("TRIPOLI, Libya (AP) — Clashes broke out early Saturday", "TRIPOLI", None, AP),
        (
            "BENGHAZI, Libya, Jan. 5, 2023 (Xinhua) -- The army said",
            "BENGHAZI",
            "2023-01-05",
            "Xinhua",
        ),
        ("Tripoli (AFP) - Les forces rivales ont signé", "Tripoli", None, AFP),
        ("TRIPOLI, 23 oct 2020 (AFP) - Les forces rivales", "TRIPOLI", "2020-10-23", AFP),
        ("طرابلس - 23 أكتوبر 2020 (رويترز) - وقعت القوات", "طرابلس", "2020-10-23", REUTERS),
        ("طرابلس 23 أكتوبر 2020 (أ ف ب) - وقعت", "طرابلس", "2020-10-23", AFP),
        ("بنغازي - بوابة الوسط: قال المتحدث", "بنغازي", None, "Al Wasat"),
        ("GENEVA, 23 October 2020 – The UN said", "GENEVA", "2020-10-23", None),
        ("DAMASCUS (SANA) - Syria said", "DAMASCUS", None, "SANA"),  # an agency by its acronym
    ],
)
def test_datelines(text: str, place: str, date: str | None, outlet: str | None) -> None:
    found = find_dateline(text, NOW)
    assert found is not None
    assert (found.place, found.outlet) == (place, outlet)
    assert (found.published.date().isoformat() if found.published else None) == date


@pytest.mark.parametrize(
    "text",
    [
        "The commission said - in a statement issued late - that talks would resume.",
        "Libya's rival forces signed a ceasefire on Friday, the UN said.",
        "TRIPOLI - The army said - again - that",  # a place alone dates and credits nothing
    ],
)
def test_prose_is_no_dateline(text: str) -> None:
    assert find_dateline(text, NOW) is None


def test_a_yearless_dateline_takes_the_year_its_weekday_fits() -> None:
    # 30 July was a Friday in 2021 (and in 2027, after arrival); the text mentions 2020, the
    # ceasefire's year, which is a lower bound, not the answer.
    text = (
        "SIRTE, July 30 (Reuters) - The commission reopened the coastal road on Friday, nine months"
        " after the October 2020 ceasefire."
    )
    found = find_dateline(text, NOW)
    assert found is not None and found.published == datetime(2021, 7, 30, tzinfo=UTC)


def test_a_weekday_that_fits_several_years_dates_nothing() -> None:
    # A real Reuters lead of 18 March 2024 (a Monday) whose text names only 2011: 18 March was a
    # Monday in 2013, 2019 and 2024 as well, and the earliest (2013, or 2014 by the day after) was
    # taken. Several fits and none of them the year the text names: no date, not a wrong one.
    text = (
        "TUNIS, March 18 (Reuters) - Tunisia and Libya closed a border crossing on Monday. Libya"
        " has had little peace since a 2011 uprising."
    )
    found = find_dateline(text, NOW)
    assert found is not None and found.outlet == REUTERS and found.published is None


def test_a_yearless_dateline_is_dated_only_when_the_evidence_allows() -> None:
    recent = find_dateline("TRIPOLI, Nov 27 (Reuters) - The army said", NOW)
    assert recent is not None and recent.published == datetime(2026, 11, 27, tzinfo=UTC)
    # No year in the text, months before arrival: an archived story; a guessed year would be wrong.
    old = find_dateline("TRIPOLI, March 3 (Reuters) - The army said", NOW)
    assert old is not None and old.published is None and old.outlet == REUTERS


@pytest.mark.parametrize(
    "text,outlet",
    [
        ("The talks ended.\n(Reporting by Ahmed Elumami; Editing by Alex Richardson)", REUTERS),
        ("The talks ended.\n— AFP", AFP),
        ("The talks ended.\nSource: Libya Observer", "Libya Observer"),
        ("The talks ended.\nSource: Libya Update", "Libya Update"),
        ("The talks ended.\nSource: the UN mission said the ceasefire holds", None),
        ("The talks ended on Friday.", None),
    ],
)
def test_closing_credits(text: str, outlet: str | None) -> None:
    assert find_credit(text) == outlet


def test_outlets_from_urls() -> None:
    known = outlets()
    assert known.from_url("https://www.libyaobserver.ly/news/x") == "Libya Observer"
    assert known.from_url("https://english.aawsat.com/a") == "Asharq Al-Awsat"
    assert known.from_url("https://www.libyaupdate.com/x") == "libyaupdate.com"
    assert known.from_url("not a url") is None
