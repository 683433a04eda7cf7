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


def _reference_fold(text: str) -> str:
    """fold() as first written, with str.translate (the tables are the module's)."""
    import unicodedata

    from newspipe import text as t

    if text.isascii():
        return text.replace("`", "'").casefold()
    text = unicodedata.normalize("NFKC", text).translate(t._QUOTES)
    text = t._AR_DIACRITICS.sub("", text).translate(t._AR_LETTERS)
    text = t._COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return unicodedata.normalize("NFC", text).casefold()


def test_fold_by_replacement_equals_translate_on_every_corpus_text() -> None:
    odd = "‘Quoted’ «guillemets» – dash `tick´ أإآٱ ىةؤئ الجيشُ ـ Sécurité ŒUVRE ﬁn"
    for text in [*_texts(), odd]:
        assert fold(text) == _reference_fold(text)


def _reference_tokens(text: str) -> list[tuple[str, int, int]]:
    """TOKEN's tokens, a possessive "s" dropped, as the matcher first tokenized; then each dotted
    acronym (U.N.) as one token of its letters spanning the whole of it."""
    import re

    out = [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(text)]
    out = [t for t in out if t[0] != "s" or not t[1] or text[t[1] - 1] not in "'’"]
    for m in re.finditer(r"(?<![\w.])(?:[A-Z]\.){2,}(?!\w)", text):
        inside = [t for t in out if m.start() <= t[1] < m.end()]
        at = out.index(inside[0])
        out[at : at + len(inside)] = [("".join(t[0] for t in inside), m.start(), m.end())]
    return out


def test_tokenize_finds_the_reference_words_and_offsets() -> None:
    from services.enrich.entities import tokenize

    odd = [
        "Haftar's men and Haftar’s allies; s at start, it's, 's, snake_case's x's_y 5 + 5",
        "s",
        "",
        "'s",
        "Dbeibah's_office and O's",
        "U.N.-backed U.S. officials, the U.K. and J.R.R. but not e.g. or A.b. or X.Y.Z",
        "A.B.",
    ]
    for text in [*_texts(), *odd]:
        for form in (text, fold(text)):
            tokens = tokenize(form)
            assert list(zip(tokens.texts, tokens.starts, tokens.ends, strict=True)) == (
                _reference_tokens(form)
            )
            assert tokens.upper == [
                t[0].isupper() or "\u0600" <= t[0] <= "\u06ff" for t in tokens.texts
            ]


def test_grams_are_the_joined_runs_of_words() -> None:
    words = ["a", "bé", "c", "الناظوري", "e", "5+5"]
    for n in (1, 2, 4, 6, 7):
        expected = [" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)]
        assert dedup.grams(words, n) == expected
    assert dedup.grams([], 3) == []
