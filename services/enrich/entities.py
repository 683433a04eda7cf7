"""Entity finding: pack aliases by name key (longest match wins), acronyms by exact case, bare
surnames resolved to a person named in the same article, else by context cues, else by the pack's
stated default (recorded as such), else reported as ambiguous. Names outside the pack: newnames."""

from __future__ import annotations

import operator
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from functools import lru_cache
from itertools import accumulate, chain, compress, repeat
from typing import NamedTuple

from newspipe.contract import Entity
from newspipe.text import TOKEN, fold, is_arabic, words_split
from services.enrich.knowledge import NOT_A_NAME, Gazetteer, SharedReading, acronym_key
from services.enrich.names import arabic_variant, name_key, readings, strict_key, token_keys

CONTEXT_WINDOW = (
    12  # tokens each side of a bare surname searched for role cues ("deputy commander")
)
MAX_NAME_KEYS = 10


class Tokens(NamedTuple):
    """An article's words as parallel lists (one object per word would cost more than the rest
    of the matching): the text, offsets, and whether it is capitalised (Latin) or Arabic."""

    texts: list[str]
    starts: list[int]
    ends: list[int]
    upper: list[bool]


class Mention(NamedTuple):
    entity_id: str
    surface: str
    start: int
    end: int
    first_token: int
    how: str  # alias | acronym | surname | context | default | ambiguous | description | unit


class _Upper(dict[str, bool]):
    def __missing__(self, token: str) -> bool:
        first = token[0]
        value = self[token] = first.isupper() or "\u0600" <= first <= "\u06ff"
        return value


_UPPER = _Upper()  # capitalised Latin word, or any Arabic word (Arabic has no case)


def tokenize(text: str) -> Tokens:
    """TOKEN's words of `text` but a possessive "s" (Haftar's), in one regex pass: `split`
    alternates gaps and words, and the running sum of the parts' lengths gives the offsets.
    A dotted acronym (U.N., U.S.) is one word without its dots ("UN"), spanning all of it."""
    dotted = [m.span() for m in _DOTTED.finditer(text)] if _DOTTED_HINT.search(text) else []
    if dotted:  # the same length without the dots, so that the offsets still hold
        text = _DOTTED.sub(lambda m: m[0].replace(".", "") + " " * m[0].count("."), text)
    parts = words_split(text)
    offsets = list(accumulate(map(len, parts)))
    texts = parts[1::2]
    if len(_UPPER) > 200_000:
        _UPPER.clear()
    starts, ends = offsets[0:-1:2], offsets[1::2]
    if dotted:
        end_of = dict(dotted)
        ends = [end_of.get(start, end) for start, end in zip(starts, ends, strict=True)]
    return Tokens(texts, starts, ends, list(map(_UPPER.__getitem__, texts)))


_DOTTED = re.compile(r"(?<![\w.])(?:[A-Z]\.){2,}(?!\w)")
_DOTTED_HINT = re.compile(r"[A-Z]\.[A-Z]\.")  # a quick first look (most texts have none)


Hit = tuple[int, str, str]  # (keys taken, entity id, how)
# Where a name can start on one key of a word: per first key tried (the key, then the key without
# a clitic), the lengths above one of the names it starts, longest first, and the one-key name it
# is by itself (checked once per word), if any.
Plan = tuple[tuple[str, tuple[int, ...], Hit | None], ...]
# Per key of a word: a match decided by the word alone (an acronym), the plan, the keys that
# can follow it in a longer name (None: any, the word is a name by itself), and the known surname
# it is; None for a key that can do nothing.
Slot = tuple[Hit | None, Plan, frozenset[str] | None, str | None] | None
_END = "\x00"  # after the last key: no key holds it


