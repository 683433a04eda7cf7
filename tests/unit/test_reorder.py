"""The link stage's merge of news.raw's partitions back into ingestion order (reorder.py)."""

from __future__ import annotations

import random

from services.enrich.reorder import QUIET, Reorder


def _key(n: int) -> tuple[str, str]:
    return (f"2026-12-01T10:00:{n // 1000:02d}.{n % 1000:06d}+00:00", f"{n:064x}")


def test_interleaved_partitions_come_out_in_ingestion_order() -> None:
    for seed in range(20):
        rnd = random.Random(seed)
        partitions: list[list[int]] = [[], [], []]
        for n in range(300):  # each partition in ingestion order, as ingest produces them
            partitions[rnd.randrange(3)].append(n)
        order: Reorder[int] = Reorder(settle=0.25, limit=10_000, partitions=3)
        out, now = [], 0.0
        while any(partitions):  # the partitions' streams interleaved at random speeds
            p = rnd.choice([i for i, q in enumerate(partitions) if q])
            for _ in range(rnd.randrange(1, 20)):
                if partitions[p]:
                    n = partitions[p].pop(0)
                    order.push(p, _key(n), n, now)
                    now += 0.001
            out += order.ready(now)
        assert order.held > 0  # the last of one partition waits for the others to go quiet
        out += order.ready(now + 0.25)
        assert out == list(range(300)), seed


def test_a_lone_article_waits_settle_then_goes() -> None:
    order: Reorder[str] = Reorder(settle=0.25, partitions=3)
    order.push(0, _key(5), "a", now=10.0)
    # the other partitions have not sent lately: one may be about to send an earlier article
    assert order.ready(10.0) == [] and order.ready(10.24) == []
    assert order.ready(10.26) == ["a"] and order.held == 0


def test_a_burst_waits_for_the_partitions_that_sent_lately() -> None:
    order: Reorder[str] = Reorder(settle=0.25, partitions=2)
    order.push(0, _key(5), "a", now=10.0)
    order.push(1, _key(4), "d", now=10.0)
    assert order.ready(10.0) == ["d"]  # both partitions have one held: the earliest goes
    assert order.ready(10.2) == []  # partition 1 sent 0.2 s ago and may send an earlier one
    assert order.ready(10.26) == ["a"]
    order.push(1, _key(7), "b", now=20.0)
    assert order.ready(20.0) == []
    order.push(0, _key(6), "c", now=20.1)
    assert order.ready(20.1) == ["c"]  # earlier than b, which now waits for partition 0 again
    assert order.ready(20.34) == []
    assert order.ready(20.36) == ["b"] and order.held == 0


def test_a_silent_partition_is_not_quiet_while_news_link_is_unread() -> None:
    """The link agent's event loop busy enriching: news.link fills, the agent reads none of it,
    and a partition seems silent by the clock alone."""
    order: Reorder[int] = Reorder(settle=0.25, partitions=2)
    order.push(0, _key(1), 1, now=0.0)
    order.push(1, _key(2), 2, now=0.0)
    assert order.ready(0.0) == [1]
    assert order.ready(5.0, caught_up=False) == []  # partition 0 may have sent since: unread
    assert order.ready(5.0, caught_up=True) == [2]
    order.push(0, _key(3), 3, now=6.0)
    for n in range(10, 10 + QUIET):  # partition 1 goes on sending, partition 0 stays silent
        order.push(1, _key(n), n, now=6.0)
    assert order.ready(6.0, caught_up=False) == [3]  # the others wait: partition 0 just sent
    assert order.ready(6.5, caught_up=False) == list(range(10, 10 + QUIET))


def test_more_than_the_limit_held_goes_in_the_best_order_known() -> None:
    order: Reorder[int] = Reorder(settle=0.25, limit=3, partitions=2)
    order.push(1, _key(1), 1, now=0.01)
    for n in range(10, 15):  # partition 0 runs ahead of partition 1, which is still sending
        order.push(0, _key(n), n, now=0.01)
    # 1 goes first; then partition 1 has nothing held and sent lately: partition 0's articles
    # would wait for it, but six were held, three more than the limit
    assert order.ready(0.02) == [1, 10, 11]
    assert order.held == 3


def test_articles_without_a_partition_or_with_no_settle_go_as_they_come() -> None:
    order: Reorder[int] = Reorder(settle=0.25, partitions=2)
    order.push(0, _key(9), 9, now=0.0)
    order.push(1, _key(8), 8, now=0.0)
    order.push(None, _key(1), 1, now=0.0)
    assert order.ready(0.0) == [1, 8]  # 9 waits: partition 1 has nothing held and just sent
    passthrough: Reorder[int] = Reorder(settle=0, partitions=2)
    for n in (3, 1, 2):
        passthrough.push(n % 2, _key(n), n, now=0.0)
    assert passthrough.ready(0.0) == [3, 1, 2] and passthrough.held == 0


def test_a_partition_out_of_order_gives_its_earliest_first() -> None:
    order: Reorder[int] = Reorder(settle=0.25, partitions=1)
    for n in (4, 2, 3):
        order.push(0, _key(n), n, now=0.0)
    assert order.ready(0.0) == [2, 3, 4]


def test_clear_drops_everything_held() -> None:
    order: Reorder[int] = Reorder(settle=0.25, partitions=3)
    order.push(0, _key(2), 2, now=0.0)
    order.push(1, _key(3), 3, now=0.0)
    order.push(None, _key(1), 1, now=0.0)
    order.push(2, _key(4), 4, now=0.0)
    assert order.ready(0.0) == [1, 2]  # 3 and 4 wait for partition 0, which sent lately
    assert order.clear() == [3, 4] and order.held == 0 and order.ready(0.0) == []


def test_what_the_worker_knows_of_its_own_partitions_beats_the_clock() -> None:
    order: Reorder[int] = Reorder(settle=0.25, partitions=3)
    order.push(0, _key(5), 5, now=0.0)
    order.push(1, _key(3), 3, now=0.0)
    assert order.ready(0.0) == []  # partition 2 has sent nothing: it may be about to
    # the worker enriches all three and has nothing of partition 2 on its way
    assert order.ready(0.0, coming={0: False, 1: False, 2: False}) == [3, 5]
    order.push(0, _key(9), 9, now=1.0)
    order.push(1, _key(8), 8, now=1.0)
    assert order.ready(1.0, coming={2: False}) == [8]  # then 9 waits for partition 1
    # partition 1 silent for a minute, but the worker has an article of it not yet enriched
    assert order.ready(60.0, coming={0: False, 1: True, 2: False}) == []
    assert order.ready(60.0, coming={0: False, 1: False, 2: False}) == [9]
