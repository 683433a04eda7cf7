"""Near-duplicate groups and stories: earliest-seen wins whatever the arrival order, a replay
changes nothing, an exact copy from another source adds a source."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from newspipe.contract import Entity, RawArticle, Source, doc_id
from services.enrich.core import Enricher
from services.enrich.knowledge import load_linking
from services.enrich.link import Linker
from services.enrich.members import member_record
from tests.conftest import linked_article

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
T0 = datetime(2023, 7, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def _doc(enricher: Enricher, body: str, minutes: int, path: str = "x.txt") -> Any:
    raw = RawArticle(
        id=doc_id(body),
        title=None,
        body=body,
        source=Source(path=path),
        ingested_at=T0 + timedelta(minutes=minutes),
    )
    return enricher.enrich(raw, T0)


def _variants(body: str) -> dict[str, str]:
    paras = body.split("\n")
    return {
        "original": body,
        "footer": body + "\n\nRead more: Libya news at our website. © 2023 All rights reserved.",
        "byline": "TRIPOLI, July 5 (Agency) - " + body,
        "edited": body.replace("meeting", "talks", 1).replace("Paris", "the French capital", 1),
        "truncated": "\n".join(paras[: max(2, len(paras) * 6 // 10)]),
    }


def _run(enricher: Enricher, docs: list[Any]) -> dict[str, dict[str, Any]]:
    store: dict[str, dict[str, Any]] = {}
    linker = Linker(store)
    for d in docs:
        linker.observe(d)
    return store


def test_copies_link_to_the_earliest_seen_in_any_arrival_order(enricher: Enricher) -> None:
    body = (SEEDS / "000_bcd341568d676ff1.txt").read_text("utf-8")
    docs = [_doc(enricher, text, minutes=i) for i, text in enumerate(_variants(body).values())]
    original = docs[0].id
    for order in random.Random(7).sample(list(itertools.permutations(docs)), 6):
        store = _run(enricher, list(order))
        assert store[original]["dup"] is None
        assert all(store[d.id]["dup"] == original for d in docs[1:])


def test_different_articles_are_not_duplicates(enricher: Enricher) -> None:
    docs = [_doc(enricher, p.read_text("utf-8"), i) for i, p in enumerate(sorted(SEEDS.iterdir()))]
    store = _run(enricher, docs)
    assert all(rec["dup"] is None for rec in store.values())


def test_replay_changes_nothing_and_new_source_is_recorded(enricher: Enricher) -> None:
    body = (SEEDS / "004_eaa25dd388c2d1af.txt").read_text("utf-8")
    store: dict[str, dict[str, Any]] = {}
    linker = Linker(store)
    first, _ = linker.observe(_doc(enricher, body, 0, "a.txt"))
    again, updates = linker.observe(_doc(enricher, body, 60, "a.txt"))
    assert updates == [] and again.ingested_at == first.ingested_at
    assert [s.path for s in again.sources] == ["a.txt"]
    third, _ = linker.observe(_doc(enricher, "  " + body.upper(), 90, "b.txt"))  # same id
    assert [s.path for s in third.sources] == ["a.txt", "b.txt"]


def test_earlier_arrival_later_emits_corrections(enricher: Enricher) -> None:
    body = (SEEDS / "001_7a46a5f02b118931.txt").read_text("utf-8")
    v = _variants(body)
    store: dict[str, dict[str, Any]] = {}
    linker = Linker(store)
    late = _doc(enricher, v["footer"], 10)
    early = _doc(enricher, v["original"], 0)
    linker.observe(late)
    decided, updates = linker.observe(early)
    assert decided.dedup.duplicate_of is None
    assert [(u.id, u.duplicate_of, u.story_id) for u in updates] == [(late.id, early.id, early.id)]
    assert updates[0].version == store[late.id]["v"] > 0  # grows with each changed decision


def test_an_article_that_copies_two_groups_merges_their_stories(enricher: Enricher) -> None:
    """Two unrelated seeds, each with a copy (two groups, two stories), then a digest carrying
    both texts: it is a copy of each, so the groups become one and so do their stories, every
    member relabelled, including the copies that were never compared with the digest."""
    a, b = (
        (SEEDS / n).read_text("utf-8")
        for n in ("000_bcd341568d676ff1.txt", "003_01b30ef46d6ec3fe.txt")
    )
    store: dict[str, dict[str, Any]] = {}
    linker = Linker(store)
    docs = [
        _doc(enricher, t, i)
        for i, t in enumerate([a, _variants(a)["footer"], b, _variants(b)["footer"]])
    ]
    for d in docs:
        linker.observe(d)
    assert store[docs[0].id]["story"] != store[docs[2].id]["story"]  # unrelated until the digest
    digest = _doc(enricher, a + "\n\n" + b, 10)
    linker.observe(digest)
    assert {store[d.id]["story"] for d in [*docs, digest]} == {docs[0].id}
    assert {store[d.id]["dup"] for d in [*docs[1:], digest]} == {docs[0].id}


def test_state_survives_a_restart(enricher: Enricher) -> None:
    body = (SEEDS / "002_c10a15e947a66a7f.txt").read_text("utf-8")
    v = _variants(body)
    store: dict[str, dict[str, Any]] = {}
    Linker(store).observe(_doc(enricher, v["original"], 0))
    decided, _ = Linker(store).observe(_doc(enricher, v["truncated"], 5))  # index rebuilt
    assert decided.dedup.duplicate_of == doc_id(v["original"])


def _synthetic(
    n: int, entities: list[tuple[str, str, int]], dates: list[str], day: int, body: str = ""
) -> Any:
    """An article with a given entity list and event dates (no wording in common with others,
    unless `body` is given)."""
    body = body or f"article {n} " + " ".join(f"w{n}x{i}" for i in range(60))
    return linked_article(
        body,
        f"{n}.txt",
        T0 + timedelta(days=day, minutes=n),
        [Entity(id=i, name=i, type=t, mentions=[i], count=c) for i, t, c in entities],
        {"actors": [], "lead_actors": [], "places": ["ghadames"], "dates": dates},
    )


GHADAMES = [
    ("ghadames", "LOC", 4),
    ("stephanie-williams", "PERSON", 2),
    ("sebha", "LOC", 1),
    ("brega", "LOC", 1),
    ("petroleum-facilities-guard", "ORG", 1),
    ("libya", "LOC", 3),
]


def test_shared_entity_profile_joins_a_story_without_shared_wording_or_people() -> None:
    store: dict[str, dict[str, Any]] = {}
    linker = Linker(store)
    first = _synthetic(1, GHADAMES, ["--11-03"], day=0)
    second = _synthetic(2, GHADAMES[:5], [], day=0)
    linker.observe(first)
    decided, _ = linker.observe(second)
    assert decided.story.id == first.id
    assert decided.dedup.duplicate_of is None  # same event, not a copy


def test_conflicting_date_or_a_thin_profile_is_another_story() -> None:
    linker = Linker({})
    first = _synthetic(1, GHADAMES, ["--11-03"], day=0)
    other_date = _synthetic(2, GHADAMES, ["--02-08"], day=0)
    background_only = _synthetic(3, [("libya", "LOC", 3), ("ghadames", "LOC", 1)], [], day=0)
    linker.observe(first)
    for doc in (other_date, background_only):
        decided, _ = linker.observe(doc)
        assert decided.story.id == doc.id


def test_articles_outside_the_story_window_are_not_read() -> None:
    linker = Linker({})
    linker.observe(_synthetic(1, GHADAMES, [], day=0))
    before = linker.compared
    late = _synthetic(2, GHADAMES, [], day=30)
    decided, _ = linker.observe(late)
    assert decided.story.id == late.id
    assert linker.compared == before  # the candidate was skipped, not fetched and rejected


def test_a_story_is_not_joined_through_an_undated_member_across_the_window() -> None:
    """A (day 0) and undated B make one story; C, 19 days after A, matches B only (A is out of
    its window, so never a candidate): joining would glue two events together."""
    linker = Linker({})
    first = _synthetic(1, GHADAMES, [], day=0)
    undated = _synthetic(2, GHADAMES, [], day=0).model_copy(update={"published_at": None})
    late = _synthetic(3, GHADAMES, [], day=19)
    linker.observe(first)
    assert linker.observe(undated)[0].story.id == first.id
    assert linker.observe(late)[0].story.id == late.id
    near = _synthetic(4, GHADAMES, [], day=5)  # within the window of both: joins
    assert linker.observe(near)[0].story.id == first.id


def test_band_index_returns_the_newest_ordinals_across_merges() -> None:
    from services.enrich import lsh

    index = lsh.BandIndex()
    for ordinal in range(10):
        index.add(7, ordinal)
        if ordinal == 5:
            index.merge()
    index.add(8, 99)
    assert index.get(7) == list(range(10))
    assert index.get(7, newest=3) == [7, 8, 9]
    assert index.get(7, newest=6) == [4, 5, 6, 7, 8, 9]
    assert index.get(9) == []


def test_band_index_get_many_is_the_union_of_the_newest_per_key() -> None:
    from services.enrich import lsh

    rng = random.Random(3)
    index = lsh.BandIndex()
    for ordinal in range(400):
        index.add_many(rng.sample(range(12), 3), ordinal)
        if ordinal in (150, 300):
            index.merge()  # ordinals in the sorted arrays and in the buffer, for the same keys
    for keys in ([0], [1, 2, 3], list(range(14)), []):
        for newest in (1, 5, 40, 1000):
            expected = sorted({o for k in keys for o in index.get(k, newest)})
            assert index.get_many(keys, newest).tolist() == expected


def test_band_index_merges_keep_keys_sorted_and_each_keys_ordinals_in_order() -> None:
    """A merge inserts the buffer into the sorted arrays (it no longer re-sorts everything): the
    arrays stay sorted by key, and a key's ordinals in the order they were filed, the buffer's
    after the older ones."""
    from services.enrich import lsh

    rng = random.Random(11)
    index = lsh.BandIndex()
    filed: dict[int, list[int]] = {}
    for ordinal in range(2000):
        keys = [rng.randrange(300) for _ in range(rng.randint(1, 5))]
        index.add_many(keys, ordinal)
        for k in keys:
            filed.setdefault(k, []).append(ordinal)
        if rng.random() < 0.03:
            index.merge()
    index.merge()
    assert (index.keys[1:] >= index.keys[:-1]).all()
    for k, ordinals in filed.items():
        lo = np.searchsorted(index.keys, k, side="left")
        hi = np.searchsorted(index.keys, k, side="right")
        assert index.vals[lo:hi].tolist() == ordinals


def test_an_undated_article_is_not_placed_at_its_ingestion_time() -> None:
    """A replayed archive is ingested years after its events: an article without a publication
    date must still meet a dated report of the same event."""
    linker = Linker({})
    dated = _synthetic(1, GHADAMES, ["2020-11-03"], day=0)
    undated = _synthetic(2, GHADAMES, ["--11-03"], day=0).model_copy(
        update={"published_at": None, "ingested_at": T0 + timedelta(days=2000)}
    )
    linker.observe(dated)
    decided, _ = linker.observe(undated)
    assert decided.story.id == dated.id


def test_the_record_cache_stays_bounded() -> None:
    store: dict[str, dict[str, Any]] = {}
    linker = Linker(store, cache_records=3)
    for n in range(8):
        linker.observe(_synthetic(n, GHADAMES, [], day=n))
    assert len(store) == 8
    assert len(linker.members.cache) == 3


def test_weights_are_the_ones_given_to_the_linker() -> None:
    """The entity weights come from the Linker's constructor (the pack's when none are given)."""
    pack = load_linking()
    heavy_places = replace(pack, type_weight={**pack.type_weight, "LOC": 10.0})
    doc = _synthetic(1, GHADAMES, [], day=0)
    default: dict[str, dict[str, Any]] = {}
    given: dict[str, dict[str, Any]] = {}
    Linker(default).observe(doc)
    Linker(given, heavy_places).observe(doc)
    assert default[doc.id]["ents"]["sebha"] == pack.type_weight["LOC"]
    assert given[doc.id]["ents"]["sebha"] == 10.0


def _reedited(body: str) -> str:
    """A syndicated copy as outlets publish it: their own lead, the agency paragraphs re-ordered
    and cut after the first half, one sentence reworded."""
    paras = [p for p in body.split("\n") if p.strip()]
    kept = paras[: max(3, len(paras) // 2)]
    kept = [kept[0], *reversed(kept[1:])]
    lead = (
        "Our correspondent reports that the military leaders of the country's rival camps held "
        "another round of consultations this week, which observers describe as a turning point."
    )
    return "\n\n".join([lead, *kept]).replace("meeting", "talks", 1)


def test_a_reedited_syndicated_copy_is_a_near_duplicate(enricher: Enricher) -> None:
    from services.enrich.link import near_duplicates
    from services.enrich.lsh import jaccard

    body = (SEEDS / "000_bcd341568d676ff1.txt").read_text("utf-8")
    original, copy = _doc(enricher, body, 0), _doc(enricher, _reedited(body), 1)
    weights = load_linking()
    a, b = (member_record(d, weights) for d in (original, copy))
    assert jaccard(a.sig, b.sig) < 0.5  # the shingle rules alone would miss it
    assert near_duplicates(a, b)
    store = _run(enricher, [original, copy])
    assert store[copy.id]["dup"] == original.id


def test_three_shared_sentences_make_a_copy_whatever_their_share(enricher: Enricher) -> None:
    """A long re-edited copy: three sentences of the wire text in an article of many others (a
    share under NEAR_DUP_SENTENCE_SHARE); two such sentences stay two reports quoting alike."""
    from services.enrich.link import NEAR_DUP_SENTENCE_SHARE, near_duplicates
    from services.enrich.lsh import sentence_overlaps

    def sentence(tag: str, i: int) -> str:
        return " ".join(f"{tag}{i}w{k}" for k in range(14)) + "."

    wire = " ".join(sentence("wire", i) for i in range(12))
    own = [sentence("own", i) for i in range(9)]
    weights = load_linking()
    original = member_record(_doc(enricher, wire, 0), weights)
    for kept, expected in ((3, True), (2, False)):
        shared = [sentence("wire", i) for i in range(kept)]
        copy = member_record(_doc(enricher, " ".join(own + shared), 1), weights)
        count, share = sentence_overlaps(original.sentences, [copy.sentences])[0]
        assert count == kept and share < NEAR_DUP_SENTENCE_SHARE
        assert near_duplicates(original, copy) is expected


def test_one_quoted_sentence_does_not_make_a_near_duplicate(enricher: Enricher) -> None:
    body = (SEEDS / "000_bcd341568d676ff1.txt").read_text("utf-8")
    quoted = next(s for s in body.split(". ") if len(s.split()) > 12)
    other = (SEEDS / "004_eaa25dd388c2d1af.txt").read_text("utf-8")
    docs = [_doc(enricher, body, 0), _doc(enricher, other + "\n\n" + quoted + ".", 1)]
    store = _run(enricher, docs)
    assert store[docs[1].id]["dup"] is None


def _kind(doc: Any, topics: list[str], places: list[str], dates: list[str]) -> Any:
    """`doc` as enrichment would have tagged it: its topics and its event place and dates."""
    from newspipe.contract import Topic

    event = {**doc.event, "places": places, "dates": dates}
    tagged = [Topic(id=t, score=5.0, evidence=[]) for t in topics]
    return doc.model_copy(update={"topics": tagged, "event": event})


# Reports of one Tripoli clash that name no person in common (often: other languages, few names).
CLASH = [("brigade-444", "ORG", 2), ("radaa", "ORG", 2), ("mitiga", "LOC", 1), ("libya", "LOC", 2)]


def test_same_kind_of_event_with_shared_entities_at_the_same_place_is_one_story() -> None:
    from services.enrich.stories import affinity

    linker = Linker({})
    topics = ["armed-clashes", "armed-groups"]
    first = _kind(_synthetic(1, CLASH, [], day=0), topics, ["tripoli"], [])
    own = [(f"other-{i}", "ORG", 2) for i in range(6)]  # each report's own names
    second = _kind(_synthetic(2, CLASH[:3] + own, [], day=0), topics, ["tripoli"], [])
    weights = load_linking()
    profiles = [member_record(d, weights).profile for d in (first, second)]
    assert affinity(*profiles) < 0.45  # the profile rule alone would not join them
    linker.observe(first)
    assert linker.observe(second)[0].story.id == first.id
    # Another kind of event naming the same entities is not joined to it.
    own = [(f"third-{i}", "ORG", 2) for i in range(6)]
    meeting = _kind(_synthetic(3, CLASH[:3] + own, [], day=0), ["jmc-5plus5"], ["tripoli"], [])
    assert linker.observe(meeting)[0].story.id == meeting.id


def test_a_story_holding_a_member_from_another_place_is_not_joined() -> None:
    linker = Linker({})
    topics = ["armed-clashes", "armed-groups"]
    first = _kind(_synthetic(1, CLASH, [], day=0), topics, [], [])
    elsewhere = _kind(_synthetic(2, CLASH, [], day=0), topics, ["zawiya"], [])
    linker.observe(first)
    linker.observe(elsewhere)  # joins the placeless first report
    assert linker.members[elsewhere.id].story == first.id
    # A report placed in Sirte meets a story with a Zawiya member: another event.
    sirte = _kind(_synthetic(3, CLASH, [], day=0), topics, ["sirte"], [])
    assert linker.observe(sirte)[0].story.id == sirte.id


def test_the_same_kind_of_event_written_about_in_another_year_is_another_story() -> None:
    from services.enrich.stories import affinity

    topics = ["foreign-forces", "security-cooperation"]
    vote = [("turkish-parliament", "ORG", 2), ("ankara", "LOC", 1), ("turkey", "LOC", 2)]
    own = [(f"other-{i}", "LOC", 1) for i in range(6)]  # each report's own names

    def report(n: int, entities: list[tuple[str, str, int]], year: str) -> Any:
        doc = _kind(_synthetic(n, entities, [], day=0), topics, [], [])
        return doc.model_copy(update={"event": {**doc.event, "years": [year]}})

    first, later = report(1, vote, "2022"), report(2, vote + own, "2023")
    weights = load_linking()
    profiles = [member_record(d, weights).profile for d in (first, later)]
    assert affinity(*profiles) < 0.45  # only the same-kind signal could join them
    linker = Linker({})
    linker.observe(first)
    assert linker.observe(later)[0].story.id == later.id  # a yearly vote: another one
    linker = Linker({})
    linker.observe(first)
    assert linker.observe(report(3, vote + own, "2022"))[0].story.id == first.id


def _record(
    entities: list[tuple[str, str, int]],
    topics: list[str],
    places: list[str],
    dates: list[str],
    n: int,
) -> Any:
    return member_record(
        _kind(_synthetic(n, entities, dates, day=0), topics, places, dates), load_linking()
    )


WILLIAMS = [
    ("stephanie-williams", "PERSON", 3),
    ("libya", "LOC", 2),
    ("khalifa-haftar", "PERSON", 1),
]


def test_the_same_date_lets_a_seat_of_government_differ_from_the_event_place() -> None:
    from services.enrich.stories import event_affinity

    bg = load_linking().background
    own = [(f"own-{i}", "ORG", 2) for i in range(3)]
    topics = ["jmc-5plus5", "ceasefire"]
    at_ghadames = _record(WILLIAMS + own, topics, ["ghadames"], ["2020-11-04"], 1)
    from_tripoli = _record(WILLIAMS, topics, ["tripoli"], ["2020-11-04"], 2)
    assert event_affinity(at_ghadames, from_tripoli, bg) is not None
    # Without an event date, Tripoli still places a report apart from Ghadames.
    undated = [replace(r, dates=()) for r in (at_ghadames, from_tripoli)]
    assert event_affinity(*undated, bg) is None
    # Two event places that are not background ones stay apart, dated or not.
    at_sirte = _record(WILLIAMS, topics, ["sirte"], ["2020-11-04"], 3)
    assert event_affinity(at_ghadames, at_sirte, bg) is None


def test_the_same_kind_of_event_on_the_same_date_with_one_shared_name_is_one_story() -> None:
    from services.enrich.stories import event_affinity

    bg = load_linking().background
    topics = ["ceasefire", "international-mediation"]
    a = _record(WILLIAMS + [(f"a-{i}", "LOC", 1) for i in range(5)], topics, [], ["2020-10-23"], 1)
    b = _record(WILLIAMS + [(f"b-{i}", "ORG", 1) for i in range(5)], topics, [], ["2020-10-23"], 2)
    assert event_affinity(a, b, bg) is not None
    # Another date, or another kind of event, is not enough with one shared name.
    assert event_affinity(a, replace(b, dates=("2020-11-23",)), bg) is None
    assert event_affinity(a, replace(b, topics=("armed-clashes",)), bg) is None


def test_close_profiles_at_the_same_event_place_are_one_story() -> None:
    from services.enrich.stories import STORY_AFFINITY, affinity, event_affinity

    bg = load_linking().background
    flood = [("derna", "LOC", 4), ("libya", "LOC", 2), ("icrc", "ORG", 1)]
    a = _record([*flood, ("mediterranean", "LOC", 2), ("benghazi", "LOC", 1)], [], ["derna"], [], 1)
    own = [("associated-press", "ORG", 1), ("red-crescent", "ORG", 1), ("who", "ORG", 1)]
    b = _record(flood + own, [], ["derna"], [], 2)
    assert 0.35 <= affinity(a.profile, b.profile) < STORY_AFFINITY
    assert event_affinity(a, b, bg) is not None
    # The same profiles placed only in a background place (Tripoli) are not enough.
    in_tripoli = [replace(r, places=("tripoli",)) for r in (a, b)]
    assert event_affinity(*in_tripoli, bg) is None


def test_the_same_kind_of_event_stating_the_same_figures_is_one_story() -> None:
    from services.enrich.stories import event_affinity

    bg = load_linking().background
    topics = ["armed-clashes", "armed-groups"]
    # Reports of one round of clashes in two languages: no shared name but the (background)
    # capital, too thin a profile; the same toll stated in both.
    a = _record([("tripoli", "LOC", 2), ("a-1", "ORG", 1)], topics, [], [], 1)
    b = _record([("tripoli", "LOC", 1), ("b-1", "ORG", 1)], topics, [], [], 2)
    assert event_affinity(a, b, bg) is None
    toll_a, toll_b = replace(a, figures=("32", "159")), replace(b, figures=("159", "32", "2022"))
    assert event_affinity(toll_a, toll_b, bg) is not None
    # One figure in common is not enough, nor the same figures in another kind of report.
    assert event_affinity(toll_a, replace(b, figures=("32", "40")), bg) is None
    assert event_affinity(toll_a, replace(toll_b, topics=("resources-economy",)), bg) is None


def test_two_shared_names_one_of_them_an_actor_join_the_same_kind_of_event() -> None:
    from services.enrich.stories import event_affinity

    bg = load_linking().background
    topics = ["counterterrorism", "armed-clashes"]
    own = [[(f"{side}-{i}", "ORG", 1) for i in range(4)] for side in "ab"]
    names = [("khaled-al-mahjoub", "PERSON", 1), ("qatrun", "LOC", 1)]
    a, b = (_record(names + o, topics, [], [], n) for n, o in enumerate(own, 1))
    assert event_affinity(replace(a, actors=("khaled-al-mahjoub",)), b, bg) is not None
    # The same two names, neither of them an actor of either report: not enough.
    assert event_affinity(replace(a, actors=()), replace(b, actors=()), bg) is None


def test_copies_of_one_text_are_one_vote_when_a_story_is_chosen() -> None:
    """A wire text and two cut copies of it that kept one of its names, and a report in another
    language close to the full text only: the copies are one report with it, so the new article
    matches the story's only report (counted per article, it matched one in three)."""
    wire_text = " ".join(f"wire{i}" for i in range(120))
    topics = ["ceasefire", "international-mediation"]

    def doc(n: int, body: str, entities: list[tuple[str, str, int]], tags: list[str]) -> Any:
        return _kind(_synthetic(n, entities, [], day=0, body=body), tags, [], [])

    wire = [("stephanie-williams", "PERSON", 2), ("geneva", "LOC", 1), ("ghadames", "LOC", 1)]
    linker = Linker({})
    first = doc(1, wire_text, wire, topics)
    linker.observe(first)
    for n in (2, 3):  # cut copies that kept only Williams, tagged otherwise
        cut = " ".join(wire_text.split()[: 100 - n])
        copy = doc(n, cut, [("stephanie-williams", "PERSON", 1), (f"c-{n}", "ORG", 3)], [])
        linker.observe(copy)
        assert linker.members[copy.id].duplicate_of == first.id
    own = " ".join(f"own{i}" for i in range(120))
    report = doc(4, own, [*wire, ("a-1", "ORG", 1)], topics)
    assert linker.observe(report)[0].story.id == first.id


