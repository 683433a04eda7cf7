"""Entity finding: pack aliases by name key (longest match wins), acronyms by exact case, bare
surnames resolved to a person named in the same article, else by context cues, else by the pack's
stated default (recorded as such), else reported as ambiguous. Names outside the pack: newnames."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import NamedTuple

from newspipe.contract import Entity
from newspipe.text import TOKEN, fold, is_arabic, token_pattern
from services.enrich.knowledge import Gazetteer
from services.enrich.names import arabic_variant, name_key, strict_key, token_keys

CONTEXT_WINDOW = (
    12  # tokens each side of a bare surname searched for role cues ("deputy commander")
)
MAX_NAME_KEYS = 10


class Token(NamedTuple):  # a NamedTuple: built for every word, ~3x cheaper than a dataclass
    text: str
    start: int
    end: int
    upper: bool  # capitalised Latin word, or any Arabic word (Arabic has no case)


class Mention(NamedTuple):
    entity_id: str
    surface: str
    start: int
    end: int
    first_token: int
    how: str  # alias | acronym | surname | context | default | ambiguous


def tokenize(text: str) -> list[Token]:
    out = [
        Token(m.group(), m.start(), m.end(), _upper(m.group()))
        for m in token_pattern(text).finditer(text)
    ]
    # A possessive "s" (Haftar's) is not a word.
    return [t for t in out if t.text != "s" or not t.start or text[t.start - 1] not in "'’"]


@lru_cache(maxsize=200_000)
def _upper(token: str) -> bool:
    """Capitalised Latin word, or any Arabic word (Arabic has no case)."""
    first = token[0]
    return first.isupper() or "\u0600" <= first <= "\u06ff"


def _slots(tokens: list[Token]) -> tuple[list[str], list[int]]:
    """Flatten token keys (an abd-name gives two), remembering each key's token index."""
    pairs = [(k, i) for i, tok in enumerate(tokens) for k in token_keys(tok.text)]
    return [k for k, _ in pairs], [i for _, i in pairs]


def find_mentions(text: str, gaz: Gazetteer) -> tuple[list[Mention], list[Token], set[int]]:
    """Pack matches in order; also the tokens and the indexes of tokens they cover."""
    tokens = tokenize(text)
    keys, owner = _slots(tokens)
    mentions: list[Mention] = []
    covered: set[int] = set()
    surnames: list[tuple[str, int]] = []  # (surname key, token)
    lengths, acronyms = gaz.lengths, gaz.acronyms
    i = 0
    while i < len(keys):
        tok = tokens[owner[i]]
        key = keys[i]
        if not tok.upper and key not in lengths and tok.text not in acronyms:
            i += 1  # the common case: a lower-case word that starts no name
            continue
        # A name can start here only if the word is an acronym or its key (or the key without a
        # clitic) starts an alias; most capitalised words and Arabic words start none.
        starts = tok.text in acronyms or key in lengths or _variant(key) in lengths
        hit = _match_at(keys, owner, tokens, i, gaz) if starts else None
        if hit:
            n, ent_id, how = hit
            first, last = owner[i], owner[i + n - 1]
            start = _article_start(tokens, first, text)
            mentions.append(
                Mention(ent_id, text[start : tokens[last].end], start, tokens[last].end, first, how)
            )
            covered.update(range(first, last + 1))
            i += n
            continue
        if tok.upper:
            surname = _surname_key(key, gaz)
            if surname is not None and _strict_ok(tok.text, surname, gaz):
                surnames.append((surname, owner[i]))
        i += 1
    mentions += _resolve_surnames(surnames, tokens, mentions, gaz, covered)
    mentions.sort(key=lambda m: m.start)
    return mentions, tokens, covered


def _surname_key(key: str, gaz: Gazetteer) -> str | None:
    """The key under which a capitalised token is a known surname (itself, or without a clitic)."""
    if key in gaz.short:
        return key
    variant = _variant(key)
    return variant if variant in gaz.short else None


_variant = lru_cache(maxsize=200_000)(arabic_variant)


def _match_at(
    keys: list[str], owner: list[int], tokens: list[Token], i: int, gaz: Gazetteer
) -> tuple[int, str, str] | None:
    tok = tokens[owner[i]]
    if tok.text in gaz.acronyms:
        return 1, gaz.acronyms[tok.text], "acronym"
    if keys[i] not in gaz.lengths and not tok.upper:
        return None  # the common case: a lower-case word that starts no name
    first_keys = [keys[i]]
    variant = _variant(keys[i])
    if variant:
        first_keys.append(variant)
    for first in first_keys:
        for n in gaz.lengths.get(first, ()):
            cand = (first, *keys[i + 1 : i + n])
            ids = gaz.by_key.get(cand) if len(cand) == n else None
            if n == 1 and ids and not _strict_ok(tok.text, first, gaz):
                continue
            if ids and _case_ok(tokens, owner, i, n, gaz.entities[ids[0]].type):
                return n, ids[0], "alias"
    return None


