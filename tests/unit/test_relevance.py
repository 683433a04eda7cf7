"""The on-track verdict: a security-track subject (a tagged track topic) in Libya (Libya's share of
the located mentions), with the evidence that decided it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newspipe.contract import Topic
from services.enrich.core import Enricher
from services.enrich.knowledge import PACK_DIR
from services.enrich.relevance import RelevanceRule
from tests.conftest import raw_article

T0 = datetime(2023, 8, 16, tzinfo=UTC)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def _verdict(enricher: Enricher, title: str, body: str) -> tuple[bool, list[str]]:
    rel = enricher.enrich(raw_article(body, title), T0).relevance
    assert rel is not None
    return rel.on_track, rel.evidence


def test_clashes_in_tripoli_are_on_track(enricher: Enricher) -> None:
    on, evidence = _verdict(
        enricher,
        "Clashes between armed groups in Tripoli kill 27",
        "Heavy clashes broke out in Tripoli between the 444 Brigade and the Radaa force, "
        "killing 27 people, Libya's emergency services said. The fighting erupted after the "
        "detention of the brigade's commander at Mitiga airport.",
    )
    assert on and "armed-clashes" in evidence[0]


def test_another_countrys_war_is_off_track(enricher: Enricher) -> None:
    on, evidence = _verdict(
        enricher,
        "Heavy clashes in Khartoum as RSF shells the army",
        "Clashes between Sudan's army and the Rapid Support Forces killed dozens in Khartoum "
        "and Omdurman, residents said. The paramilitary RSF shelled army positions while "
        "fighting spread to Darfur near the borders with Chad and Libya.",
    )
    assert not on and "LY share" in evidence[1]


def test_libya_news_on_another_subject_is_off_track(enricher: Enricher) -> None:
    on, evidence = _verdict(
        enricher,
        "Libya beat Gabon in World Cup qualifier",
        "Libya's national football team beat Gabon 2-1 in Benghazi on Sunday. The Mediterranean "
        "Knights scored twice in the second half before a crowd of 40,000 in Benghazi.",
    )
    assert not on and "tagged: none" in evidence[0]


def test_a_pack_without_a_relevance_rule_gives_no_verdict(tmp_path: object) -> None:
    from pathlib import Path

    pack = Path(str(tmp_path))
    enricher = Enricher(pack)  # an empty pack: no entities, topics or rule
    assert enricher.enrich(raw_article("x"), T0).relevance is None


def _tags(enricher: Enricher, title: str, body: str) -> tuple[list[str], list[str]]:
    doc = enricher.enrich(raw_article(body, title), T0)
    assert doc.relevance is not None
    return [t.id for t in doc.topics], doc.relevance.evidence


def test_an_article_not_about_libya_keeps_no_topic(enricher: Enricher) -> None:
    # The same text scores armed-clashes (test_another_countrys_war_is_off_track): the tag
    # would file Sudan's war under this monitor's clashes, so it is withheld, and said so.
    topics, evidence = _tags(
        enricher,
        "Heavy clashes in Khartoum as RSF shells the army",
        "Clashes between Sudan's army and the Rapid Support Forces killed dozens in Khartoum "
        "and Omdurman, residents said. The paramilitary RSF shelled army positions while "
        "fighting spread to Darfur near the borders with Chad and Libya.",
    )
    scored = enricher.tagger.scores(
        "Heavy clashes in Khartoum as RSF shells the army",
        "Clashes between Sudan's army and the Rapid Support Forces killed dozens in Khartoum.",
        [],
    )
    assert any(t.id == "armed-clashes" for t in enricher.tagger.passing(scored))
    assert topics == []
    assert "tags withheld (not about LY): armed-clashes" in evidence[-1]


def test_libya_on_another_subject_keeps_its_topics(enricher: Enricher) -> None:
    doc = enricher.enrich(
        raw_article(
            "Libya's National Oil Corporation said crude production reached 1.3 million barrels "
            "per day, the highest in a decade, as exports from Es Sider and Ras Lanuf resumed. "
            "The NOC said oil and gas revenues rose.",
            "Libya's oil output reaches 1.3 million barrels a day",
        ),
        T0,
    )
    assert doc.relevance is not None and not doc.relevance.on_track
    assert [t.id for t in doc.topics] == ["resources-economy"]
    assert not any("withheld" in line for line in doc.relevance.evidence)


def test_the_text_models_low_on_track_probability_overrules_the_rule() -> None:
    """A rule's on-track verdict stands unless the text model's on-track probability is under
    the pack's `model_veto`; the evidence says which it was."""
    rule = RelevanceRule.load(PACK_DIR / "relevance.yaml")
    assert rule.model_veto is not None
    tagged = [Topic(id="border-security", score=6.0, evidence=["coast guard"])]
    counts = (5, 5)  # every located mention in Libya
    assert rule.decide(counts, tagged, tagged)[0].on_track  # the rule alone
    kept = rule.decide(counts, tagged, tagged, rule.model_veto + 0.01)[0]
    vetoed = rule.decide(counts, tagged, tagged, rule.model_veto - 0.01)[0]
    assert kept.on_track and f"veto under {rule.model_veto:g}" in kept.evidence[-1]
    assert not vetoed.on_track and vetoed.score == 0.0 and "off-track" in vetoed.evidence[-1]
    # a probability never turns an off-track verdict (no track topic) on
    assert not rule.decide(counts, [], [], 0.99)[0].on_track


def test_a_migrant_shipwreck_off_libya_is_off_track(enricher: Enricher) -> None:
    """The rule reads the coast guard as border security; the text model, trained on the tune
    parts' verdicts (rescues and shipwrecks are off-track there), overrules it."""
    on, evidence = _verdict(
        enricher,
        "Dozens of migrants missing after boat capsizes off Libya",
        "At least 61 migrants, including women and children, drowned after their boat capsized "
        "off the Libyan coast near Zuwara, the International Organization for Migration said on "
        "Saturday. The Libyan coast guard rescued 25 survivors and brought them to a detention "
        "centre in Tripoli. The boat had left Zuwara with 86 people on board, survivors said.",
    )
    assert not on and evidence[-1].endswith("off-track"), evidence  # vetoed, not ruled off