def _overlap_pairwise(a: str, b: str) -> tuple[int, float]:
    """The sentence-overlap rule written pair by pair, as first defined (numpy.isin per hash)."""
    import numpy as np

    from services.enrich.dedup import SENTENCE_HASHES
    from services.enrich.lsh import unpack

    x, y = (unpack(s).reshape(-1, SENTENCE_HASHES) for s in (a, b))
    if not len(x) or not len(y):
        return 0, 0.0
    in_y = sum(np.isin(x[:, k], y[:, k]).astype(int) for k in range(SENTENCE_HASHES)) >= 2
    in_x = sum(np.isin(y[:, k], x[:, k]).astype(int) for k in range(SENTENCE_HASHES)) >= 2
    nx, ny = int(np.count_nonzero(in_y)), int(np.count_nonzero(in_x))
    return max(nx, ny), max(nx / len(x), ny / len(y))


def test_sentence_overlaps_of_many_equal_the_pairwise_rule(enricher: Enricher) -> None:
    """The batched comparison (one sorted search for all candidates) decides as the pairwise
    rule does, on real articles, their edited copies and an empty sketch."""
    from services.enrich.lsh import pack_sig, sentence_overlaps

    texts = [p.read_text("utf-8") for p in sorted(SEEDS.iterdir())]
    texts += [v for t in texts[:3] for v in _variants(t).values()] + [_reedited(texts[0])]
    sketches = [pack_sig(_doc(enricher, t, i).dedup.sentences) for i, t in enumerate(texts)]
    sketches.append(pack_sig([]))
    shared = 0
    for a in sketches:
        got = sentence_overlaps(a, sketches)
        assert got == [_overlap_pairwise(a, b) for b in sketches]
        shared += sum(n >= 2 for (n, _), b in zip(got, sketches, strict=True) if b != a)
    assert shared >= 10  # copies among them: the rule had pairs to find, not only zeros


