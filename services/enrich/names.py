"""Name keys: the form under which transliterations of one name compare equal.

Latin: folded, article tokens (al/el) dropped, abd-el/abdul split off, digraphs merged
(dh/th/z/d -> d, q/k/g/kh/gh/c -> k, sh/ch -> s, ph -> f, dj -> j), every vowel run -> "a", a final
"h" after a vowel dropped, doubled letters collapsed: Al-Nathori, Al-Nadhouri and el-Nadhuri share
"nadara". Arabic: folded (alef/ya/ta-marbuta variants, diacritics), the clitic prefixes and article
(و ف ب ك ل + ال) stripped, عبد split off.
"""

from __future__ import annotations

import re
from functools import lru_cache

from newspipe.text import TOKEN, fold, is_arabic

ARTICLES = frozenset({"al", "el", "il", "ال"})
ABD_WORDS = frozenset({"abd", "abdel", "abdul", "abdal", "abdol", "abdou", "abdoul", "abdu", "عبد"})
_ABD = re.compile(r"^(abd|abdu|abdi|abdo)(el|ul|al|ol|oul|ou|u|e)?(?=[a-z]{3})")
_LATIN_RULES = [
    (re.compile(r"kh|gh|ck|q|g|c(?=[aou])"), "k"),
    (re.compile(r"dh|th|dz|z"), "d"),
    (re.compile(r"sh|ch|sch"), "s"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"dj"), "j"),
    (re.compile(r"w(?=[^aeiouy]|$)"), ""),  # "ou"/"w" diphthong spellings: Nadhouri ~ Nadhwri
]
_VOWELS = re.compile(r"[aeiouy]+")
_DOUBLE = re.compile(r"(.)\1+")
_AR_PREFIX = re.compile(r"^(?:[وف]?[بكل]?ال|لل)(?=..)")
_AR_WAW = re.compile(r"^[وفبل](?=...)")


@lru_cache(maxsize=200_000)
def token_keys(token: str) -> tuple[str, ...]:
    """Keys of one raw token (two for `abd`-names, none for an article)."""
    t = fold(token)
    if t in ARTICLES:
        return ()
    if t in ABD_WORDS:
        return ("abd",)
    if is_arabic(t):
        return _arabic_keys(t)
    if t[:1].isdigit():
        return (t.replace(" ", ""),)
    match = _ABD.match(t)
    if match:
        return ("abd", latin_key(t[match.end() :]))
    return (latin_key(t),)


def _arabic_keys(t: str) -> tuple[str, ...]:
    if t.startswith("عبد") and len(t) > 4:
        return ("abd", _AR_PREFIX.sub("", t[3:]))
    return (_AR_PREFIX.sub("", t),)


def arabic_variant(t: str) -> str | None:
    """The key without a one-letter clitic (و ف ب ل), for a second lookup: وحفتر -> حفتر."""
    return _AR_WAW.sub("", t) if is_arabic(t) and _AR_WAW.match(t) else None


def lam_variant(word: str, key: str) -> str | None:
    """The second reading of a word that starts with لل: ل + the article, contracted before a
    word that itself starts with ل (للجنة = ل + اللجنة, للواء = ل + اللواء). The key strips
    لل (للحكومة -> حكومه, right for most words); this restores the word's own lam (جنه -> لجنه)."""
    return "ل" + key if len(key) >= 2 and fold(word).startswith("لل") and is_arabic(key) else None


def readings(word: str, key: str) -> tuple[str, ...]:
    """The keys a word may be read under: its key, then without a one-letter clitic (وحفتر ->
    حفتر) and with its own lam restored (للواء -> لواء), where those apply."""
    return tuple(k for k in (key, arabic_variant(key), lam_variant(word, key)) if k)


def latin_key(t: str) -> str:
    for pattern, repl in _LATIN_RULES:
        t = pattern.sub(repl, t)
    t = _VOWELS.sub("a", t)
    if len(t) > 3 and t.endswith("ah"):
        t = t[:-1]
    t = _DOUBLE.sub(r"\1", t)
    return "abd" if t == "abd" else t


def name_key(name: str) -> tuple[str, ...]:
    """Key of a whole name: the keys of its tokens, in order."""
    return tuple(k for tok in TOKEN.findall(name) for k in token_keys(tok))


def is_acronym(alias: str) -> bool:
    """LNA, GNU, UNSMIL, HoR: matched case-sensitively, never by key. One word only: the text's
    words are matched against acronyms, so "Al-Qaeda" or "GI-TOC" (two words) would never be
    found as one; they are names, found by key."""
    letters = alias.replace(".", "")
    return (
        2 <= len(letters) <= 8
        and " " not in alias
        and len(TOKEN.findall(letters)) == 1
        and sum(c.isupper() for c in letters) >= 2
        and not is_arabic(alias)
        and not any(c.isdigit() for c in letters)
    )


_STRICT_VOWELS = [(re.compile(r"ou|oo|u"), "u"), (re.compile(r"ee|ei|ie|i|y"), "i")]


@lru_cache(maxsize=200_000)
def strict_key(token: str) -> str:
    """A one-word name's second key, vowels kept (only ou/oo/u and ee/ei/i/y merged): the
    vowel-free key alone lets short words collide (Radaa ~ Radio, Crete ~ Create)."""
    t = fold(token).replace("-", "").replace("'", "")
    for pattern, repl in [*_LATIN_RULES[:-1], *_STRICT_VOWELS]:
        t = pattern.sub(repl, t)
    return _DOUBLE.sub(r"\1", t)
