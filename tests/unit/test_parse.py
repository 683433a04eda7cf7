"""Parsing .txt files into RawArticle, and the clear rejections."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newspipe.contract import RawArticle, doc_id
from services.ingest.parse import Rejected, looks_like_title, parse

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_title_line_is_split_from_body() -> None:
    art = parse(
        "a.txt",
        b"Opposing Libya military leaders meet in Tripoli\nLibya's military leaders "
        b"are trying to have a united front.",
        NOW,
    )
    assert isinstance(art, RawArticle)
    assert art.title == "Opposing Libya military leaders meet in Tripoli"
    assert art.body.startswith("Libya's military leaders")
    assert art.id == doc_id(art.body)


def test_lead_paragraph_is_not_a_title() -> None:
    seed = (SEEDS / "001_7a46a5f02b118931.txt").read_bytes()
    art = parse("001.txt", seed, NOW)
    assert isinstance(art, RawArticle)
    assert art.title is None
    assert art.body.startswith("Libya’s 5+5 Joint Military Committee")


@pytest.mark.parametrize(
    "line,expected",
    [
        ("5+5 paris", True),
        ("Opposing Libya military leaders meet in Tripoli", True),
        ("The meeting was attended by the chiefs of staff.", False),
        (" ".join(["word"] * 30), False),
    ],
)
def test_looks_like_title(line: str, expected: bool) -> None:
    assert looks_like_title(line) is expected


def test_header_block_gives_outlet_url_and_date() -> None:
    data = (
        "Title: JMC meets in Sirte\nOutlet: Libya Herald\nURL: https://example.org/a\n"
        "Published: 2020-11-03T10:00:00Z\n\nThe 5+5 Joint Military Commission met in Sirte."
    )
    art = parse("h.txt", data.encode(), NOW)
    assert isinstance(art, RawArticle)
    assert (art.title, art.source.outlet, art.source.url) == (
        "JMC meets in Sirte",
        "Libya Herald",
        "https://example.org/a",
    )
    assert art.published_at == datetime(2020, 11, 3, 10, tzinfo=UTC)


def test_non_utf8_is_rejected_with_the_offset() -> None:
    out = parse("bad.txt", b"Libya \xff\xfe military", NOW)
    assert isinstance(out, Rejected)
    assert "not UTF-8" in out.reason and "offset 6" in out.reason


def test_binary_with_nul_bytes_is_rejected() -> None:
    out = parse("x.txt", b"\x00\x01\x02 some text that is long enough here", NOW)
    assert isinstance(out, Rejected) and "NUL" in out.reason


def test_unsupported_suffix_and_empty_body() -> None:
    assert isinstance(parse("a.pdf", b"text", NOW), Rejected)
    out = parse("e.txt", b"Title only\n", NOW)
    assert isinstance(out, Rejected) and "no article body" in out.reason


def test_id_ignores_whitespace_case_quotes_and_unicode_form() -> None:
    a = "Libya’s  5+5 “Joint” Military\nCommittee"
    b = 'libya\'s 5+5 "joint" military committee'
    assert doc_id(a) == doc_id(b)
    assert doc_id("Cafe\u0301") == doc_id("café")
    assert doc_id(a) != doc_id(a + " met")
