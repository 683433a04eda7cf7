"""The indexer's batch filling (services/index/sink.fill_batch): pure, the poll passed in."""

from __future__ import annotations

import time
from typing import Any

from kafka import TopicPartition

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
