"""The link stage's input put back in ingestion order (pure; the clock is passed in).

news.link is fed by the enrich agents of every news.raw partition. Each partition is in ingestion
order, but the partitions reach news.link interleaved at the speed of whichever worker enriches
them, so the linker would see a later article before an earlier one. Copies are decided whatever
the order (earliest-seen by (ingested_at, id)), stories are not: an article joins the best story
among those that exist when it arrives, so the same files gave other stories from run to run.

`Reorder` merges the partitions' streams by (ingested_at, id). The earliest article held goes
when no partition can still send an earlier one:
- every partition has one held; or
- every partition with nothing held has nothing on its way. Of the partitions its own worker
  enriches, the worker knows (`coming`: articles not yet enriched, or sent and not yet read
  back). The others are judged by the clock: silent for `settle` seconds, the article held as
  long, and the link agent caught up with news.link (or `QUIET` articles came from the others
  since: a partition whose share of a backlog is done). The clock alone is not enough: faust
  hands the enrich agent a partition's records one batch after another, and fetches news.link
  again only once it has handed out what it fetched of news.raw, so partitions with articles on
  their way can be silent for a second.
More than `limit` held (one worker far ahead of another): the earliest go, the order is then
best-effort and memory bounded.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")
QUIET = 100  # articles from the other partitions after which a silent partition is quiet
Key = tuple[str, str]  # (ingested_at as ISO text, article id): the linker's order


class Held(NamedTuple, Generic[T]):
    key: Key
    seq: int  # ties (the same article twice) never compare items
    until: float  # held at least until then, unless every partition has one held
    item: T


@dataclass
class Reorder(Generic[T]):
    settle: float = 0.25  # seconds (0: everything goes as it comes)
    limit: int = 2000  # articles held at most
    partitions: int = 0  # news.raw's partitions, known before any of them sends
    _queues: dict[int, list[Held[T]]] = field(default_factory=dict)  # heaps
    _last: dict[int, tuple[float, int]] = field(default_factory=dict)  # partition -> when it
    # last sent: (time, arrivals so far)
    _arrivals: int = 0
    _now: list[T] = field(default_factory=list)  # to go at once (no partition known)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    held: int = 0

    def __post_init__(self) -> None:
        for p in range(self.partitions):
            self._queues[p], self._last[p] = [], (float("-inf"), -QUIET)

    def push(self, partition: int | None, key: Key, item: T, now: float) -> None:
        if partition is None or self.settle <= 0:
            self._now.append(item)
            return
        # A heap, not a queue: a partition whose articles were not produced in order (two ingest
        # processes) still gives its earliest first; the merge is then best-effort.
        queue = self._queues.setdefault(partition, [])
        heapq.heappush(queue, Held(key, next(self._seq), now + self.settle, item))
        self._arrivals += 1
        self._last[partition] = (now, self._arrivals)
        self.held += 1

    def ready(
        self, now: float, caught_up: bool = True, coming: Mapping[int, bool] | None = None
    ) -> list[T]:
        """The items that may go now, in the order to process them. `caught_up`: the link agent
        has read every news.link message there is. `coming`: what the worker knows of the
        partitions it enriches itself: partition -> whether an article of it is on its way (not
        yet enriched, or sent and not yet read back); the others are judged by the clock."""
        out, self._now = self._now, []
        known = coming or {}
        while self.held:
            first = self._first()
            if self.held <= self.limit and not self._sure(first[0], now, caught_up, known):
                break
            out.append(heapq.heappop(first).item)
            self.held -= 1
        return out

    def _first(self) -> list[Held[T]]:
        return min((q for q in self._queues.values() if q), key=lambda q: q[0][:2])

    def _sure(self, head: Held[T], now: float, caught_up: bool, coming: Mapping[int, bool]) -> bool:
        """Can no partition send an article earlier than `head`?"""
        silent = [p for p, q in self._queues.items() if not q]
        if not silent:
            return True  # every partition has one held: the earliest of them is the earliest
        if any(coming.get(p) for p in silent):
            return False  # one of them has an article on its way
        unknown = [self._last[p] for p in silent if p not in coming]
        return not unknown or (
            head.until <= now
            and all(
                when + self.settle <= now and (caught_up or self._arrivals - n >= QUIET)
                for when, n in unknown
            )
        )

    def clear(self) -> list[T]:
        """Everything held, dropped (a rebalance: faust delivers it again)."""
        out = self._now + [h.item for q in self._queues.values() for h in q]
        self._now = []
        for q in self._queues.values():
            q.clear()
        self.held = 0
        return out