class _Words(dict[str, tuple[tuple[str, ...], tuple[Slot, ...] | None]]):
    """Per distinct word, for one gazetteer: its name keys, and what each key can do in
    find_mentions (None when no key can do anything: most words, passed over without a look).
    Everything that depends on the word alone is decided here, once per word."""

    def __init__(self, gaz: Gazetteer) -> None:
        super().__init__()
        self.gaz = gaz

    def __missing__(self, word: str) -> tuple[tuple[str, ...], tuple[Slot, ...] | None]:
        keys = token_keys(word)
        slots = tuple(self._slot(word, key) for key in keys)
        if len(self) > 200_000:
            self.clear()
        value = self[word] = (keys, slots if any(s is not None for s in slots) else None)
        return value

    def _slot(self, word: str, key: str) -> Slot:
        gaz = self.gaz
        if word in gaz.acronyms:
            acronym = (1, gaz.acronyms[word], "acronym")
            first = acronym_key(word)
            longer = tuple(n for n in gaz.lengths.get(first, ()) if n > 1)
            if not longer:
                return acronym, (), None, None
            return None, ((first, longer, acronym),), None, None  # "UN Security Council"
        upper = _UPPER[word]
        if not upper and key not in gaz.lengths:
            return None  # a lower-case word that starts no name
        plan = tuple(
            (first, tuple(n for n in gaz.lengths[first] if n > 1), self._single(word, first))
            for first in readings(word, key)
            if first in gaz.lengths
        )
        surname = _surname_key(key, gaz) if upper else None
        if surname is not None and not _strict_ok(word, surname, gaz):
            surname = None
        if not plan and surname is None:
            return None
        seconds = _seconds(gaz)
        after = (
            None
            if any(single for _, _, single in plan)
            else frozenset().union(*(seconds.get(first, ()) for first, _, _ in plan))
        )
        return None, plan, after, surname

    def _single(self, word: str, first: str) -> Hit | None:
        """The one-key pack name `word` is, under the key `first`."""
        gaz = self.gaz
        ids = gaz.by_key.get((first,)) if 1 in gaz.lengths[first] else None
        if ids and not is_arabic(word):
            # Latin: the name whose vowels agree too (Kenya, not Ghana; Kikli the surname is not
            # Kikla the town).
            ids = gaz.strict_ids[first].get(strict_key(word))
        if not ids:
            return None
        etype = gaz.type_of(ids[0])
        return (1, ids[0], "alias") if _case_ok(word, _UPPER[word], 1, etype) else None


def _words(gaz: Gazetteer) -> _Words:
    return gaz.derived("words", lambda: _Words(gaz))


def _seconds(gaz: Gazetteer) -> dict[str, frozenset[str]]:
    """First key -> the second keys of the pack names of two keys or more that start with it."""

    def make() -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for key in gaz.by_key:
            if len(key) > 1:
                found[key[0]].add(key[1])
        return {k: frozenset(v) for k, v in found.items()}

    return gaz.derived("seconds", make)


def find_mentions(text: str, gaz: Gazetteer) -> tuple[list[Mention], Tokens, set[int]]:
    """Pack matches in order; also the tokens and the indexes of tokens they cover.

    Keys are flattened over the words (an abd-name gives two, an article none), and a name is
    matched on consecutive keys. Only the words that can start a name or be a known surname are
    visited; a match skips the keys it took."""
    tokens = tokenize(text)
    texts, upper = tokens.texts, tokens.upper
    infos = list(map(_words(gaz).__getitem__, texts))
    per_word = [keys for keys, _ in infos]
    keys = [*chain.from_iterable(per_word), _END]
    first_key = list(accumulate(map(len, per_word), initial=0))  # word -> its first key's index
    # A name of several words does not run across a comma, a line or a sentence's end ("Chad,
    # Sudan" is not South Sudan, whose key it shares): the first key of a word after such a
    # break is marked in the keys longer names are read on.
    breaks = _after_breaks(text, tokens)
    cut = keys.copy() if breaks else keys
    for w in breaks:
        cut[first_key[w]] = _BROKEN + cut[first_key[w]]
    mentions: list[Mention] = []
    covered: set[int] = set()
    surnames: list[tuple[str, int]] = []  # (surname key, token)
    seconds = _seconds(gaz)
    taken = 0  # keys before this one belong to a match
    for ti in compress(range(len(texts)), [slots is not None for _, slots in infos]):
        i = first_key[ti] - 1
        for slot in infos[ti][1] or ():
            i += 1
            if i < taken or slot is None:
                continue
            hit, plan, after, surname = slot
            if hit is None and plan and (after is None or cut[i + 1] in after):
                hit = _match_at(cut, i, plan, texts[ti], upper[ti], gaz, seconds)
            if hit:
                n, ent_id, how = hit
                last = bisect_right(first_key, i + n - 1) - 1  # the word of the match's last key
                start = _article_start(tokens, ti, text)
                end = tokens.ends[last]
                mentions.append(Mention(ent_id, text[start:end], start, end, ti, how))
                covered.update(range(ti, last + 1))
                taken = i + n
            elif surname is not None:
                surnames.append((surname, ti))
    if any(m.entity_id == NOT_A_NAME for m in mentions):  # words taken by no name
        mentions = [m for m in mentions if m.entity_id != NOT_A_NAME]
    mentions += _resolve_surnames(surnames, tokens, mentions, gaz, covered)
    mentions += _described(text, keys, first_key, tokens, mentions, gaz, covered)
    if gaz.shared:
        mentions = reread_shared(text, mentions, gaz)
    if gaz.unqualified:
        mentions = nationalise(mentions, gaz)
    mentions.sort(key=lambda m: m.start)
    return mentions, tokens, covered


