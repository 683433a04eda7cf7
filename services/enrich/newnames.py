"""Names outside the knowledge pack, so analysts see new actors appear.

A run of capitalised words the pack did not claim becomes an entity when something types it: a
title before it (General, Ambassador -> PERSON), an organisation head word inside it (Ministry,
Brigade -> ORG), a place head word or a locative preposition with a place-like word (LOC). Untyped
runs are dropped: precision first. Word lists live in knowledge/lexicon.yaml.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from functools import lru_cache
from itertools import compress
from typing import Any

from newspipe.contract import Entity
from newspipe.text import fold as _fold
from services.enrich.entities import Mention, Tokens
from services.enrich.knowledge import Gazetteer, UnitWords
from services.enrich.names import name_key

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
    text: str,
    tokens: Tokens,
    covered: set[int],
    lex: Mapping[str, frozenset[str]],
    title_end: int = 0,
) -> list[Entity]:
    """New names in `text`, whose first `title_end` characters are the headline. Two kinds of
    run are not read as names, as they were wrong every time on the labelled tune parts (35 and
    11 runs; ADR 0016): one word typed a person by the title before it alone
    ("Defense", "Staff", "Delegate"; a surname of a person named in full is a mention of that
    name), and any run in a headline written in title case ("Army Completes", "Forces Say Plan
    Agreed")."""
    stop = lex.get("stopwords", frozenset())
    texts, starts, ends, upper = tokens
    n = len(texts)
    found: dict[str, Entity] = {}
    lone: list[str] = []  # one-word persons: kept only as another name's surname
    # A run starts at a capitalised word (not all capitals, not a stop word) that no pack name
    # took; lower-case words, most of a text, are passed over in one step.
    i = _title_case_end(texts, starts, upper, title_end, stop)
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
        elif etype == "PERSON" and i == j:
            lone.append(text[starts[i] : ends[j]])
        elif etype:
            _add(found, text[starts[i] : ends[j]], etype)
        i = j + 1
    for surface in lone:
        _add_surname(found, surface)
    return list(found.values())


def _title_case_end(
    texts: list[str], starts: list[int], upper: list[bool], title_end: int, stop: frozenset[str]
) -> int:
    """The first token after the headline when the headline is written in title case (three
    words or more of four letters or more, all capitalised but one at most), else 0."""
    if not title_end:
        return 0
    end = bisect_right(starts, title_end - 1)
    long = [
        k
        for k in range(end)
        if len(texts[k]) >= 4
        and texts[k].isalpha()
        and texts[k][0].lower() != texts[k][0].upper()  # a script with case: not Arabic
        and fold(texts[k]) not in stop
    ]
    if len(long) >= 3 and sum(not upper[k] for k in long) <= 1:
        return end
    return 0


def _add_surname(found: dict[str, Entity], surface: str) -> None:
    """A one-word person: a mention of the new person whose name ends with it, if any."""
    key = fold(surface)
    for eid, ent in found.items():
        if ent.type == "PERSON" and len(ent.name.split()) > 1 and fold(ent.name.split()[-1]) == key:
            mentions = ent.mentions if surface in ent.mentions else [*ent.mentions, surface]
            found[eid] = ent.model_copy(update={"count": ent.count + 1, "mentions": mentions})
            return


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


_DIGITS = re.compile(r"(?<!\d)\d")  # where each number starts
_NUMBER = re.compile(r"(\d{1,3})(?:st|nd|rd|th|e|er|eme|ème)?")


def _number(word: str) -> int | None:
    m = _NUMBER.fullmatch(word)
    return int(m[1]) if m and int(m[1]) > 0 else None


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def find_units(
    text: str, tokens: Tokens, covered: set[int], words: UnitWords, gaz: Gazetteer
) -> tuple[list[Mention], list[Entity]]:
    """Numbered military units no pack name took: a unit word with a number after it
    ("Battalion 177", "الكتيبة 177 مشاة", "brigade 55") or before it, a kind between
    ("177th Infantry Battalion"). A unit the pack holds under another writing ("55th Brigade"
    for "la brigade 55") is a mention of the pack's entry; any other is one entity per unit and
    number, named in English ("177th Infantry Battalion"), whatever the language: the id is the
    same across languages."""
    pack: list[Mention] = []
    if not words.units:
        return pack, []
    texts, starts, ends, _ = tokens
    n = len(texts)
    # unit id -> [name, mentions as written, count]: the name is the last one that gives the
    # kind of unit ("177th Infantry Battalion" over "177th Battalion"), else the first
    found: dict[str, list[Any]] = {}
    # Only the words around a number can be a unit word: most articles have a few numbers.
    numbers = {bisect_right(starts, m.start()) - 1 for m in _DIGITS.finditer(text)}
    near = sorted({k for j in numbers for k in (j - 1, j + 1, j + 2) if 0 <= k < n})
    for k in near:
        unit = words.lookup(texts[k], words.units)
        if unit is None or k in covered:
            continue
        kind, span = None, None
        after = _number(texts[k + 1]) if k + 1 < n and k + 1 not in covered else None
        if after is not None:  # "Battalion 177", "الكتيبة 177 مشاة"
            number, span = after, (k, k + 1)
            if (
                k + 2 < n
                and k + 2 not in covered
                and (kind := words.lookup(texts[k + 2], words.kinds))
            ):
                span = (k, k + 2)
        elif k >= 1 and k - 1 not in covered and (before := _number(texts[k - 1])) is not None:
            number, span = before, (k - 1, k)  # "459th Battalion"
        elif (
            k >= 2
            and not {k - 1, k - 2} & covered
            and (kind := words.lookup(texts[k - 1], words.kinds))
            and (before := _number(texts[k - 2])) is not None
        ):
            number, span = before, (k - 2, k)  # "177th Infantry Battalion"
        if span is None:
            continue
        name = f"{ordinal(number)} {kind + ' ' if kind else ''}{unit}"
        surface = text[starts[span[0]] : ends[span[1]]]
        covered.update(range(span[0], span[1] + 1))
        held = _held(gaz, name, f"{ordinal(number)} {unit}", f"{number} {unit}", f"{unit} {number}")
        if held is not None:
            pack.append(Mention(held, surface, starts[span[0]], ends[span[1]], span[0], "unit"))
            continue
        seen = found.setdefault(f"unit-{unit.lower()}-{number}", [name, [], 0])
        if kind:
            seen[0] = name
        if surface not in seen[1]:
            seen[1].append(surface)
        seen[2] += 1
    new = [
        Entity(
            id=uid,
            name=name,
            type="ORG",
            mentions=mentions,
            count=count,
            in_pack=False,
            attributes={"matched_by": "numbered unit"},
        )
        for uid, (name, mentions, count) in found.items()
    ]
    return pack, new


def _held(gaz: Gazetteer, *names: str) -> str | None:
    """The pack entry one of these names is (its first reading), if any."""
    for name in names:
        ids = gaz.by_key.get(name_key(name))
        if ids:
            return ids[0]
    return None
