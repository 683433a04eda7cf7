"""The member record: what the link stage keeps per article in the `link-members` table (a faust
table: its changelog is the durable state), and that table read through a write-through cache.

In the table a record is a JSON-able dict with short keys (one changelog record per new article
and per correction, so the keys are kept short):

    schema       layout version: 3 (2 lacks `figs`; 1 lacks `sents` too; records written before
                 the field existed have none and are version 1); an unknown version is refused,
                 never guessed at
    ts           first-seen time (ingested_at, ISO 8601): with the id, decides the earliest member
    day          publication day (days since the epoch, 3 decimals), null when the article has none
    sig, n       packed MinHash signature (lsh.pack_sig) and number of distinct shingles
    sents        packed sentence sketch (dedup.sentence_sketch); empty in version 1 records
    topics       the article's topic ids; empty in version 1 records
    years        the latest year the article names (events.latest_year); empty in version 1
    figs         the figures the article states (events.stated_figures); empty before version 3
    actors, lead_actors, places, dates
                 event evidence (events.py)
    ents         entity profile: entity id -> weight (profile below)
    dup          id of the earliest near-duplicate, null for the earliest member of its group
    story        id of the story (its earliest member)
    v            decision version, raised with each changed decision (LinkUpdate.version)
    sources      every source the article was seen at (Source as JSON)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from newspipe.contract import EnrichedArticle, Entity
from services.enrich.knowledge import LinkingWeights
from services.enrich.lsh import pack_sig

SCHEMA_VERSION = 3  # written by this code
KNOWN_SCHEMAS = (1, 2, 3)  # read by this code
CACHE_RECORDS = 16_384  # decoded member records kept (~2 KB each): a 10-day window at 1,600/day


class UnknownSchemaError(ValueError):
    """A member record in a layout this code does not know (written by a newer version)."""


@dataclass(frozen=True, slots=True)
class MemberRecord:
    first_seen: str  # ts
    day: float | None
    sig: str
    shingles: int  # n
    sentences: str  # sents
    actors: tuple[str, ...]
    lead_actors: tuple[str, ...]
    places: tuple[str, ...]
    dates: tuple[str, ...]
    profile: Mapping[str, float]  # ents
    topics: tuple[str, ...]
    years: tuple[str, ...]
    duplicate_of: str | None  # dup
    story: str
    version: int  # v
    sources: tuple[dict[str, Any], ...]
    figures: tuple[str, ...] = ()  # figs

    def to_dict(self) -> dict[str, Any]:
        """The record as stored in the table (JSON-able, current schema)."""
        return {
            "schema": SCHEMA_VERSION,
            "ts": self.first_seen,
            "day": self.day,
            "sig": self.sig,
            "n": self.shingles,
            "sents": self.sentences,
            "actors": list(self.actors),
            "lead_actors": list(self.lead_actors),
            "places": list(self.places),
            "dates": list(self.dates),
            "ents": dict(self.profile),
            "topics": list(self.topics),
            "years": list(self.years),
            "dup": self.duplicate_of,
            "story": self.story,
            "v": self.version,
            "sources": list(self.sources),
            "figs": list(self.figures),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemberRecord:
        """A record as read from the table; UnknownSchemaError for a layout not in KNOWN_SCHEMAS,
        ValueError for a version 1 record that lacks a field."""
        schema = data.get("schema", 1)  # absent: written before the field existed (version 1)
        if type(schema) is not int or schema not in KNOWN_SCHEMAS:  # True == 1 in Python
            raise UnknownSchemaError(
                f"member record schema version {schema!r} is not known: this code reads "
                f"versions {', '.join(map(str, KNOWN_SCHEMAS))}"
            )
        try:
            return cls(
                first_seen=data["ts"],
                day=data["day"],
                sig=data["sig"],
                shingles=data["n"],
                sentences=data["sents"] if schema >= 2 else "",
                actors=tuple(data["actors"]),
                lead_actors=tuple(data.get("lead_actors", ())),
                places=tuple(data["places"]),
                dates=tuple(data["dates"]),
                profile=dict(data["ents"]),
                topics=tuple(data["topics"]) if schema >= 2 else (),
                years=tuple(data["years"]) if schema >= 2 else (),
                duplicate_of=data["dup"],
                story=data["story"],
                version=data["v"],
                sources=tuple(data["sources"]),
                figures=tuple(data["figs"]) if schema >= 3 else (),
            )
        except KeyError as exc:
            raise ValueError(f"member record (schema version {schema}) lacks {exc}") from None


def profile(entities: list[Entity], weights: LinkingWeights) -> dict[str, float]:
    """Entity id -> weight: type x (1 + ln count), background entities weighed down; entities
    outside the pack, and those the pack leaves out of profiles, not at all."""
    out = {}
    for e in entities:
        if e.id.startswith("ambiguous:") or not e.in_pack or e.id in weights.left_out:
            continue
        w = weights.type_weight.get(e.type, 1.0) * (1 + math.log(max(1, e.count)))
        if e.id in weights.background:
            w *= weights.background_weight
        out[e.id] = round(w, 3)
    return out


def member_record(doc: EnrichedArticle, weights: LinkingWeights) -> MemberRecord:
    """The record of a newly seen article: alone in its group and its story, version 0."""
    # The publication day, when the article states it. Not the ingestion time: a replayed archive
    # is ingested years after the events, and in the same minute for all of them.
    when = doc.published_at
    return MemberRecord(
        first_seen=doc.ingested_at.isoformat(),
        day=round(when.timestamp() / 86400, 3) if when else None,
        sig=pack_sig(doc.dedup.minhash),
        shingles=doc.dedup.shingles,
        sentences=pack_sig(doc.dedup.sentences),
        actors=tuple(doc.event.get("actors", [])),
        lead_actors=tuple(doc.event.get("lead_actors", [])),
        places=tuple(doc.event.get("places", [])),
        dates=tuple(doc.event.get("dates", [])),
        profile=profile(doc.entities, weights),
        topics=tuple(t.id for t in doc.topics),
        years=tuple(doc.event.get("years", [])),
        duplicate_of=None,
        story=doc.id,
        version=0,
        sources=(doc.source.model_dump(mode="json"),),
        figures=tuple(doc.event.get("figures", [])),
    )


class MemberStore:
    """The members table, read through a small write-through cache of decoded records: the story
    window's articles are read again and again, and each table read is a rocksdb lookup plus JSON
    decoding. Keys are article ids; values are stored as MemberRecord.to_dict() (JSON-able)."""

    def __init__(
        self, table: MutableMapping[str, dict[str, Any]], capacity: int = CACHE_RECORDS
    ) -> None:
        self.table = table
        self.capacity = capacity
        self.cache: dict[str, MemberRecord] = {}  # insertion-ordered: evicts the oldest
        # Records changed since the last flush: one decision often changes a record twice (its
        # group, then its story), and each table write is a changelog message.
        self.pending: dict[str, MemberRecord] = {}

    def items(self) -> Iterator[tuple[str, MemberRecord]]:
        """Every stored record (uncached: read once, at start, one at a time: an archive of a
        million records is not held in memory to be read)."""
        for mid, data in self.table.items():
            yield mid, MemberRecord.from_dict(data)

    def find(self, mid: str) -> MemberRecord | None:
        """The record of `mid` if stored (uncached: most articles looked up are new)."""
        if mid in self.pending:
            return self.pending[mid]
        data = self.table.get(mid)
        return None if data is None else MemberRecord.from_dict(data)

    def __getitem__(self, mid: str) -> MemberRecord:
        rec = self.pending.get(mid) or self.cache.get(mid)
        if rec is None:
            rec = MemberRecord.from_dict(self.table[mid])
            self._cache(mid, rec)
        return rec

    def put(self, mid: str, rec: MemberRecord) -> None:
        """Change a record: read back at once, written to the table at the next flush()."""
        self.pending[mid] = rec

    def flush(self) -> None:
        """Write every changed record to the table, once each (the table persists on set and
        logs it to the changelog)."""
        for mid, rec in self.pending.items():
            self.table[mid] = rec.to_dict()
            self.cache.pop(mid, None)
            self._cache(mid, rec)
        self.pending.clear()

    def _cache(self, mid: str, rec: MemberRecord) -> None:
        self.cache[mid] = rec
        if len(self.cache) > self.capacity:
            del self.cache[next(iter(self.cache))]  # the oldest insertion
