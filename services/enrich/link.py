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
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from newspipe.contract import EnrichedArticle, LinkUpdate, Story
from services.enrich.knowledge import LinkingWeights, load_linking
from services.enrich.lsh import (
    BandIndex,
    jaccard,
    sentence_keys,
    sentence_overlap,
    signature_band_keys,
)
from services.enrich.members import CACHE_RECORDS, MemberRecord, MemberStore, member_record

# Re-exported: tests/unit/test_events.py imports it from here (now stories.days_apart).
from services.enrich.stories import conflicting, event_affinity, story_keys, within_window

NEAR_DUP_JACCARD = 0.5
NEAR_DUP_CONTAINMENT = 0.8  # a truncated copy: most of its shingles are in the original
# A re-edited syndicated copy: whole sentences shared (dedup.py gives the measured margins).
NEAR_DUP_SENTENCES = 2
NEAR_DUP_SENTENCE_SHARE = 0.4
RECENT_PER_KEY = 32  # story candidates per actor, and only within the story window: with
# PER_BUCKET below, this bounds the comparisons per article whatever the size of the archive
PER_BUCKET = 256  # newest members read from one LSH bucket (a boilerplate-only bucket can grow)

Field = Literal["duplicate_of", "story"]


def near_duplicates(a: MemberRecord, b: MemberRecord) -> bool:
    j = jaccard(a.sig, b.sig)
    inter = j * (a.shingles + b.shingles) / (1 + j)  # |A and B| from Jaccard and the two sizes
    containment = inter / max(1, min(a.shingles, b.shingles))
    if j >= NEAR_DUP_JACCARD or containment >= NEAR_DUP_CONTAINMENT:
        return True
    shared, share = sentence_overlap(a.sentences, b.sentences)
    return shared >= NEAR_DUP_SENTENCES and share >= NEAR_DUP_SENTENCE_SHARE


class Linker:
    def __init__(
        self,
        store: MutableMapping[str, dict[str, Any]],
        weights: LinkingWeights | None = None,
        *,
        cache_records: int = CACHE_RECORDS,
    ) -> None:
        """`store`: the members table (JSON-able values). `weights`: how entities count as story
        evidence, the knowledge pack's (knowledge/linking.yaml) when not given."""
        self.weights = weights if weights is not None else load_linking()
        self.members = MemberStore(store, cache_records)
        self.bands = BandIndex()
        self.ids = bytearray()  # ordinal -> article id, 32 raw bytes each (see _index)
        self.recent: dict[str, deque[tuple[float | None, str]]] = defaultdict(
            lambda: deque(maxlen=RECENT_PER_KEY)
        )
        self.compared = 0  # records read and compared so far (a counter for benchmarks/metrics)
        # Groups with two or more members only; an article alone is its own group implicitly.
        self.dup_groups: dict[str, set[str]] = {}
        self.stories: dict[str, set[str]] = {}
        for mid, rec in self.members.items():
            self._index(mid, rec)

    def _index(self, mid: str, rec: MemberRecord) -> None:
        ordinal = len(self.ids) // 32
        self.ids += bytes.fromhex(mid)
        for band in signature_band_keys(rec.sig) + sentence_keys(rec.sentences):
            self.bands.add(band, ordinal)
        for key in story_keys(rec, self.weights.background):
            self.recent[key].append((rec.day, mid))
        for groups, root in ((self.dup_groups, rec.duplicate_of), (self.stories, rec.story)):
            if root and root != mid:
                groups.setdefault(root, {root}).add(mid)

    def observe(self, doc: EnrichedArticle) -> tuple[EnrichedArticle, list[LinkUpdate]]:
        """Decide duplicate_of and story for `doc`; corrections for members it precedes."""
        old = self.members.find(doc.id)
        if old is not None:
            return self._again(doc, old), []
        rec = member_record(doc, self.weights)
        self.members.put(doc.id, rec)
        self._index(doc.id, rec)
        changed = self._merge_dups(doc.id, rec) | self._merge_story(doc.id, rec)
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

    def _candidates(self, rec: MemberRecord) -> set[str]:
        bands = signature_band_keys(rec.sig) + sentence_keys(rec.sentences)
        ords = {o for key in bands for o in self.bands.get(key, PER_BUCKET)}
        return {self.ids[32 * o : 32 * o + 32].hex() for o in ords}

    def _merge_dups(self, mid: str, rec: MemberRecord) -> set[str]:
        roots = set()
        for c in self._candidates(rec) - {mid}:
            other = self.members[c]
            self.compared += 1
            if near_duplicates(rec, other):
                roots.add(other.duplicate_of or c)
        return self._relabel(mid, roots, "duplicate_of", self.dup_groups) if roots else set()

    def _merge_story(self, mid: str, rec: MemberRecord) -> set[str]:
        """Join the story of the article's near-duplicates, else the one story whose candidate
        members mostly report the same event and none conflicts with it (time, place, date).
        Stories never merge with each other through a single look-alike: that is how chains of
        weak links glue unrelated events together."""
        dup_root = self.members[mid].duplicate_of or mid
        group = self.dup_groups.get(dup_root, {dup_root})
        roots = {self.members[c].story for c in group if c != mid}
        if not roots:
            roots = self._best_story(mid, rec)
        return self._relabel(mid, roots, "story", self.stories) if roots else set()

    def _best_story(self, mid: str, rec: MemberRecord) -> set[str]:
        # Candidates: articles sharing one of the heaviest entities, or wording (the LSH buckets).
        cands = self._candidates(rec)
        for key in story_keys(rec, self.weights.background):  # out-of-window: skipped unread
            cands.update(m for d, m in self.recent[key] if within_window(d, rec.day))
        cands.discard(mid)
        # story -> [matches, seen, best affinity of a match, conflicts]
        votes: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
        background = self.weights.background
        for c in cands:
            other = self.members[c]
            self.compared += 1
            tally = votes[other.story]
            tally[1] += 1
            if conflicting(rec, other, background):
                tally[3] += 1  # one member from another time or place: not this story
                continue
            aff = event_affinity(rec, other, background)
            if aff is not None:
                tally[0] += 1
                tally[2] = max(tally[2], aff)
        scored = [
            (m / n, a, m, s)
            for s, (m, n, a, clash) in votes.items()
            if m and m * 2 >= n and not clash
        ]
        return {str(max(scored)[3])} if scored else set()

    def _relabel(
        self, mid: str, roots: set[str], field: Field, groups: dict[str, set[str]]
    ) -> set[str]:
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
