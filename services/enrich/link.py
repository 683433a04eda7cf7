"""Near-duplicate groups and stories across the archive (pure; the store is passed in).

Every article is a member record (members.py) in `store` (a faust table with a changelog in
production, a dict in tests). The LSH band index and the entity-key index are rebuilt in memory
from the store. Earliest-seen is decided by (ingested_at, id) carried in the message, never by
arrival order: when an earlier article joins a group or story, the later members get a correction.
The story rule is in stories.py, signatures and the band index in lsh.py.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import numpy as np

from newspipe.contract import EnrichedArticle, LinkUpdate, Story
from services.enrich.knowledge import LinkingWeights, load_linking
from services.enrich.lsh import (
    HOT_ENTRIES,
    BandIndex,
    ByteStore,
    jaccards,
    sentence_keys,
    sentence_overlaps,
    signature_band_keys,
)
from services.enrich.members import CACHE_RECORDS, MemberRecord, MemberStore, member_record

# Re-exported: tests/unit/test_events.py imports it from here (now stories.days_apart).
from services.enrich.stories import conflicting, event_affinity, story_keys, within_window

NEAR_DUP_JACCARD = 0.5
NEAR_DUP_CONTAINMENT = 0.45  # a truncated or re-edited copy (dedup.py gives the margins)
# A re-edited syndicated copy: whole sentences shared (dedup.py gives the measured margins).
NEAR_DUP_SENTENCES = 2
NEAR_DUP_SENTENCE_SHARE = 0.4
NEAR_DUP_SENTENCES_ALONE = 3  # ...or this many, whatever their share (a long re-edited copy)
RECENT_PER_KEY = 32  # story candidates per actor, and only within the story window: with
# PER_BUCKET below, this bounds the comparisons per article whatever the size of the archive
PER_BUCKET = 256  # newest members read from one LSH bucket (a boilerplate-only bucket can grow)

Field = Literal["duplicate_of", "story"]


def near_duplicates(a: MemberRecord, b: MemberRecord) -> bool:
    return near_duplicate_of(a, [b])[0]


def near_duplicate_of(a: MemberRecord, others: list[MemberRecord]) -> list[bool]:
    """Which of `others` are near-duplicates of `a`: much shared wording (Jaccard), a truncated
    copy (containment), or whole sentences shared. Decided for all of them at once, on arrays."""
    if not others:
        return []
    js = jaccards(a.sig, [b.sig for b in others])
    sizes = np.array([b.shingles for b in others], dtype=np.float64)
    inter = js * (a.shingles + sizes) / (1 + js)  # |A and B| from Jaccard and the two sizes
    containment = inter / np.maximum(1, np.minimum(a.shingles, sizes))
    by_words = (js >= NEAR_DUP_JACCARD) | (containment >= NEAR_DUP_CONTAINMENT)
    rest = [i for i in range(len(others)) if not by_words[i]]
    out = [bool(v) for v in by_words]
    overlaps = sentence_overlaps(a.sentences, [others[i].sentences for i in rest])
    for i, (shared, share) in zip(rest, overlaps, strict=True):
        out[i] = shared >= NEAR_DUP_SENTENCES_ALONE or (
            shared >= NEAR_DUP_SENTENCES and share >= NEAR_DUP_SENTENCE_SHARE
        )
    return out


def wording_keys(rec: MemberRecord) -> list[int]:
    """The band index keys of an article: its signature's LSH bands and its sentences' hashes."""
    return signature_band_keys(rec.sig) + sentence_keys(rec.sentences)


HOT_GROUPS = 20_000  # groups and stories kept in memory when the linker has a cold store


@dataclass(frozen=True)
class Cold:
    """Where the linker's derived indexes put what memory does not hold (rocksdb in the worker,
    rebuilt with the linker): the band index's older entries, and the groups and stories not
    used lately. Without one, all of it stays in memory."""

    bands: ByteStore
    groups: ByteStore
    hot_entries: int = HOT_ENTRIES  # band index entries kept in memory
    hot_groups: int = HOT_GROUPS  # groups and stories kept in memory


class Groups:
    """Group root -> its member ids (groups of two or more only). The groups used lately are in
    memory, at most `hot` of them when there is a cold store; the others are in it, their ids
    packed (32 raw bytes each), and come back to memory when used."""

    def __init__(self, cold: ByteStore | None, prefix: bytes, hot: int = HOT_GROUPS) -> None:
        self.hot: dict[str, set[str]] = {}  # oldest use first
        self.cold, self.prefix, self.limit = cold, prefix, hot  # prefix: one store, two kinds

    def get(self, root: str, default: set[str]) -> set[str]:
        members = self._take(root)
        if members is None:
            return default
        self[root] = members  # used: now the newest
        return members

    def pop(self, root: str, default: set[str]) -> set[str]:
        members = self._take(root)
        return default if members is None else members

    def _take(self, root: str) -> set[str] | None:
        """The group of `root`, out of memory or the cold store; None if it has none."""
        members = self.hot.pop(root, None)
        if members is None and self.cold is not None:
            name = self.prefix + bytes.fromhex(root)
            data = self.cold.get(name)
            if data is not None:
                del self.cold[name]
                members = {data[i : i + 32].hex() for i in range(0, len(data), 32)}
        return members

    def __setitem__(self, root: str, members: set[str]) -> None:
        self.hot[root] = members
        if self.cold is not None and len(self.hot) > self.limit:
            oldest = next(iter(self.hot))
            packed = b"".join(map(bytes.fromhex, self.hot.pop(oldest)))
            self.cold[self.prefix + bytes.fromhex(oldest)] = packed

    def add(self, root: str, mid: str) -> None:
        members = self.pop(root, {root})
        members.add(mid)
        self[root] = members


class Linker:
    def __init__(
        self,
        store: MutableMapping[str, dict[str, Any]],
        weights: LinkingWeights | None = None,
        *,
        cache_records: int = CACHE_RECORDS,
        cold: Cold | None = None,
    ) -> None:
        """`store`: the members table (JSON-able values). `weights`: how entities count as story
        evidence, the knowledge pack's (knowledge/linking.yaml) when not given. `cold`: where
        the indexes built from the table keep what memory does not (bounded memory for a large
        archive; the decisions are the same with or without it)."""
        self.weights = weights if weights is not None else load_linking()
        self.members = MemberStore(store, cache_records)
        self.bands = BandIndex(cold.bands, cold.hot_entries) if cold else BandIndex()
        self.ids = bytearray()  # ordinal -> article id, 32 raw bytes each (see _index)
        self.recent: dict[str, deque[tuple[float | None, str]]] = defaultdict(
            lambda: deque(maxlen=RECENT_PER_KEY)
        )
        self.compared = 0  # records read and compared so far (a counter for benchmarks/metrics)
        # Groups with two or more members only; an article alone is its own group implicitly.
        disk, hot = (cold.groups, cold.hot_groups) if cold else (None, HOT_GROUPS)
        self.dup_groups, self.stories = Groups(disk, b"d", hot), Groups(disk, b"s", hot)
        for mid, rec in self.members.items():
            self._index(mid, rec)

    def _index(self, mid: str, rec: MemberRecord, keys: list[int] | None = None) -> None:
        ordinal = len(self.ids) // 32
        self.ids += bytes.fromhex(mid)
        self.bands.add_many(keys if keys is not None else wording_keys(rec), ordinal)
        for key in story_keys(rec, self.weights.background):
            self.recent[key].append((rec.day, mid))
        for groups, root in ((self.dup_groups, rec.duplicate_of), (self.stories, rec.story)):
            if root and root != mid:
                groups.add(root, mid)

    def observe(self, doc: EnrichedArticle) -> tuple[EnrichedArticle, list[LinkUpdate]]:
        """Decide duplicate_of and story for `doc`; corrections for members it precedes. Every
        record changed is in the table when this returns, written once."""
        try:
            return self._observe(doc)
        finally:
            self.members.flush()

    def _observe(self, doc: EnrichedArticle) -> tuple[EnrichedArticle, list[LinkUpdate]]:
        old = self.members.find(doc.id)
        if old is not None:
            return self._again(doc, old), []
        rec = member_record(doc, self.weights)
        self.members.put(doc.id, rec)
        keys = wording_keys(rec)
        self._index(doc.id, rec, keys)
        cands = self._candidates(keys)  # wording: the LSH buckets of signature and sentences
        changed, dup_roots = self._merge_dups(doc.id, rec, cands)
        changed |= self._merge_story(doc.id, rec, cands, dup_roots)
        changed.discard(doc.id)  # _relabel stored every changed record (a table persists on set)
        updates = [self._update(mid) for mid in sorted(changed)]
        return self.decided(doc), updates

    def _again(self, doc: EnrichedArticle, rec: MemberRecord) -> EnrichedArticle:
        """A replay or an exact copy from another source: same decision, sources merged."""
        src = doc.source.model_dump(mode="json")
        if src not in rec.sources:
            self.members.put(doc.id, replace(rec, sources=(*rec.sources, src)))
        return self.decided(doc)

    def decided(self, doc: EnrichedArticle) -> EnrichedArticle:
        """`doc` with the current decisions about it (first-seen time, sources, links)."""
        rec = self.members[doc.id]
        return doc.model_copy(
            update={
                "ingested_at": datetime.fromisoformat(rec.first_seen),
                "sources": [type(doc.source).model_validate(s) for s in rec.sources],
                "dedup": doc.dedup.model_copy(update={"duplicate_of": rec.duplicate_of}),
                "story": Story(id=rec.story),
                "link_version": rec.version,
            }
        )

    def _update(self, mid: str) -> LinkUpdate:
        rec = self.members[mid]
        return LinkUpdate(
            id=mid, duplicate_of=rec.duplicate_of, story_id=rec.story, version=rec.version
        )

    def _order(self, mid: str) -> tuple[str, str]:
        return (self.members[mid].first_seen, mid)

    def _candidates(self, keys: list[int]) -> set[str]:
        """The articles filed under any of an article's wording keys (wording_keys)."""
        ids = self.ids
        return {
            ids[32 * o : 32 * o + 32].hex() for o in self.bands.get_many(keys, PER_BUCKET).tolist()
        }

    def _merge_dups(
        self, mid: str, rec: MemberRecord, cands: set[str]
    ) -> tuple[set[str], set[str]]:
        """Join the near-duplicate groups the article copies; (members changed, the roots those
        groups had before they merged)."""
        ids = sorted(cands - {mid})
        others = [self.members[c] for c in ids]
        self.compared += len(others)
        roots = {
            other.duplicate_of or c
            for c, other, dup in zip(ids, others, near_duplicate_of(rec, others), strict=True)
            if dup
        }
        changed = self._relabel(mid, roots, "duplicate_of", self.dup_groups) if roots else set()
        return changed, roots

    def _merge_story(
        self, mid: str, rec: MemberRecord, cands: set[str], dup_roots: set[str]
    ) -> set[str]:
        """Join the stories of the article's near-duplicates (all of them: an article that copies
        two groups merges their stories), else the one story whose candidate members mostly
        report the same event and none conflicts with it (time, place, date). Stories never merge
        with each other through a single look-alike: that is how chains of weak links glue
        unrelated events together.

        The members of a duplicate group always share one story (every join and every relabel
        keeps it so), so each group's story is read from its root, not from every member."""
        roots = {self.members[r].story for r in dup_roots}
        if not roots:
            roots = self._best_story(mid, rec, cands)
        return self._relabel(mid, roots, "story", self.stories) if roots else set()

    def _best_story(self, mid: str, rec: MemberRecord, wording: set[str]) -> set[str]:
        # Candidates: articles sharing one of the heaviest entities, or wording (the LSH buckets).
        cands = set(wording)
        for key in story_keys(rec, self.weights.background):  # out-of-window: skipped unread
            cands.update(m for d, m in self.recent[key] if within_window(d, rec.day))
        cands.discard(mid)
        # One vote per near-duplicate group (copies of one text are one report, not several):
        # story -> {group: matched}, and story -> [best affinity of a match, conflicts]
        votes: dict[str, dict[str, bool]] = defaultdict(dict)
        tallies: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        background = self.weights.background
        ids = sorted(cands)
        others = [self.members[c] for c in ids]
        self.compared += len(others)
        sims = jaccards(rec.sig, [o.sig for o in others])
        for c, other, sim in zip(ids, others, sims.tolist(), strict=True):
            groups, tally = votes[other.story], tallies[other.story]
            group = other.duplicate_of or c
            groups.setdefault(group, False)
            if conflicting(rec, other, background):
                tally[1] += 1  # one member from another time or place: not this story
                continue
            aff = event_affinity(rec, other, background, sim)
            if aff is not None:
                groups[group] = True
                tally[0] = max(tally[0], aff)
        scored = sorted(
            (
                (m / len(groups), tallies[s][0], m, s)
                for s, groups in votes.items()
                if (m := sum(groups.values())) and m * 2 >= len(groups) and not tallies[s][1]
            ),
            reverse=True,
        )
        return next(({str(s)} for *_, s in scored if self._fits_in_time(str(s), rec)), set())

    def _fits_in_time(self, story: str, rec: MemberRecord) -> bool:
        """Is every dated member of `story` within the story window of `rec`? Candidates are only
        the members near in time, so a story reached through them may hold members from another
        month: joining it would glue two events together."""
        if rec.day is None:
            return True
        members = self.stories.get(story, {story})
        return all(within_window(self.members[m].day, rec.day) for m in members)

    def _relabel(self, mid: str, roots: set[str], field: Field, groups: Groups) -> set[str]:
        """Merge `mid` and the groups of `roots` under the earliest-seen member; relabel only the
        members whose root changed (a late joiner costs O(1), not O(group))."""
        own = _link(self.members[mid], field) or mid
        roots = roots | {own}
        root = min(roots, key=self._order)  # a group's key is its earliest member
        merged = groups.pop(root, set()) | {root}
        changed = set()
        for r in roots:
            members = groups.pop(r, set()) | {r} if r != root else set()
            members |= {mid} if mid not in merged else set()
            for m in members:
                merged.add(m)
                relinked = _relinked(self.members[m], field, root, m == root)
                if relinked is not None:
                    self.members.put(m, relinked)
                    changed.add(m)
        groups[root] = merged
        return changed


def _link(rec: MemberRecord, field: Field) -> str | None:
    return rec.duplicate_of if field == "duplicate_of" else rec.story


def _relinked(rec: MemberRecord, field: Field, root: str, is_root: bool) -> MemberRecord | None:
    """`rec` with `field` pointing at `root` and its version raised, None if it already does. The
    earliest member of a duplicate group is a duplicate of nothing; of a story, its own story."""
    if field == "duplicate_of":
        new = None if is_root else root
        if rec.duplicate_of == new:
            return None
        return replace(rec, duplicate_of=new, version=rec.version + 1)
    return None if rec.story == root else replace(rec, story=root, version=rec.version + 1)