def _strict_ok(text: str, key: str, gaz: Gazetteer) -> bool:
    """One-word names: Latin forms must also agree on their vowels (strict key)."""
    return is_arabic(text) or strict_key(text) in gaz.strict.get(key, ())


def _case_ok(tokens: list[Token], owner: list[int], i: int, n: int, etype: str) -> bool:
    """A name starts with a capital (Arabic has none); a long org/place name may be lower-case
    ("the joint military commission")."""
    first = tokens[owner[i]]
    if first.upper or first.text[:1].isdigit():
        return True
    return etype != "PERSON" and n >= 3


def _article_start(tokens: list[Token], first: int, text: str) -> int:
    """Include a preceding article written apart ("Al-Haddad", "el Nadhouri") in the surface."""
    if first > 0 and fold(tokens[first - 1].text) in ("al", "el"):
        prev = tokens[first - 1]
        if text[prev.end : tokens[first].start] in ("-", " ", "‑"):
            return prev.start
    return tokens[first].start


def _resolve_surnames(
    surnames: list[tuple[str, int]],
    tokens: list[Token],
    mentions: list[Mention],
    gaz: Gazetteer,
    covered: set[int],
) -> list[Mention]:
    full = [(m.first_token, m.entity_id) for m in mentions if m.how == "alias"]
    out = []
    for key, ti in surnames:
        cands = gaz.short[key]
        ent_id, how = _pick(cands, ti, full, tokens, gaz)
        tok = tokens[ti]
        out.append(Mention(ent_id, tok.text, tok.start, tok.end, ti, how))
        covered.add(ti)
    return out


def _pick(
    cands: list[str], ti: int, full: list[tuple[int, str]], tokens: list[Token], gaz: Gazetteer
) -> tuple[str, str]:
    named = [(pos, e) for pos, e in full if e in cands]
    if named:
        before = [(pos, e) for pos, e in named if pos < ti]
        return (max(before) if before else min(named))[1], "surname"
    if len(cands) == 1:
        return cands[0], "surname"
    window = fold(
        " ".join(t.text for t in tokens[max(0, ti - CONTEXT_WINDOW) : ti + CONTEXT_WINDOW])
    )
    cued = [c for c in cands if any(cue in window for cue in gaz.entities[c].context)]
    if len(cued) == 1:
        return cued[0], "context"
    defaults = [c for c in cands if gaz.entities[c].default]
    if len(defaults) == 1 and not cued:
        return defaults[0], "default"
    return "ambiguous:" + "|".join(sorted(cands)), "ambiguous"


def to_entities(mentions: list[Mention], gaz: Gazetteer, extra: list[Entity]) -> list[Entity]:
    """Group mentions per entity: canonical name, surfaces as written, count, attributes."""
    grouped: dict[str, list[Mention]] = defaultdict(list)
    for m in mentions:
        grouped[m.entity_id].append(m)
    out = [_entity(eid, ms, gaz) for eid, ms in grouped.items()]
    known = {e.id for e in out}
    out += [e for e in extra if e.id not in known]
    return out


def _entity(eid: str, ms: list[Mention], gaz: Gazetteer) -> Entity:
    surfaces = list(dict.fromkeys(m.surface for m in ms))
    hows = sorted({m.how for m in ms})
    if eid.startswith("ambiguous:"):
        cands = eid.split(":", 1)[1].split("|")
        return Entity(
            id=eid,
            name=surfaces[0],
            type="PERSON",
            mentions=surfaces,
            count=len(ms),
            in_pack=True,
            attributes={
                "ambiguous": "true",
                "candidates": ", ".join(gaz.entities[c].name for c in cands),
            },
        )
    pe = gaz.entities[eid]
    attrs = dict(pe.attributes)
    attrs["matched_by"] = ",".join(hows)
    return Entity(
        id=eid,
        name=pe.name,
        type=pe.type,
        mentions=surfaces,
        count=len(ms),
        in_pack=True,
        attributes=attrs,
    )


def resolve_query(query: str, gaz: Gazetteer) -> list[str]:
    """The pack entities a search query names, in any alias, script or transliteration
    ("الناظوري", "Nadhouri", "Nathori", "LNA"): each run of its words, longest first, looked up by
    name key as the text matcher does (a lone surname through the pack's short forms)."""
    words = list(TOKEN.findall(query))
    found: list[str] = []
    taken = [False] * len(words)
    for n in range(len(words), 0, -1):
        for i in range(len(words) - n + 1):
            if any(taken[i : i + n]):
                continue
            span = " ".join(words[i : i + n])
            ids = _ids_for(span, gaz)
            if ids:
                found += [e for e in ids if e not in found]
                taken[i : i + n] = [True] * n
    return found


def _ids_for(span: str, gaz: Gazetteer) -> list[str]:
    if span in gaz.acronyms:
        return [gaz.acronyms[span]]
    key = name_key(span)
    if not key:
        return []
    ids = list(gaz.by_key.get(key, []))
    strict = gaz.strict.get(key[0], set())
    if not ids and len(key) == 1 and strict_key(TOKEN.findall(span)[-1]) in strict:
        ids = list(gaz.short.get(key[0], []))
    return ids
