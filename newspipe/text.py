"""Text normalisation shared by identity (doc_id), matching and the folded search field.

Pure functions only. Latin text is folded (NFKD, accents dropped, casefolded); Arabic text is
normalised the usual way for search (diacritics and tatweel dropped, alef/ya/ta-marbuta variants
unified), so the same rules serve ids, gazetteer matching and the `standard`-analyzer node.
"""

from __future__ import annotations

import re
import unicodedata

# Arabic harakat, tanween, shadda, sukun, superscript alef (U+064B-U+065F, U+0670) and tatweel.
_AR_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u0640]")
_AR_LETTERS = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
    }
)
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
    }
)
_WS = re.compile(r"\s+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


# The two tables as (from, to) pairs: str.translate looks every character up in a dict (most of
# fold's time on a non-ASCII text); a str.replace per pair scans in C. No pair's result is
# another's source, so the order does not matter and the result is translate's.
_QUOTE_PAIRS = [(chr(k), str(v)) for k, v in _QUOTES.items()]
_AR_LETTER_PAIRS = [(chr(k), str(v)) for k, v in _AR_LETTERS.items()]


def _replace(text: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def fold(text: str) -> str:
    """Case-, accent-, quote- and Arabic-variant-insensitive form of `text` (length may change)."""
    if text.isascii():
        return text.replace("`", "'").casefold()
    text = _replace(unicodedata.normalize("NFKC", text), _QUOTE_PAIRS)
    text = _replace(_AR_DIACRITICS.sub("", text), _AR_LETTER_PAIRS)
    # Drop the combining marks of Latin letters (é -> e); Arabic marks were handled above.
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return unicodedata.normalize("NFC", text).casefold()


def titled(title: str | None, body: str) -> tuple[str, int]:
    """The text the enrichment reads (title, a blank line, the body) and where the body starts.
    fold() keeps the blank line, so `titled(fold(t), fold(b))` is the folded text's layout."""
    if not title:
        return body, 0
    return f"{title}\n\n{body}", len(title) + 2


def paragraph_end(text: str, start: int, cap: int) -> int:
    """End of the paragraph that begins at or after `start` (blank lines skipped), at most `cap`
    characters on: the lead, or the paragraph after it."""
    while start < len(text) and text[start] in "\n ":
        start += 1
    nl = text.find("\n", start)
    return min(nl if nl != -1 else len(text), start + cap)


def normalise_body(body: str) -> str:
    """The form an article's identity is computed on: folded, whitespace collapsed."""
    return _WS.sub(" ", fold(body)).strip()


# One token: "5+5" (the commission's name), a run of letters/digits, or an Arabic word.
# Combining marks (Arabic harakat, Latin accents in NFD text) stay inside their word.
TOKEN = re.compile(r"\d+\s?\+\s?\d+|(?:[^\W_]|[\u064b-\u065f\u0670\u0640\u0300-\u036f])+")
# The same tokens in a text without "_": \w is [^\W_] plus the underscore, so one character class
# replaces the alternation (twice as fast; most texts have no underscore).
_TOKEN_NO_UNDERSCORE = re.compile(r"\d+\s?\+\s?\d+|[\w\u064b-\u065f\u0670\u0640\u0300-\u036f]+")


def token_pattern(text: str) -> re.Pattern[str]:
    """TOKEN, or its faster equal for a text without an underscore."""
    return TOKEN if "_" in text else _TOKEN_NO_UNDERSCORE


# The same tokens but a possessive "s" (Haftar's, Haftar’s), as one capture group: `split` gives
# gaps and words alternately, so every word's offsets come from the parts' lengths, all in C.
_MARKS = "\u064b-\u065f\u0670\u0640\u0300-\u036f"
_WORDS_SPLIT = re.compile(rf"((?!(?<=['’])s(?!(?:[^\W_]|[{_MARKS}])))(?:{TOKEN.pattern}))")
_WORDS_SPLIT_NO_UNDERSCORE = re.compile(
    rf"((?!(?<=['’])s(?![\w{_MARKS}]))(?:{_TOKEN_NO_UNDERSCORE.pattern}))"
)


def words_split(text: str) -> list[str]:
    """`text` split into gap, word, gap, word, ..., gap: TOKEN's tokens bar a possessive "s"."""
    return (_WORDS_SPLIT if "_" in text else _WORDS_SPLIT_NO_UNDERSCORE).split(text)


# The Arabic article with a clitic before it (wa-, bi-, fa-, ka-, li-): stripped for search.
_AR_CLITIC_ARTICLE = ("وال", "بال", "فال", "كال", "لل", "ال")
# ... at the start of a token (tokens are joined by single spaces), two characters left after it.
_AR_CLITIC_AT_START = re.compile(r"(?:(?<= )|^)(?:" + "|".join(_AR_CLITIC_ARTICLE) + r")(?=\S\S)")


def is_arabic(token: str) -> bool:
    return "\u0600" <= token[:1] <= "\u06ff"


def search_text(text: str) -> str:
    """Folded text for the `standard` analyzer: accents dropped, Arabic letter variants unified and
    the article/clitics stripped, so "الناظوري" and "ناظوري" meet.
    Documents (at enrich time) and queries (at search time) get the same treatment."""
    return search_text_folded(fold(text))


def search_text_folded(folded: str) -> str:
    """search_text() of a text already folded (fold())."""
    return _AR_CLITIC_AT_START.sub("", " ".join(token_pattern(folded).findall(folded)))
