"""The generated world pack (knowledge/world.yaml, newspipe/tools/world_pack.py): the countries
and cities the hand pack lacks, found in English, French and Arabic, never shadowing a hand
entry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.enrich.core import Enricher
from services.enrich.knowledge import HAND_FILES, PACK_DIR, load_gazetteer, read_yaml, strict_form
from services.enrich.names import name_key
from tests.conftest import raw_article


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def test_no_world_alias_answers_for_a_hand_entry() -> None:
    hand = load_gazetteer(files=HAND_FILES)
    world = read_yaml((PACK_DIR / "world.yaml").read_text("utf-8"))["entities"]
    assert len([e for e in world if e["attributes"]["kind"] == "country"]) > 150
    assert len([e for e in world if e["attributes"]["kind"] == "city"]) > 150
    held = {
        e.attributes.get("country")
        for e in hand.entities.values()
        if e.attributes.get("kind") == "country"
    }
    for entry in world:
        assert entry["id"] not in hand.entities
        if entry["attributes"]["kind"] == "country":
            assert entry["attributes"]["country"] not in held
        for alias in [entry["name"], *entry["aliases"]]:
            key = name_key(alias)
            if len(key) == 1:  # one word: the strict form tells names sharing a key apart
                assert strict_form(alias) not in hand.strict_ids[key[0]], alias
            else:
                assert key not in hand.by_key, alias


@pytest.mark.parametrize(
    ("body", "places"),
    [
        ("Norway and Cameroon sent observers to the talks.", {"norway": "NO", "cameroon": "CM"}),
        (
            "La Norvège et le Cameroun ont envoyé des observateurs.",
            {"norway": "NO", "cameroon": "CM"},
        ),
        ("أرسلت النرويج والكاميرون مراقبين إلى المحادثات.", {"norway": "NO", "cameroon": "CM"}),
        ("The delegation flew from Beirut to Niamey.", {"beirut": "LB", "niamey": "NE"}),
        ("La délégation est allée de Beyrouth à Niamey.", {"beirut": "LB", "niamey": "NE"}),
        ("توجه الوفد من بيروت إلى نيامي.", {"beirut": "LB", "niamey": "NE"}),
    ],
)
def test_world_countries_and_cities_are_found_in_three_languages(
    enricher: Enricher, body: str, places: dict[str, str]
) -> None:
    doc = enricher.enrich(raw_article(body), datetime(2024, 1, 1, tzinfo=UTC))
    found = {e.id: e.attributes.get("country") for e in doc.entities}
    assert {k: found.get(k) for k in places} == places


def test_one_word_names_sharing_a_key_are_told_apart(enricher: Enricher) -> None:
    # Ghana, Guinea, Guyana and Kenya all key as "kana": the strict form picks the right one.
    doc = enricher.enrich(
        raw_article("Kenya, Ghana, Guyana and Guinea sent observers."),
        datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert {e.id: e.mentions for e in doc.entities} == {
        "kenya": ["Kenya"],
        "ghana": ["Ghana"],
        "guyana": ["Guyana"],
        "guinea": ["Guinea"],
    }
