"""Topic scoring on the fixture taxonomy: evidence kept, position and weight matter, a passing
mention is not a topic, Arabic clitics and French wildcards match."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.enrich.knowledge import load_topics
from services.enrich.topics import Tagger

PACK = Path(__file__).resolve().parents[1] / "data" / "pack"


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_topics(PACK))


def ids(tagger: Tagger, title: str | None, body: str) -> dict[str, list[str]]:
    return {t.id: t.evidence for t in tagger.tag(title, body, [])}


def test_tag_with_evidence(tagger: Tagger) -> None:
    got = ids(tagger, "5+5 talks", "The Joint Military Commission met on the withdrawal.")
    assert got["jmc-5plus5"] == ["5+5", "joint military commission"]


def test_passing_mention_is_not_a_topic(tagger: Tagger) -> None:
    body = "Oil output rose.\n\n" + "The economy grew. " * 30 + "\n\nMercenaries were mentioned."
    assert "foreign-forces" not in ids(tagger, None, body)


def test_same_phrase_in_title_scores_higher(tagger: Tagger) -> None:
    in_title = tagger.tag("Mercenaries", "Nothing else here.\n\nMore text follows.", [])
    in_body = tagger.tag(None, "Nothing else here.\n\nMore text. Mercenaries.", [])
    assert in_title and in_title[0].score > (in_body[0].score if in_body else 0)


def test_wildcard_and_word_boundaries(tagger: Tagger) -> None:
    assert "foreign-forces" in ids(tagger, "Les mercenaires", "Départ des mercenaires étrangers.")
    assert ids(tagger, None, "The 15+5 plan and 5+50 figure.") == {}


def test_arabic_phrase_with_attached_clitic(tagger: Tagger) -> None:
    got = ids(tagger, "واللجنة العسكرية المشتركة", "اجتمعت اللجنة العسكرية المشتركة في سرت")
    assert "jmc-5plus5" in got


def test_one_stretch_of_text_counts_once_per_topic() -> None:
    # Through the clitic rule "مجموعات مسلحة" also matches inside "المجموعات مسلحة"; listed
    # both ways, the stretch must still score once, as the longer phrase.
    taxonomy = [
        {
            "id": "armed-groups",
            "threshold": 1.0,
            "phrases": {
                "ar": [{"p": "المجموعات المسلحة", "w": 3}, {"p": "مجموعات المسلحة", "w": 3}]
            },
        }
    ]
    tagger = Tagger(taxonomy)
    body = "أولا\n\nتحدث التقرير عن المجموعات المسلحة في المدينة"
    [topic] = tagger.tag(None, body, [])
    assert topic.score == 3.0 and topic.evidence == ["المجموعات المسلحه"]
    # Two separate stretches still count as two phrases.
    [both] = tagger.tag(None, body + " وعن مجموعات المسلحة أخرى", [])
    assert both.score == 6.0