def test_sentence_overlaps_with_a_sentence_repeated_in_the_article(enricher: Enricher) -> None:
    """An article that repeats a sentence holds each of its min-hashes twice: the search that
    assumes each value once must not be the one used then."""
    from services.enrich.lsh import pack_sig, sentence_overlaps

    texts = [p.read_text("utf-8") for p in sorted(SEEDS.iterdir())][:4]
    first = texts[0].split("\n\n")
    repeated = "\n\n".join([*first, first[-1], first[1]])  # two paragraphs said twice
    sketches = [pack_sig(_doc(enricher, t, i).dedup.sentences) for i, t in enumerate(texts)]
    a = pack_sig(_doc(enricher, repeated, 99).dedup.sentences)
    got = sentence_overlaps(a, sketches)
    assert got == [_overlap_pairwise(a, b) for b in sketches]
    assert got[0][0] >= 2  # the original shares its sentences with the repeating copy


def test_band_index_answers_the_same_with_its_older_entries_on_disk() -> None:
    """A cold store changes where entries live, never what a lookup returns: the same random
    filing into an index that spills (a tiny memory share) and one that keeps all in memory."""
    from services.enrich import lsh

    rng = random.Random(5)
    cold: dict[bytes, bytes] = {}
    spilling, whole = lsh.BandIndex(cold, hot_entries=40), lsh.BandIndex()
    for ordinal in range(600):
        keys = [*rng.sample(range(30), 4), 1000 + ordinal]  # shared keys and a unique one
        spilling.add_many(keys, ordinal)
        whole.add_many(keys, ordinal)
        if ordinal % 37 == 0:
            spilling.merge()
            whole.merge()
        if ordinal % 50 == 49:
            for ks in ([0], [1, 2, 3], [*range(32), 1000, 1000 + ordinal], []):
                for newest in (1, 5, 40, 1000):
                    assert spilling.get_many(ks, newest).tolist() == (
                        whole.get_many(ks, newest).tolist()
                    )
            for k in (0, 7, 1003, 1000 + ordinal, 5000):
                for newest in (None, 1, 3, 30, 500):
                    assert spilling.get(k, newest) == whole.get(k, newest)
    assert spilling.spilled > 1000 and len(cold) > 100  # most entries did move to the store
    spilling.merge()
    assert len(spilling.keys) <= 40  # memory holds the newest entries only