_BROKEN = "\x02"  # before a key: no name runs on to it
# What ends a name: a comma or semicolon (Latin or Arabic), a line, a sentence's end (a full
# stop after a word of four letters or more: "St. Petersburg", "Gen. Haftar" go on). Not quotes,
# brackets or dashes: names hold them (حكومة "الوحدة الوطنية", غرفة عمليات سرت - الجفرة).
_BREAK = re.compile(r"[,;،؛\n]|[.!?](?=\s)(?<=\w{4}.)")  # lookbehind last: 3x faster


def _after_breaks(text: str, tokens: Tokens) -> set[int]:
    """The words with a break in the gap before them (no word holds a break's character)."""
    starts = tokens.starts
    after = set(map(bisect_right, repeat(starts), map(_START, _BREAK.finditer(text))))
    after.discard(len(starts))  # a break after the last word
    return after


_START = operator.methodcaller("start")


def _described(
    text: str,
    keys: list[str],
    first_key: list[int],
    tokens: Tokens,
    mentions: list[Mention],
    gaz: Gazetteer,
    covered: set[int],
) -> list[Mention]:
    """Mentions by a definite description ("the mission" for UNSMIL), in any case, where the
    article also names what the description requires (knowledge pack, `described_as`); words
    already in a name are passed over."""
    if not gaz.descriptions:
        return []
    named = {m.entity_id for m in mentions}
    out: list[Mention] = []
    firsts: list[str] | None = None  # each word's first key, made when needed (a word without
    # keys, a lone article, gets the next word's: "al-" and "the" are not in any description)
    for d in gaz.descriptions:
        if not d.holds(named):
            continue
        if firsts is None:
            firsts = list(map(keys.__getitem__, first_key[:-1]))
        for phrase in d.phrases:
            # list.index scans in C for the phrase's longest key (the rarest, most likely: not
            # "the" of "the mission"), then the words around it are compared
            n, j = len(phrase), max(range(len(phrase)), key=lambda k: len(phrase[k]))
            at = -1
            while True:
                try:
                    at = firsts.index(phrase[j], at + 1)
                except ValueError:
                    break
                ti = at - j
                if ti < 0 or ti in covered or tuple(firsts[ti : ti + n]) != phrase:
                    continue
                start, end = tokens.starts[ti], tokens.ends[ti + n - 1]
                out.append(Mention(d.entity_id, text[start:end], start, end, ti, "description"))
                covered.update(range(ti, ti + n))
    return out


# What may follow a name: its acronym in brackets, after a closing quote ("« ... » (GUN)").
_BRACKETED = re.compile(r"\s*[»”\"]?\s*[(\[]\s*([^\W\d_]{2,8})\s*[)\]]")


def reread_shared(text: str, mentions: list[Mention], gaz: Gazetteer) -> list[Mention]:
    """A name that two entries went by (knowledge pack, `shared_names`) is read from the article:
    by the acronym that follows it in brackets, else by the entities the article names; the
    pack's default holder otherwise."""
    holders = gaz.derived("shared holders", lambda: frozenset(gaz.by_key[k][0] for k in gaz.shared))
    if not any(m.entity_id in holders for m in mentions):
        return mentions
    named = {m.entity_id for m in mentions}
    out = []
    for m in mentions:
        others = gaz.shared.get(name_key(m.surface)) if m.entity_id in holders else None
        reading = _shared_reading(text, m, others, named, gaz) if others else None
        out.append(m._replace(entity_id=reading, how="context") if reading else m)
    return out


def _shared_reading(
    text: str, m: Mention, others: list[SharedReading], named: set[str], gaz: Gazetteer
) -> str | None:
    """The other reading `m` takes (None: it stays the default holder's)."""
    after = _BRACKETED.match(text, m.end)
    owner = gaz.acronyms.get(after.group(1)) if after else None
    if owner == m.entity_id:
        return None
    if owner is not None and any(r.entity_id == owner for r in others):
        return owner
    return next((r.entity_id for r in others if r.holds(named)), None)


NATIONAL_SHARE = 0.5  # of the article's located place mentions, for "its" country


def nationalise(mentions: list[Mention], gaz: Gazetteer) -> list[Mention]:
    """An unqualified national institution ("the Interior Ministry", "وزارة الداخلية") is the
    one of the country the article is about: the country of at least half of its place mentions,
    when the pack holds that country's institution; else the pack's default (Libya's)."""
    holders = gaz.derived("holders", lambda: frozenset(gaz.national.values()))
    roles = [
        _unqualified_role(m.surface, gaz) if m.entity_id in holders else None for m in mentions
    ]
    if not any(roles):
        return mentions
    countries: Counter[str] = Counter()
    for m in mentions:
        ent = gaz.entities.get(m.entity_id)
        if ent is not None and ent.type == "LOC" and "country" in ent.attributes:
            countries[ent.attributes["country"]] += 1
    if not countries:
        return mentions
    country, n = countries.most_common(1)[0]
    if n < NATIONAL_SHARE * sum(countries.values()):
        return mentions
    out = []
    for m, role in zip(mentions, roles, strict=True):
        holder = gaz.national.get((role, country)) if role else None
        out.append(m._replace(entity_id=holder) if holder else m)
    return out


