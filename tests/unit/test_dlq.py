"""The pure parts of `newspipe dlq`: reason classes, selection, replay markers, what cannot be
replayed, offsets on the command line, and the rendering of list and show."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from newspipe.contract import RECORD_OVERHEAD, DeadLetter
from newspipe.tools.dlq.letters import (
    Dlq,
    DlqError,
    Entry,
    ReplayMarker,
    check_replayable,
    collapse_reason,
    format_ref,
    headline,
    letter_line,
    list_lines,
    make_marker,
    marked_refs,
    parse_ref,
    pretty_payload,
    select,
    show_lines,
    summarize,
    to_ranges,
)

MAPPING = (
    "400 mapper_parsing_exception: failed to parse field [published_at] of type [date] in "
    "document with id '{id}'. Preview of field's value: '{value}'"
)
TRACEBACK = (
    "enrichment failed: Traceback (most recent call last):\n"
    '  File "services/enrich/core.py", line 88, in enrich\n'
    "    raise ValueError(f'no language for {doc}')\n"
    "ValueError: no language for 'abc'\n"
)
PYDANTIC = (
    "invalid raw article: 1 validation error for RawArticle\n"
    "  Invalid JSON: expected value at line 1 column 1 [type=json_invalid, input_value='{x', "
    "input_type=bytes]\n"
    "    For further information visit https://errors.pydantic.dev/2.11/v/json_invalid"
)


def _entry(at: int, stage: str = "index", reason: str = "boom", **kw: object) -> Entry:
    letter = DeadLetter.model_validate(
        {
            "stage": stage,
            "reason": reason,
            "topic": "news.enriched",
            "partition": 2,
            "offset": 40 + at,
            "key": "ab" * 32,
            "payload": '{"id": 1}',
            "failed_at": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
            **kw,
        }
    )
    return Entry((0, at), letter)


def test_mapping_errors_on_many_documents_collapse_to_one_class() -> None:
    reasons = [MAPPING.format(id=f"{i:064x}", value=f"2024-13-{i:02d}") for i in range(200)]
    assert {collapse_reason(r) for r in reasons} == {
        "400 mapper_parsing_exception: failed to parse field [published_at] of type [date] in "
        "document with id '…'. Preview of field's value: '…'"
    }


def test_collapse_masks_ids_and_numbers_but_keeps_the_kind_of_error() -> None:
    missing = collapse_reason(
        "404 document_missing_exception: [" + "f" * 64 + "]: document missing"
    )
    assert missing == "404 document_missing_exception: [<id>]: document missing"
    assert collapse_reason("output too large: 6,300,000 bytes > 4.5 MB") == (
        "output too large: N bytes > N MB"
    )
    other_field = collapse_reason(MAPPING.replace("published_at", "title").format(id="1", value=""))
    assert other_field != collapse_reason(MAPPING.format(id="1", value=""))


def test_traceback_reason_is_classed_by_its_exception_line() -> None:
    assert headline(TRACEBACK) == "enrichment failed: ValueError: no language for 'abc'"
    assert collapse_reason(TRACEBACK) == "enrichment failed: ValueError: no language for '…'"


def test_pydantic_reason_keeps_its_error_codes() -> None:
    assert collapse_reason(PYDANTIC) == (
        "invalid raw article: N validation error for RawArticle [json_invalid]"
    )


def test_collapse_truncates_a_long_headline() -> None:
    collapsed = collapse_reason("x" * 500, width=40)
    assert len(collapsed) == 40 and collapsed.endswith("…")


def test_select_combines_filters_and_hides_replayed() -> None:
    entries = [
        _entry(0, "enrich", PYDANTIC),
        _entry(1, "index", MAPPING.format(id="a", value="b")),
        _entry(2, "index", "404 document_missing_exception"),
        _entry(3, "index", MAPPING.format(id="c", value="d")),
    ]
    replayed = {(0, 3)}
    assert [e.ref[1] for e in select(entries, replayed)] == [0, 1, 2]
    assert [e.ref[1] for e in select(entries, replayed, include_replayed=True)] == [0, 1, 2, 3]
    assert [e.ref[1] for e in select(entries, replayed, stage="index")] == [1, 2]
    assert [e.ref[1] for e in select(entries, replayed, reason="MAPPER_parsing")] == [1]
    assert [e.ref[1] for e in select(entries, replayed, refs=[(0, 2), (0, 9)])] == [2]
    assert select(entries, replayed, stage="enrich", reason="mapper") == []


def test_summarize_counts_stages_and_reason_classes() -> None:
    entries = [
        _entry(0, "enrich", PYDANTIC),
        _entry(1, "index", MAPPING.format(id="a1", value="x")),
        _entry(2, "index", MAPPING.format(id="b2", value="y")),
    ]
    by_stage, by_reason = summarize(entries)
    assert by_stage == {"enrich": 1, "index": 2}
    assert sorted(by_reason.values()) == [1, 2]


def test_ranges_and_markers_round_trip() -> None:
    assert to_ranges([5, 1, 2, 3, 9, 2]) == [(1, 4), (5, 6), (9, 10)]
    entries = [_entry(o) for o in (0, 1, 2, 7)] + [Entry((1, 4), _entry(4).letter)]
    marker = make_marker(entries)
    assert marker.replayed == {0: [(0, 3), (7, 8)], 1: [(4, 5)]}
    assert marker.targets == {"news.enriched": 5}
    wire = ReplayMarker.model_validate_json(marker.model_dump_json())
    assert marked_refs(wire) == {(0, 0), (0, 1), (0, 2), (0, 7), (1, 4)}


def test_check_replayable_reports_what_cannot_be_republished() -> None:
    existing = {"news.raw", "news.enriched", "news.dlq"}
    assert check_replayable(_entry(0), "news.dlq", existing) is None
    assert "no source topic" in (
        check_replayable(_entry(0, topic=None), "news.dlq", existing) or ""
    )
    assert "dead-letter topic itself" in (
        check_replayable(_entry(0, topic="news.dlq"), "news.dlq", existing) or ""
    )
    assert check_replayable(_entry(0, topic="gone"), "news.dlq", existing) == (
        "topic gone does not exist"
    )
    cut = DeadLetter(stage="enrich", reason="r", topic="news.raw", payload="a" * 5000)
    cut = DeadLetter.model_validate_json(cut.to_bytes_within(RECORD_OVERHEAD + 3000))
    assert "payload was cut" in (check_replayable(Entry((0, 0), cut), "news.dlq", existing) or "")


def test_offsets_on_the_command_line() -> None:
    assert parse_ref("17") == (0, 17)
    assert parse_ref("2:17") == (2, 17)
    assert format_ref((0, 17)) == "17" and format_ref((2, 17)) == "2:17"
    for bad in ("x", "-1", "1:y", ""):
        with pytest.raises(DlqError):
            parse_ref(bad)


def test_letter_line_and_list_lines() -> None:
    entry = _entry(3, "index", MAPPING.format(id="a" * 64, value="x"))
    line = letter_line(entry)
    assert line.split()[:6] == [
        "3",
        "2024-05-01",
        "12:30:00",
        "index",
        "news.enriched[2]@43",
        "ab" * 6,
    ]
    assert line.endswith("…") and len(line) < 200
    assert letter_line(_entry(4, partition=None, offset=None)).split()[4] == "news.enriched"
    dlq = Dlq("news.dlq", entries=[_entry(0), entry], replayed={(0, 0)}, markers=1)
    dlq.unreadable.append(((0, 5), "1 validation error for DeadLetter"))
    lines = list_lines(dlq, [entry])
    assert lines[0] == "news.dlq: 2 letters, 1 replayed, 1 shown"
    assert lines[1:3] == ["by stage:", "      1  index"]
    assert lines[-1] == "      5  not a dead letter: 1 validation error for DeadLetter"
    shown_all = list_lines(dlq, dlq.entries)
    assert [ln[:9] for ln in shown_all[-4:-2]] == ["      0* ", "      3  "]
    assert shown_all[-2] == "(* replayed)"


def test_show_prints_every_field_and_shortens_a_long_json_payload() -> None:
    body = "word " * 100_000
    entry = _entry(
        8,
        "enrich",
        TRACEBACK,
        payload=orjson.dumps({"id": "x", "body": body, "minhash": list(range(128))}).decode(),
        headers={"kind": "link-update"},
    )
    lines = show_lines(entry, replayed=True)
    text = "\n".join(lines)
    assert lines[:2] == ["dlq offset  8", "replayed    yes"]
    for expected in ("topic       news.enriched", "partition   2", "offset      48"):
        assert expected in lines
    assert "headers     kind=link-update" in lines
    assert "  ValueError: no language for 'abc'" in lines  # the reason in full
    assert len(text) < 3000 and "[+499,600 chars]" in text and "[+116 items]" in text
    full = show_lines(entry, replayed=True, full=True)
    assert orjson.loads(full[-1])["body"] == body


def test_pretty_payload_of_text_that_is_not_json() -> None:
    assert pretty_payload("{not json") == "{not json"
    cut = pretty_payload("z" * 10_000)
    assert cut.startswith("z" * 4000) and cut.endswith("[+6,000 chars; --full shows all]")
    assert pretty_payload("z" * 10_000, full=True) == "z" * 10_000
