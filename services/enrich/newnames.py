"""Names outside the knowledge pack, so analysts see new actors appear.

A run of capitalised words the pack did not claim becomes an entity when something types it: a
title before it (General, Ambassador -> PERSON), an organisation head word inside it (Ministry,
Brigade -> ORG), a place head word or a locative preposition with a place-like word (LOC). Untyped
runs are dropped: precision first. Word lists live in knowledge/lexicon.yaml.
"""

from __future__ import annotations

import re
from functools import lru_cache

from newspipe.contract import Entity
from newspipe.text import fold as _fold
from services.enrich.entities import Token

CONNECTORS = frozenset(
    {
        "al",
        "el",
        "bin",
        "ben",
        "ibn",
        "ould",
        "de",
        "du",
        "des",
        "of",
        "and",
        "for",
        "la",
        "le",
        "abu",
        "abou",
        "bou",
    }
)
fold = lru_cache(maxsize=100_000)(_fold)  # per word, and the same words recur: cache it
_SLUG = re.compile(r"[^a-z0-9\u0600-\u06ff]+")


def slug(name: str) -> str:
    return _SLUG.sub("-", fold(name)).strip("-")


def find_new_names(
    text: str, tokens: list[Token], covered: set[int], lex: dict[str, list[str]]
) -> list[Entity]:
    stop = set(lex.get("stopwords", ()))
    found: dict[str, Entity] = {}
    i = 0
    while i < len(tokens):
        if i in covered or not _name_word(tokens[i], stop):
            i += 1
            continue
        j = i
        while (
            j + 1 < len(tokens)
            and j + 1 not in covered
            and _adjacent(text, tokens, j)
            and _continues(tokens, j + 1, stop)
        ):
            j += 1
        while j > i and fold(tokens[j].text) in CONNECTORS:
            j -= 1
        etype = _type_of(tokens, i, j, lex)
        if etype:
            surface = text[tokens[i].start : tokens[j].end]
            _add(found, surface, etype)
        i = j + 1
    return list(found.values())


def _adjacent(text: str, tokens: list[Token], j: int) -> bool:
    """Names do not run across punctuation: "Army (LNA), Abdulrazzaq" is two things."""
    return text[tokens[j].end : tokens[j + 1].start] in (" ", "-", "‑")


def _name_word(tok: Token, stop: set[str]) -> bool:
    return tok.upper and not tok.text.isupper() and fold(tok.text) not in stop and len(tok.text) > 1


def _continues(tokens: list[Token], k: int, stop: set[str]) -> bool:
    tok = tokens[k]
    if fold(tok.text) in CONNECTORS:
        return k + 1 < len(tokens) and tokens[k + 1].upper
    return tok.upper and fold(tok.text) not in stop


def _type_of(tokens: list[Token], i: int, j: int, lex: dict[str, list[str]]) -> str | None:
    words = [fold(t.text) for t in tokens[i : j + 1]]
    before = fold(tokens[i - 1].text) if i > 0 else ""
    if len(words) >= 2 and any(w in lex.get("org_heads", ()) for w in words):
        return "ORG"
    if len(words) >= 2 and any(w in lex.get("place_heads", ()) for w in words):
        return "LOC"
    if any(w in lex.get("org_heads", ()) or w in lex.get("place_heads", ()) for w in words):
        return None
    titles = lex.get("person_titles", ())
    if before in titles and len(words) <= 4 and not any(w in titles for w in words):
        return "PERSON"
    if len(words) >= 2 and words[0] in lex.get("given_names", ()):
        return "PERSON"
    return None


def _add(found: dict[str, Entity], surface: str, etype: str) -> None:
    key = f"new-{slug(surface)}"
    if key in found:
        ent = found[key]
        mentions = ent.mentions if surface in ent.mentions else [*ent.mentions, surface]
        found[key] = ent.model_copy(update={"count": ent.count + 1, "mentions": mentions})
    else:
        found[key] = Entity(
            id=key,
            name=surface,
            type=etype,
            mentions=[surface],
            count=1,
            in_pack=False,
        )
