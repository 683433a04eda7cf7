"""Names outside the knowledge pack, so analysts see new actors appear.

A run of capitalised words the pack did not claim becomes an entity when something types it: a
title before it (General, Ambassador -> PERSON), an organisation head word inside it (Ministry,
Brigade -> ORG), a place head word or a locative preposition with a place-like word (LOC). Untyped
runs are dropped: precision first. Word lists live in knowledge/lexicon.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from itertools import compress

from newspipe.contract import Entity
from newspipe.text import fold as _fold
from services.enrich.entities import Tokens

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
_AND = frozenset({"and", "et"})
fold = lru_cache(maxsize=100_000)(_fold)  # per word, and the same words recur: cache it
_SLUG = re.compile(r"[^a-z0-9\u0600-\u06ff]+")


def slug(name: str) -> str:
    return _SLUG.sub("-", fold(name)).strip("-")


def find_new_names(
    text: str, tokens: Tokens, covered: set[int], lex: Mapping[str, frozenset[str]]
) -> list[Entity]:
    stop = lex.get("stopwords", frozenset())
    texts, starts, ends, upper = tokens
    n = len(texts)
    found: dict[str, Entity] = {}
    # A run starts at a capitalised word (not all capitals, not a stop word) that no pack name
    # took; lower-case words, most of a text, are passed over in one step.
    i = 0
    for k in compress(range(n), upper):
        if k < i or k in covered:
            continue
        word = texts[k]
        if word.isupper() or len(word) <= 1 or fold(word) in stop:
            continue
        i = j = k
        while (
            j + 1 < n
            and j + 1 not in covered
            and text[ends[j] : starts[j + 1]] in (" ", "-", "‑")  # not across punctuation
            and _continues(texts, upper, j + 1, stop)
        ):
            j += 1
        while j > i and fold(texts[j]) in CONNECTORS:
            j -= 1
        etype = _type_of(texts, i, j, lex)
        cuts = [k for k in range(i + 1, j) if fold(texts[k]) in _AND] if etype == "PERSON" else []
        if cuts:  # "Roberto Carlos and David Trezeguet": two people, each typed on its own
            for a, b in zip([i, *(k + 1 for k in cuts)], [*(k - 1 for k in cuts), j], strict=True):
                if b > a and _type_of(texts, a, b, lex) == "PERSON":
                    _add(found, text[starts[a] : ends[b]], "PERSON")
        elif etype:
            _add(found, text[starts[i] : ends[j]], etype)
        i = j + 1
    return list(found.values())


def _continues(texts: list[str], upper: list[bool], k: int, stop: frozenset[str]) -> bool:
    word = fold(texts[k])
    if word in CONNECTORS:
        return k + 1 < len(texts) and upper[k + 1]
    return upper[k] and word not in stop


def _type_of(texts: list[str], i: int, j: int, lex: Mapping[str, frozenset[str]]) -> str | None:
    words = [fold(t) for t in texts[i : j + 1]]
    before = fold(texts[i - 1]) if i > 0 else ""
    empty: frozenset[str] = frozenset()
    orgs, places = lex.get("org_heads", empty), lex.get("place_heads", empty)
    if len(words) >= 2 and any(w in orgs for w in words):
        return "ORG"
    if len(words) >= 2 and any(w in places for w in words):
        return "LOC"
    if any(w in orgs or w in places for w in words):
        return None
    titles = lex.get("person_titles", empty)
    if before in titles and len(words) <= 4 and not any(w in titles for w in words):
        return "PERSON"
    if len(words) >= 2 and words[0] in lex.get("given_names", empty):
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
