"""Standing queries, the pure decisions: which alerts a story raises, their ids, their reasons;
the watch compiled from what the analyst typed; what a webhook log line may show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newspipe.contract import Trigger, Watch, alert_id
from newspipe.tools.watches import WatchError, compile_watch, describe
from services.index.alerts import Member, fire, member, reasons
from services.notify.core import redact, retryable

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _watch(trigger: Trigger | None = None, created: datetime = T0) -> Watch:
    return Watch(
        name="jmc",
        topics=["jmc-5plus5"],
        trigger=trigger or Trigger(),
        query={"match_all": {}},
        created_at=created,
    )


def _m(i: int, minutes: float, lang: str = "en", outlet: str | None = None) -> Member:
    at = T0 + timedelta(minutes=minutes)
    return Member(f"a{i:02d}", "s1", lang, (outlet,) if outlet else (), at, at, f"title {i}")


def _arrive(watch: Watch, members: list[Member], matched: set[str]) -> list[str]:
    """Members arriving one by one, each a batch: the alert ids the store would keep."""
    kept: dict[str, None] = {}
    for n, m in enumerate(members):
        why = {x.id: ["topic jmc-5plus5"] for x in members[: n + 1] if x.id in matched}
        for alert in fire(watch, members[: n + 1], [m.id], why, since=watch.created_at):
            kept.setdefault(alert.id, None)
    return list(kept)


def test_ten_copies_of_one_story_raise_one_new_story_alert() -> None:
    copies = [_m(i, i) for i in range(10)]
    ids = _arrive(_watch(), copies, {m.id for m in copies})
    assert ids == [alert_id("jmc", "s1", "new-story")]


def test_new_story_needs_a_matching_member_that_arrived_after_the_watch() -> None:
    watch = _watch(created=T0 + timedelta(minutes=5))
    old, new = _m(1, 0), _m(2, 10)
    assert fire(watch, [old], ["a01"], {"a01": []}, since=watch.created_at) == []  # a replay
    assert fire(watch, [old, new], ["a02"], {"a01": []}, since=watch.created_at) == []
    alerts = fire(watch, [old, new], ["a02"], {"a02": ["x"]}, since=watch.created_at)
    assert [a.articles for a in alerts] == [["a02"]]
    assert alerts[0].story_size == 2 and alerts[0].why == ["x"]
    # back-testing ignores the watch's creation
    assert len(fire(watch, [old], ["a01"], {"a01": []}, since=None)) == 1


def test_growth_fires_once_when_the_window_holds_enough_articles() -> None:
    watch = _watch(Trigger(kind="growth", articles=4, window_hours=1))
    members = [_m(i, i * 10) for i in range(6)]  # one every 10 min
    ids = _arrive(watch, members, {"a00"})
    assert ids == [alert_id("jmc", "s1", "growth")]
    n4 = fire(watch, members[:4], ["a03"], {"a00": ["t"]}, since=T0)
    assert n4[0].figures["articles"] == 4 and "4 articles within 1 h" in n4[0].why[0]
    assert fire(watch, members[:3], ["a02"], {"a00": ["t"]}, since=T0) == []


def test_growth_counts_only_the_window_and_can_count_outlets() -> None:
    watch = _watch(Trigger(kind="growth", articles=3, window_hours=1))
    spread = [_m(0, 0), _m(1, 90), _m(2, 180)]  # 1.5 h apart: never 3 within an hour
    assert _arrive(watch, spread, {"a00"}) == []
    by_outlets = _watch(Trigger(kind="growth", outlets=3, window_hours=24))
    same = [_m(i, i, outlet="Reuters") for i in range(5)]
    assert _arrive(by_outlets, same, {"a00"}) == []
    many = [_m(i, i, outlet=o) for i, o in enumerate(["Reuters", "AFP", "Reuters", "LANA"])]
    alerts = fire(by_outlets, many, ["a03"], {"a00": []}, since=T0)
    assert alerts and alerts[0].figures["outlets"] == 3
    assert "AFP, LANA, Reuters" in alerts[0].why[0]


def test_new_language_fires_for_each_language_after_the_first() -> None:
    watch = _watch(Trigger(kind="new-language"))
    members = [_m(0, 0), _m(1, 1), _m(2, 2, "ar"), _m(3, 3, "ar"), _m(4, 4, "fr"), _m(5, 5)]
    ids = _arrive(watch, members, {"a00"})
    assert ids == [
        alert_id("jmc", "s1", "new-language", "ar"),
        alert_id("jmc", "s1", "new-language", "fr"),
    ]
    alerts = fire(watch, members[:3], ["a02"], {"a00": ["t"]}, since=T0)
    assert alerts[0].language == "ar" and alerts[0].why[0].startswith("first ar report")


def test_alert_ids_differ_by_watch_story_trigger_and_language() -> None:
    ids = {
        alert_id("jmc", "s1", "new-story"),
        alert_id("jmc2", "s1", "new-story"),
        alert_id("jmc", "s2", "new-story"),
        alert_id("jmc", "s1", "growth"),
        alert_id("jmc", "s1", "new-language", "ar"),
        alert_id("jmc", "s1", "new-language", "fr"),
    }
    assert len(ids) == 6


def test_member_and_reasons_from_an_indexed_document() -> None:
    doc = {
        "id": "a" * 64,
        "title": "t",
        "language": "en",
        "story": {"id": "s9"},
        "source": {"outlet": "Reuters"},
        "sources": [{"outlet": "Reuters"}, {"outlet": "Libya Observer"}],
        "ingested_at": "2026-11-30T12:00:00Z",
        "published_at": "2026-11-29T08:00:00+00:00",
        "entities": [{"id": "abdulrazzaq-al-nadhouri", "mentions": ["Al-Nathori"]}],
        "topics": [{"id": "jmc-5plus5", "evidence": ["5+5 committee"]}],
    }
    m = member(doc)
    assert (
        m.outlets == ("Libya Observer", "Reuters") and m.when.day == 29 and m.first_seen.day == 30
    )
    watch = Watch(
        name="w",
        text="ceasefire",
        topics=["jmc-5plus5"],
        entities=["abdulrazzaq-al-nadhouri"],
        entity_names={"abdulrazzaq-al-nadhouri": "Abdulrazzaq al-Nadhouri"},
        query={"match_all": {}},
        created_at=T0,
    )
    assert reasons(watch, doc) == [
        'entity Abdulrazzaq al-Nadhouri (as "Al-Nathori")',
        'topic jmc-5plus5 ("5+5 committee")',
        'query "ceasefire"',
    ]


def test_a_watch_names_its_actor_in_any_script() -> None:
    arabic = compile_watch("n", entities=("الناظوري",))
    latin = compile_watch("n", entities=("Al-Nathori",))
    assert arabic.entities == latin.entities == ["abdulrazzaq-al-nadhouri"]
    assert {"terms": {"entities.id": ["abdulrazzaq-al-nadhouri"]}} in arabic.query["bool"]["filter"]
    assert describe(arabic) == "entity Abdulrazzaq al-Nadhouri -> every new story"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"topics": ("jmc",)}, "unknown topic jmc"),
        ({"entities": ("Nobody Atall",)}, "knows no actor"),
        ({}, "needs a query"),
        ({"topics": ("ceasefire",), "trigger": Trigger(kind="growth")}, "--articles N"),
        ({"topics": ("ceasefire",), "webhook": "ftp://x"}, "http"),
    ],
)
def test_a_watch_that_cannot_work_is_refused_with_the_reason(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(WatchError, match=message):
        compile_watch("w", **kwargs)  # type: ignore[arg-type]


def test_a_webhook_is_shown_by_host_only_and_retried_only_when_it_may_recover() -> None:
    url = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN?x=1"
    assert redact(url) == "https://hooks.slack.com/..."
    assert redact("http://127.0.0.1:8080/hook/abc") == "http://127.0.0.1:8080/..."
    assert [retryable(s) for s in (None, 429, 500, 503, 400, 404, 301)] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
