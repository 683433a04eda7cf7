"""Near-duplicate groups and stories across the archive (pure; the store is passed in).

Every article is a member record in `store` (a faust table with a changelog in production, a dict
in tests). The LSH band index and the actor/place index are rebuilt in memory from the store.
Earliest-seen is decided by (ingested_at, id) carried in the message, never by arrival order:
when an earlier article joins a group or story, the later members get a correction.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

from newspipe.contract import EnrichedArticle, LinkUpdate, Story

BANDS, ROWS = 20, 3  # 60 permutations; P(candidate | Jaccard 0.5) = 0.93, | 0.2 = 0.15
NEAR_DUP_JACCARD = 0.5
NEAR_DUP_CONTAINMENT = 0.8  # a truncated copy: most of its shingles are in the original
STORY_JACCARD = 0.25
STORY_WINDOW_DAYS = 10
DATE_TOLERANCE_DAYS = 2
RECENT_PER_KEY = 200  # story candidates per actor/place: keeps per-article cost flat


def _jaccard(a: list[int], b: list[int]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=False)) / max(1, len(a))


def _containment(a: dict[str, Any], b: dict[str, Any]) -> float:
    j = _jaccard(a["sig"], b["sig"])
    inter = j * (a["n"] + b["n"]) / (1 + j)
    return inter / max(1, min(a["n"], b["n"]))


def near_duplicates(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _jaccard(a["sig"], b["sig"]) >= NEAR_DUP_JACCARD or _containment(a, b) >= (
        NEAR_DUP_CONTAINMENT
    )


def same_event(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same real-world event: shared actors and place, no conflicting place or date."""
    if near_duplicates(a, b):
        return True
    pa, pb = set(a["places"]), set(b["places"])
    if pa and pb and not pa & pb:
        return False
    if a["dates"] and b["dates"] and not _dates_close(a["dates"], b["dates"]):
        return False
    if abs(_day(a["when"]) - _day(b["when"])) > STORY_WINDOW_DAYS:
        return False
    shared = len(set(a["actors"]) & set(b["actors"]))
    return shared >= 2 or (shared >= 1 and bool(pa & pb)) or (
        _jaccard(a["sig"], b["sig"]) >= STORY_JACCARD
    )


