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


def fold(text: str) -> str:
    """Case-, accent-, quote- and Arabic-variant-insensitive form of `text` (length may change)."""
    if text.isascii():
        return text.replace("`", "'").casefold()
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _AR_DIACRITICS.sub("", text).translate(_AR_LETTERS)
    # Drop the combining marks of Latin letters (é -> e); Arabic marks were handled above.
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return unicodedata.normalize("NFC", text).casefold()


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