def _unqualified_role(surface: str, gaz: Gazetteer) -> str | None:
    key = name_key(surface)
    role = gaz.unqualified.get(key)
    if role is None and key and (first := _variant(key[0])):  # a clitic: "ووزارة الدفاع"
        role = gaz.unqualified.get((first, *key[1:]))
    return role


def _surname_key(key: str, gaz: Gazetteer) -> str | None:
    """The key under which a capitalised token is a known surname (itself, or without a clitic)."""
    if key in gaz.short:
        return key
    variant = _variant(key)
    return variant if variant in gaz.short else None


_variant = lru_cache(maxsize=200_000)(arabic_variant)


def _match_at(
    keys: list[str],
    i: int,
    plan: Plan,
    word: str,
    upper: bool,
    gaz: Gazetteer,
    seconds: dict[str, frozenset[str]],
) -> Hit | None:
    """The longest pack name on the keys from `i` on (`word`: the word of key i; `keys` end
    with _END)."""
    second = keys[i + 1]
    for first, longer, single in plan:
        if longer and second in seconds.get(first, ()):  # else no longer name starts so
            for n in longer:
                cand = (first, *keys[i + 1 : i + n])
                ids = gaz.by_key.get(cand) if len(cand) == n else None
                if (
                    ids
                    and _case_ok(word, upper, n, gaz.type_of(ids[0]))
                    and _lead_ok(word, cand, gaz)
                ):
                    return n, ids[0], "alias"
        if single:
            return single
    return None


def _lead_ok(word: str, key: tuple[str, ...], gaz: Gazetteer) -> bool:
    """A function word starts a name only when the name is written with it (In Amenas, not
    "In Libya" for Ean Libya). The lexicon's function words are short and Latin: longer words
    and Arabic ones are passed without folding them."""
    if not gaz.function_words or len(word) > gaz.longest_function_word or is_arabic(word[:1]):
        return True
    folded = word.casefold() if word.isascii() else fold(word)
    return folded not in gaz.function_words or folded in gaz.lead_words.get(key, ())


def _strict_ok(text: str, key: str, gaz: Gazetteer) -> bool:
    """One-word names: Latin forms must also agree on their vowels (strict key)."""
    return is_arabic(text) or strict_key(text) in gaz.strict.get(key, ())


def _case_ok(word: str, upper: bool, n: int, etype: str) -> bool:
    """A name starts with a capital (Arabic has none); a long org/place name may be lower-case
    ("the joint military commission")."""
    if upper or word[:1].isdigit():
        return True
    return etype != "PERSON" and n >= 3


def _article_start(tokens: Tokens, first: int, text: str) -> int:
    """Include a preceding article written apart ("Al-Haddad", "el Nadhouri") in the surface."""
    starts, ends = tokens.starts, tokens.ends
    if (
        first > 0
        and fold(tokens.texts[first - 1]) in ("al", "el")
        and text[ends[first - 1] : starts[first]] in ("-", " ", "‑")
    ):
        return starts[first - 1]
    return starts[first]


def _resolve_surnames(
    surnames: list[tuple[str, int]],
    tokens: Tokens,
    mentions: list[Mention],
    gaz: Gazetteer,
    covered: set[int],
) -> list[Mention]:
    full = [(m.first_token, m.entity_id) for m in mentions if m.how == "alias"]
    out = []
    for key, ti in surnames:
        cands = gaz.short[key]
        ent_id, how = _pick(cands, ti, full, tokens.texts, gaz)
        start, end = tokens.starts[ti], tokens.ends[ti]
        out.append(Mention(ent_id, tokens.texts[ti], start, end, ti, how))
        covered.add(ti)
    return out


def _pick(
    cands: list[str], ti: int, full: list[tuple[int, str]], texts: list[str], gaz: Gazetteer
) -> tuple[str, str]:
    named = [(pos, e) for pos, e in full if e in cands]
    if named:
        before = [(pos, e) for pos, e in named if pos < ti]
        return (max(before) if before else min(named))[1], "surname"
    if len(cands) == 1:
        return cands[0], "surname"
    window = fold(" ".join(texts[max(0, ti - CONTEXT_WINDOW) : ti + CONTEXT_WINDOW]))
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
            if ids:  # a phrase that is no name (lexicon, not_names) takes its words for nothing
                found += [e for e in ids if e not in found and e != NOT_A_NAME]
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
