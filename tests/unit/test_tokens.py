"""The tokenizer's fast path (newspipe.text.token_pattern) finds exactly TOKEN's tokens."""

from __future__ import annotations

from pathlib import Path

from newspipe.text import TOKEN, fold, token_pattern
from services.enrich import dedup

DATA = Path(__file__).resolve().parents[2]


def _texts() -> list[str]:
    files = sorted((DATA / "seeds").glob("*.txt")) + sorted((DATA / "tests/data").rglob("*.txt"))
    return [f.read_text("utf-8") for f in files]


def test_the_fast_pattern_finds_the_same_tokens_in_every_corpus_text() -> None:
    texts = _texts()
    assert len(texts) > 400
    for text in texts:
        for form in (text, fold(text)):
            assert [m.span() for m in token_pattern(form).finditer(form)] == [
                m.span() for m in TOKEN.finditer(form)
            ]
        parts = dedup._SENTENCE_END.split(fold(text))
        assert dedup.sentences(text) == [dedup._WORD.findall(p) for p in parts]


def test_an_underscore_splits_words_as_before() -> None:
    text = "snake_case 5+5 al_Haftar الناظوري_x"
    assert token_pattern(text) is TOKEN
    assert TOKEN.findall(text) == ["snake", "case", "5+5", "al", "Haftar", "الناظوري", "x"]
    assert dedup.sentences(text, fold(text)) == [
        ["snake", "case", "5", "5", "al", "haftar", "الناظوري", "x"]
    ]
