"""The indexer's batch filling (services/index/sink.fill_batch, linger_for): pure, the poll
passed in."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from kafka import TopicPartition

from newspipe.config import IndexSettings
from newspipe.contract import (
    INGESTED_HEADER,
    KIND_ARTICLE,
    KIND_HEADER,
    KIND_LINK_UPDATE,
    ingested_header,
)
from services.index.sink import fill_batch, linger_for

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


class Record:
    """A consumer record's headers, as kafka-python gives them."""

    def __init__(self, *headers: tuple[str, bytes]) -> None:
        self.headers = list(headers)


def _article(first_seen: float) -> Record:
    when = datetime.fromtimestamp(first_seen, UTC)
    return Record((KIND_HEADER, KIND_ARTICLE), (INGESTED_HEADER, ingested_header(when)))


def test_articles_that_already_waited_get_the_backlog_linger() -> None:
    cfg = IndexSettings(batch_linger=0.1, backlog_linger=1.0, backlog_age=5.0)
    now = 1_800_000_000.0
    fresh, old = _article(now - 0.4), _article(now - 60)
    correction = Record((KIND_HEADER, KIND_LINK_UPDATE))
    assert linger_for({P0: [fresh, fresh]}, cfg, now) == 0.1  # a live feed
    assert linger_for({P0: [fresh], P1: [old]}, cfg, now) == 1.0  # one waited: a backlog
    assert linger_for({P0: [_article(now - 5.5)]}, cfg, now) == 1.0
    assert linger_for({P0: [_article(now - 4.5)]}, cfg, now) == 0.1
    # corrections and messages of an older enrich worker (no header) say nothing of the wait
    assert linger_for({P0: [correction, Record()]}, cfg, now) == 0.1
    assert linger_for({P0: [correction, old]}, cfg, now) == 1.0
