"""Near-duplicate groups and stories across the archive (pure; the store is passed in).

Every article is a member record in `store` (a faust table with a changelog in production, a dict
in tests). The LSH band index and the entity-key index are rebuilt in memory from the store.
Earliest-seen is decided by (ingested_at, id) carried in the message, never by arrival order:
when an earlier article joins a group or story, the later members get a correction.
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict, deque
from collections.abc import MutableMapping
from datetime import date, datetime
from typing import Any

import numpy as np

from newspipe.contract import EnrichedArticle, Entity, LinkUpdate, Story
from services.enrich.knowledge import LinkingWeights, load_linking
from services.enrich.lsh import BandIndex, band_keys

BANDS, ROWS = 20, 3  # 60 permutations; P(candidate | Jaccard 0.5) = 0.93, | 0.2 = 0.15
NEAR_DUP_JACCARD = 0.5
NEAR_DUP_CONTAINMENT = 0.8  # a truncated copy: most of its shingles are in the original
STORY_JACCARD = 0.25
STORY_AFFINITY = 0.45  # weighted Jaccard of entity profiles (knowledge/linking.yaml)
STORY_WINDOW_DAYS = 10
DATE_TOLERANCE_DAYS = 2
RECENT_PER_KEY = 32  # story candidates per actor, and only within the story window: with
# PER_BUCKET below, this bounds the comparisons per article whatever the size of the archive
CACHE_RECORDS = 16_384  # decoded member records kept (~2 KB each): a 10-day window at 1,600/day
PER_BUCKET = 256  # newest members read from one LSH bucket (a boilerplate-only bucket can grow)


WEIGHTS = load_linking()
PROFILE_KEYS = 6  # an article's heaviest entities are its candidate keys


def profile(entities: list[Entity], weights: LinkingWeights = WEIGHTS) -> dict[str, float]:
    """Entity id -> weight: type x (1 + ln count), background entities weighed down."""
    out = {}
    for e in entities:
        if e.id.startswith("ambiguous:") or not e.in_pack:
            continue
        w = weights.type_weight.get(e.type, 1.0) * (1 + math.log(max(1, e.count)))
        if e.id in weights.background:
            w *= weights.background_weight
        out[e.id] = round(w, 3)
    return out


def affinity(a: dict[str, float], b: dict[str, float]) -> float:
    """Weighted Jaccard of two entity profiles."""
    keys = a.keys() | b.keys()
    top = sum(max(a.get(k, 0.0), b.get(k, 0.0)) for k in keys)
    return sum(min(a.get(k, 0.0), b.get(k, 0.0)) for k in keys) / top if top else 0.0


def pack_sig(sig: list[int]) -> str:
    """A signature as table-friendly text: base64 of its uint32 values (320 chars for 60)."""
    return base64.b64encode(np.asarray(sig, dtype=np.uint32).tobytes()).decode("ascii")


def _arr(rec: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(rec["sig"]), dtype=np.uint32)


def jaccard(a: dict[str, Any], b: dict[str, Any]) -> float:
    x, y = _arr(a), _arr(b)
    return float(np.count_nonzero(x == y)) / max(1, len(x))


def near_duplicates(a: dict[str, Any], b: dict[str, Any]) -> bool:
    j = jaccard(a, b)
    inter = j * (a["n"] + b["n"]) / (1 + j)  # |A and B| from Jaccard and the two sizes
    containment = inter / max(1, min(a["n"], b["n"]))
    return j >= NEAR_DUP_JACCARD or containment >= NEAR_DUP_CONTAINMENT


def event_affinity(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """The profile affinity of two articles that report the same real-world event, None if they
    do not. Same event: no conflicting time, place or date, and two shared actors, or a shared
    lead actor at the same place, or close entity profiles, or much shared wording."""
    if not _near(a["day"], b["day"]):
        return None
    pa, pb = set(a["places"]), set(b["places"])
    if (pa and pb and not pa & pb) or (
        a["dates"] and b["dates"] and not _dates_close(a["dates"], b["dates"])
    ):
        return None
    aff = affinity(a["ents"], b["ents"])
    shared = len((set(a["actors"]) & set(b["actors"])) - WEIGHTS.background)
    lead = set(a.get("lead_actors", ())) & set(b.get("lead_actors", ()))
    if shared >= 2 or (lead and pa & pb) or aff >= STORY_AFFINITY:
        return aff
    return aff if jaccard(a, b) >= STORY_JACCARD else None


def _near(x: float | None, y: float | None) -> bool:
    """Published within the story window of each other (true when either date is unknown)."""
    return x is None or y is None or abs(x - y) <= STORY_WINDOW_DAYS


def _dates_close(xs: list[str], ys: list[str]) -> bool:
    return any(_days_apart(x, y) <= DATE_TOLERANCE_DAYS for x in xs for y in ys)


def _days_apart(x: str, y: str) -> int:
    """Days between two ISO dates; by month and day alone (across New Year) when either lacks its
    year ("--MM-DD")."""
    if not x.startswith("--") and not y.startswith("--"):
        return abs((date.fromisoformat(x) - date.fromisoformat(y)).days)
    dx, dy = (date.fromisoformat("2000" + v[-6:]).timetuple().tm_yday for v in (x, y))
    return min(abs(dx - dy), 366 - abs(dx - dy))


def _keys(rec: dict[str, Any]) -> list[str]:
    """Story candidate keys: the article's heaviest entities, background ones left out (they are
    in most articles, so they select nothing and their lists would be the longest)."""
    ents = rec["ents"]
    ranked = sorted((k for k in ents if k not in WEIGHTS.background), key=lambda k: (-ents[k], k))
    return ranked[:PROFILE_KEYS]


def _band_keys(rec: dict[str, Any]) -> list[int]:
    return band_keys(base64.b64decode(rec["sig"]), BANDS, 4 * ROWS)


def member_record(doc: EnrichedArticle) -> dict[str, Any]:
    # The publication day, when the article states it. Not the ingestion time: a replayed archive
    # is ingested years after the events, and in the same minute for all of them.
    when = doc.published_at
    return {
        "ts": doc.ingested_at.isoformat(),
        "day": round(when.timestamp() / 86400, 3) if when else None,
        "sig": pack_sig(doc.dedup.minhash),
        "n": doc.dedup.shingles,
        "actors": doc.event.get("actors", []),
        "lead_actors": doc.event.get("lead_actors", []),
        "places": doc.event.get("places", []),
        "dates": doc.event.get("dates", []),
        "ents": profile(doc.entities),
        "dup": None,
        "story": doc.id,
        "v": 0,
        "sources": [doc.source.model_dump(mode="json")],
    }


class Linker:
    def __init__(self, store: MutableMapping[str, dict[str, Any]]) -> None:
        self.store = store
        self.bands = BandIndex()
        self.ids = bytearray()  # ordinal -> article id, 32 raw bytes each (see _index)
        self.recent: dict[str, deque[tuple[float | None, str]]] = defaultdict(
            lambda: deque(maxlen=RECENT_PER_KEY)
        )
        self.cache: dict[str, dict[str, Any]] = {}  # insertion-ordered: evicts the oldest
        self.compared = 0  # records read and compared so far (a counter for benchmarks/metrics)
        # Groups with two or more members only; an article alone is its own group implicitly.
        self.dup_groups: dict[str, set[str]] = {}
        self.stories: dict[str, set[str]] = {}
        for mid, rec in list(store.items()):
            self._index(mid, rec)

    def _index(self, mid: str, rec: dict[str, Any]) -> None:
        ordinal = len(self.ids) // 32
        self.ids += bytes.fromhex(mid)
        for band in _band_keys(rec):
            self.bands.add(band, ordinal)
        for key in _keys(rec):
            self.recent[key].append((rec["day"], mid))
        for groups, root in ((self.dup_groups, rec["dup"]), (self.stories, rec["story"])):
            if root and root != mid:
                groups.setdefault(root, {root}).add(mid)

    def observe(self, doc: EnrichedArticle) -> tuple[EnrichedArticle, list[LinkUpdate]]:
        """Decide duplicate_of and story for `doc`; corrections for members it precedes."""
        old = self.store.get(doc.id)  # not cached: most articles are new
        if old is not None:
            return self._again(doc, old), []
        rec = member_record(doc)
        self._put(doc.id, rec)
        self._index(doc.id, rec)
        changed = self._merge_dups(doc.id, rec) | self._merge_story(doc.id, rec)
        changed.discard(doc.id)  # _relabel stored every changed record (a table persists on set)
        updates = [self._update(mid) for mid in sorted(changed)]
        return self.decided(doc), updates

    def _again(self, doc: EnrichedArticle, rec: dict[str, Any]) -> EnrichedArticle:
        """A replay or an exact copy from another source: same decision, sources merged."""
        src = doc.source.model_dump(mode="json")
        if src not in rec["sources"]:
            rec = {**rec, "sources": [*rec["sources"], src]}
            self._put(doc.id, rec)
        return self.decided(doc)

    def decided(self, doc: EnrichedArticle) -> EnrichedArticle:
        """`doc` with the current decisions about it (first-seen time, sources, links)."""
        rec = self._get(doc.id)
        return doc.model_copy(
            update={
                "ingested_at": datetime.fromisoformat(rec["ts"]),
                "sources": [type(doc.source).model_validate(s) for s in rec["sources"]],
                "dedup": doc.dedup.model_copy(update={"duplicate_of": rec["dup"]}),
                "story": Story(id=rec["story"]),
                "link_version": rec["v"],
            }
        )

    def _get(self, mid: str) -> dict[str, Any]:
        """A member record, through a small write-through cache: the story window's articles are
        read again and again, and each table read is a rocksdb lookup plus JSON decoding."""
        rec = self.cache.get(mid)
        if rec is None:
            rec = self.store[mid]
            self._cache(mid, rec)
        return rec

    def _put(self, mid: str, rec: dict[str, Any]) -> None:
        self.store[mid] = rec  # the table persists on set (and logs it to the changelog)
        self.cache.pop(mid, None)
        self._cache(mid, rec)

    def _cache(self, mid: str, rec: dict[str, Any]) -> None:
        self.cache[mid] = rec
        if len(self.cache) > CACHE_RECORDS:
            del self.cache[next(iter(self.cache))]  # the oldest insertion

    def _update(self, mid: str) -> LinkUpdate:
        rec = self._get(mid)
        return LinkUpdate(id=mid, duplicate_of=rec["dup"], story_id=rec["story"], version=rec["v"])

    def _order(self, mid: str) -> tuple[str, str]:
        return (self._get(mid)["ts"], mid)

    def _candidates(self, rec: dict[str, Any]) -> set[str]:
        ords = {o for key in _band_keys(rec) for o in self.bands.get(key, PER_BUCKET)}
        return {self.ids[32 * o : 32 * o + 32].hex() for o in ords}

    def _merge_dups(self, mid: str, rec: dict[str, Any]) -> set[str]:
        roots = set()
        for c in self._candidates(rec) - {mid}:
            other = self._get(c)
            self.compared += 1
            if near_duplicates(rec, other):
                roots.add(other["dup"] or c)
        return self._relabel(mid, roots, "dup", self.dup_groups) if roots else set()

    def _merge_story(self, mid: str, rec: dict[str, Any]) -> set[str]:
        """Join the story of the article's near-duplicates, else the one story whose candidate
        members mostly report the same event. Stories never merge with each other through a
        single look-alike: that is how chains of weak links glue unrelated events together."""
        dup_root = self._get(mid)["dup"] or mid
        group = self.dup_groups.get(dup_root, {dup_root})
        roots = {self._get(c)["story"] for c in group if c != mid}
        if not roots:
            roots = self._best_story(mid, rec)
        return self._relabel(mid, roots, "story", self.stories) if roots else set()

    def _best_story(self, mid: str, rec: dict[str, Any]) -> set[str]:
        # Candidates: articles sharing one of the heaviest entities, or wording (the LSH buckets).
        cands = self._candidates(rec)
        for key in _keys(rec):  # out-of-window articles cannot be the same event: skip unread
            cands.update(m for d, m in self.recent[key] if _near(d, rec["day"]))
        cands.discard(mid)
        # story -> [matches, seen, best affinity of a match]
        votes: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
        for c in cands:
            other = self._get(c)
            self.compared += 1
            tally = votes[other["story"]]
            tally[1] += 1
            aff = event_affinity(rec, other)
            if aff is not None:
                tally[0] += 1
                tally[2] = max(tally[2], aff)
        scored = [(m / n, a, m, s) for s, (m, n, a) in votes.items() if m and m * 2 >= n]
        return {str(max(scored)[3])} if scored else set()

    def _relabel(
        self, mid: str, roots: set[str], field: str, groups: dict[str, set[str]]
    ) -> set[str]:
        """Merge `mid` and the groups of `roots` under the earliest-seen member; relabel only the
        members whose root changed (a late joiner costs O(1), not O(group))."""
        own = self._get(mid)[field] or mid
        roots = roots | {own}
        root = min(roots, key=self._order)  # a group's key is its earliest member
        merged = groups.pop(root, set()) | {root}
        changed = set()
        for r in roots:
            members = groups.pop(r, set()) | {r} if r != root else set()
            members |= {mid} if mid not in merged else set()
            for m in members:
                merged.add(m)
                rec = self._get(m)
                new = (None if m == root else root) if field == "dup" else root
                if rec[field] != new:
                    self._put(m, {**rec, field: new, "v": rec["v"] + 1})
                    changed.add(m)
        groups[root] = merged
        return changed
