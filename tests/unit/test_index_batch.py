"""The indexer's batch filling (services/index/sink.fill_batch, the poll passed in) and the
folding of a bulk's actions into one per document (services/index/core.coalesce): pure."""

from __future__ import annotations

import time
from typing import Any

from kafka import TopicPartition

from services.index.core import coalesce
from services.index.sink import fill_batch

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


class Arrivals:
    """What successive polls return (records are offsets); records an ask for at most n."""

    def __init__(self, *polls: dict[TopicPartition, list[int]]) -> None:
        self.polls = list(polls)
        self.asked: list[int] = []

    def __call__(self, n: int) -> dict[TopicPartition, list[Any]]:
        self.asked.append(n)
        if not self.polls:
            return {}
        got = self.polls.pop(0)
        return {tp: offsets[:n] for tp, offsets in got.items()}


def test_a_streaming_backlog_fills_one_batch_in_offset_order() -> None:
    arrivals = Arrivals({P0: [2, 3]}, {P1: [7]}, {P0: [4], P1: [8, 9]})
    batch = fill_batch(arrivals, {P0: [0, 1]}, size=500, linger=5.0)
    assert batch == {P0: [0, 1, 2, 3, 4], P1: [7, 8, 9]}
    assert arrivals.asked == [498, 496, 495, 492]  # the fourth poll found nothing: written then


def test_a_lone_document_is_not_held_back() -> None:
    arrivals = Arrivals()
    start = time.monotonic()
    assert fill_batch(arrivals, {P0: [0]}, size=500, linger=5.0) == {P0: [0]}
    assert arrivals.asked == [499] and time.monotonic() - start < 1.0


def test_a_batch_stops_at_its_size() -> None:
    arrivals = Arrivals({P0: list(range(3, 100))}, {P0: [100]})
    batch = fill_batch(arrivals, {P0: [0, 1, 2]}, size=10, linger=5.0)
    assert batch == {P0: list(range(10))} and arrivals.asked == [7]


def test_a_batch_stops_at_its_linger_time() -> None:
    class Endless:
        def __call__(self, n: int) -> dict[TopicPartition, list[Any]]:
            time.sleep(0.01)
            return {P0: [0]}

    start = time.monotonic()
    batch = fill_batch(Endless(), {P0: [0]}, size=10**9, linger=0.2)
    assert 0.2 <= time.monotonic() - start < 2.0 and len(batch[P0]) > 1


def _article(doc_id: str, story: str, version: int = 1) -> dict[str, Any]:
    source = {"id": doc_id, "dedup": {"duplicate_of": None, "content_hash": "h"}}
    source |= {"story": {"id": story}, "link_version": version}
    return {"_op_type": "index", "_index": "i", "_id": doc_id, "_source": source}


def _correction(doc_id: str, dup: str | None, story: str, version: int) -> dict[str, Any]:
    doc = {"dedup": {"duplicate_of": dup}, "story": {"id": story}, "link_version": version}
    return {"_op_type": "update", "_index": "i", "_id": doc_id, "doc": doc}


def test_a_correction_of_an_article_of_the_same_bulk_is_folded_into_its_document() -> None:
    folded = coalesce(
        [
            (_article("a", "a"), 10),
            (_article("b", "b"), 11),
            (_correction("a", "b", "b", 2), 12),
            (_correction("a", None, "c", 3), 13),
            (_correction("x", None, "b", 4), 14),  # indexed by an earlier bulk
            (_correction("x", "b", "b", 5), 15),
        ]
    )
    assert [(a["_op_type"], a["_id"], origins) for a, origins in folded] == [
        ("index", "a", [10, 12, 13]),
        ("index", "b", [11]),
        ("update", "x", [14, 15]),
    ]
    a, x = folded[0][0], folded[2][0]
    # what Elasticsearch holds after the index and both updates: the last values, the rest kept
    assert a["_source"]["dedup"] == {"duplicate_of": None, "content_hash": "h"}
    assert a["_source"]["story"] == {"id": "c"} and a["_source"]["link_version"] == 3
    assert x["doc"] == {"dedup": {"duplicate_of": "b"}, "story": {"id": "b"}, "link_version": 5}


def test_a_later_index_action_replaces_the_earlier_ones_of_its_document() -> None:
    folded = coalesce(
        [
            (_correction("a", None, "s", 2), 1),
            (_article("a", "t", 3), 2),
            (_correction("a", None, "u", 4), 3),
        ]
    )
    assert len(folded) == 1 and folded[0][1] == [1, 2, 3]
    action = folded[0][0]
    assert action["_op_type"] == "index" and action["_source"]["story"] == {"id": "u"}
    assert action["_source"]["link_version"] == 4