def test_band_index_asks_the_cold_store_only_for_keys_it_may_hold() -> None:
    """Most lookups ask for keys that were never moved to disk: the filter of spilled keys
    answers them in memory, and only keys it may hold reach the store (all that it does hold)."""
    from services.enrich import lsh

    class Counting(dict[bytes, bytes]):
        asked = 0

        def get(self, key: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
            self.asked += 1
            return super().get(key, default)

    rng = np.random.default_rng(3)
    filed = rng.integers(0, 2**63, 3000, dtype=np.uint64).tolist()
    cold = Counting()
    index = lsh.BandIndex(cold, hot_entries=1000)
    for ordinal in range(0, 3000, 10):
        index.add_many(filed[ordinal : ordinal + 10], ordinal)
    index.merge()
    assert index.spilled >= 2000 and len(cold) == index.spilled  # one entry per unique key
    on_disk = [k for k in filed if k.to_bytes(8, "little") in cold]
    never = rng.integers(0, 2**63, 2000, dtype=np.uint64).tolist()
    cold.asked = 0
    assert len(index.get_many(never, 5)) == 0
    assert cold.asked <= 2  # 2,000 absent keys: none read (a false positive or two at most)
    cold.asked = 0
    got = index.get_many(on_disk[:500], 5)
    assert cold.asked == 500 and len(got) == len({filed.index(k) // 10 * 10 for k in on_disk[:500]})
    assert index.get(on_disk[0]) == [filed.index(on_disk[0]) // 10 * 10]


def test_a_linker_with_a_tiny_memory_decides_as_one_that_holds_everything(
    enricher: Enricher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded memory changes where the indexes live, not one decision: real articles (the tune
    parts) and the own corpora linked twice, once with nearly everything moved to a cold store
    (dicts here, rocksdb in the worker)."""
    from services.enrich import lsh
    from services.enrich.link import Cold
    from services.ingest.parse import Parsed, parse

    data = SEEDS.parent / "tests" / "data"
    files = [
        f
        for folder in ("real", "real-wire", "real-events", "dedup", "heldout")
        for f in sorted((data / folder / "articles").glob("*.txt"))
    ]
    docs = []
    for f in files:
        parsed = parse(f.name, f.read_bytes(), T0)
        if isinstance(parsed, Parsed):
            docs += [enricher.enrich(a, T0) for a in parsed.articles]
    assert len(docs) > 150
    monkeypatch.setattr(lsh, "MERGE_AT", 300)  # merges (and so spills) every few articles
    cold = Cold({}, {}, hot_entries=200, hot_groups=3)
    small, whole = Linker({}, cold=cold), Linker({})
    moved = 0
    for doc in docs:
        got, want = small.observe(doc), whole.observe(doc)
        assert got[0].to_bytes() == want[0].to_bytes()
        assert [u.to_bytes() for u in got[1]] == [u.to_bytes() for u in want[1]]
        moved = max(moved, len(cold.groups))  # type: ignore[arg-type]
    assert small.bands.spilled > 5000 and len(small.bands.keys) <= 200 + 300
    assert moved >= 5 and len(small.stories.hot) <= 3
    assert small.compared == whole.compared


def test_each_changed_record_is_written_once_per_decision(enricher: Enricher) -> None:
    """A table write is a changelog message: an article that joins a group and its story, and
    relabels the members it precedes, writes each of those records once."""

    class Counting(dict[str, Any]):
        def __init__(self) -> None:
            super().__init__()
            self.writes: list[str] = []

        def __setitem__(self, key: str, value: Any) -> None:
            self.writes.append(key)
            super().__setitem__(key, value)

    body = sorted(SEEDS.iterdir())[0].read_text("utf-8")
    variants = list(_variants(body).values())
    docs = [_doc(enricher, text, minutes=10 - i) for i, text in enumerate(variants)]
    store = Counting()
    linker = Linker(store)
    for doc in docs:  # the later-seen arrive first: each new one relabels the others
        store.writes.clear()
        _decided, updates = linker.observe(doc)
        assert sorted(store.writes) == sorted({doc.id, *(u.id for u in updates)})
    assert len(updates) >= 2  # the last one did relabel members it precedes
    assert {store[d.id]["dup"] or d.id for d in docs} == {docs[-1].id}  # one group, its root