def _day(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() / 86400


def _dates_close(xs: list[str], ys: list[str]) -> bool:
    return any(abs(_day(x) - _day(y)) <= DATE_TOLERANCE_DAYS for x in xs for y in ys)


def member_record(doc: EnrichedArticle) -> dict[str, Any]:
    when = doc.published_at or doc.ingested_at
    return {
        "ts": doc.ingested_at.isoformat(), "when": when.isoformat(),
        "sig": doc.dedup.minhash, "n": doc.dedup.shingles,
        "actors": doc.event.get("actors", []), "places": doc.event.get("places", []),
        "dates": doc.event.get("dates", []),
        "dup": None, "story": doc.id, "v": 0,
        "sources": [doc.source.model_dump(mode="json")],
    }


class Linker:
    def __init__(self, store: MutableMapping[str, dict[str, Any]]) -> None:
        self.store = store
        self.bands: list[dict[int, list[str]]] = [defaultdict(list) for _ in range(BANDS)]
        self.recent: dict[str, deque[str]] = defaultdict(lambda: deque(maxlen=RECENT_PER_KEY))
        self.dup_groups: dict[str, set[str]] = defaultdict(set)
        self.stories: dict[str, set[str]] = defaultdict(set)
        for mid, rec in list(store.items()):
            self._index(mid, rec)

    def _index(self, mid: str, rec: dict[str, Any]) -> None:
        sig = rec["sig"]
        for b in range(BANDS):
            self.bands[b][hash(tuple(sig[b * ROWS : (b + 1) * ROWS]))].append(mid)
        for key in [*rec["actors"], *(f"@{p}" for p in rec["places"])]:
            self.recent[key].append(mid)
        self.dup_groups[rec["dup"] or mid].add(mid)
        self.stories[rec["story"]].add(mid)

    def observe(self, doc: EnrichedArticle) -> tuple[EnrichedArticle, list[LinkUpdate]]:
        """Decide duplicate_of and story for `doc`; corrections for members it precedes."""
        old = self.store.get(doc.id)
        if old is not None:
            return self._again(doc, old), []
        rec = member_record(doc)
        self.store[doc.id] = rec
        self._index(doc.id, rec)
        changed = self._merge_dups(doc.id, rec) | self._merge_story(doc.id, rec)
        changed.discard(doc.id)
        for mid in changed:
            self.store[mid] = self.store[mid]  # write back: a table persists on assignment
        updates = [self._update(mid) for mid in sorted(changed)]
        return self._decided(doc, self.store[doc.id]), updates

    def _again(self, doc: EnrichedArticle, rec: dict[str, Any]) -> EnrichedArticle:
        """A replay or an exact copy from another source: same decision, sources merged."""
        src = doc.source.model_dump(mode="json")
        if src not in rec["sources"]:
            rec = {**rec, "sources": [*rec["sources"], src]}
            self.store[doc.id] = rec
        return self._decided(doc, rec)

    def _decided(self, doc: EnrichedArticle, rec: dict[str, Any]) -> EnrichedArticle:
        return doc.model_copy(update={
            "ingested_at": datetime.fromisoformat(rec["ts"]),
            "sources": [type(doc.source).model_validate(s) for s in rec["sources"]],
            "dedup": doc.dedup.model_copy(update={"duplicate_of": rec["dup"]}),
            "story": Story(id=rec["story"]),
            "link_version": rec["v"],
        })

    def _update(self, mid: str) -> LinkUpdate:
        rec = self.store[mid]
        return LinkUpdate(id=mid, duplicate_of=rec["dup"], story_id=rec["story"], version=rec["v"])

    def _order(self, mid: str) -> tuple[str, str]:
        return (self.store[mid]["ts"], mid)

    def _candidates(self, rec: dict[str, Any]) -> set[str]:
        sig, out = rec["sig"], set()
        for b in range(BANDS):
            out.update(self.bands[b].get(hash(tuple(sig[b * ROWS : (b + 1) * ROWS])), ()))
        return out

    def _merge_dups(self, mid: str, rec: dict[str, Any]) -> set[str]:
        roots = {self.store[c]["dup"] or c for c in self._candidates(rec)
                 if c != mid and near_duplicates(rec, self.store[c])}
        if not roots:
            return set()
        members = {mid}.union(*(self.dup_groups[r] for r in roots))
        return self._relabel(members, "dup", self.dup_groups, roots | {mid})

    def _merge_story(self, mid: str, rec: dict[str, Any]) -> set[str]:
        cands = set(self.dup_groups[rec["dup"] or mid])
        for key in [*rec["actors"], *(f"@{p}" for p in rec["places"])]:
            cands.update(self.recent[key])
        roots = {self.store[c]["story"] for c in cands
                 if c != mid and (c in self.dup_groups[rec["dup"] or mid]
                                  or same_event(rec, self.store[c]))}
        if not roots:
            return set()
        members = {mid}.union(*(self.stories[r] for r in roots))
        return self._relabel(members, "story", self.stories, roots | {mid})

    def _relabel(self, members: set[str], field: str, groups: dict[str, set[str]],
                 old_roots: set[str]) -> set[str]:
        """Point every member at the earliest-seen member; return those whose label changed."""
        root = min(members, key=self._order)
        changed = set()
        for m in members:
            rec = self.store[m]
            new = (None if m == root else root) if field == "dup" else root
            if rec[field] != new:
                self.store[m] = {**rec, field: new, "v": rec["v"] + 1}
                changed.add(m)
        for r in old_roots:
            groups.pop(r, None)
        groups[root] = members
        return changed
