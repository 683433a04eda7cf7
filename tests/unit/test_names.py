"""Each transliteration rule of the name keys, with spellings seen in real coverage."""

import pytest

from services.enrich.names import is_acronym, name_key


@pytest.mark.parametrize(
    "a,b",
    [
        ("Abdelrazik Al-Nathori", "Abdulrazzaq Al-Nadhouri"),  # abd-el/abdul, th/dh, ou/o, doubled
        ("Abdelrazzak Al-Nadhouri", "Abdulrazzaq al Nadhouri"),  # al-/al , k/q
        ("Mohammed Al-Haddad", "Mohamed El-Haddad"),  # doubled letters, al/el
        ("Mohammad Al-Haddad", "Muhammad al-Hadad"),  # o/u, a/e vowel runs
        ("Khalifa Haftar", "Khalifa Hifter"),  # i/e/a
        ("Abdul Hamid Dbeibah", "Abdelhamid Dbeibeh"),  # joined abd-name, final -ah/-eh
        ("Gaddafi", "Qaddafi"),  # g/q
        ("Libya", "Libye"),  # French spelling
        ("Sirte", "Syrte"),
        ("عبد الرازق الناظوري", "عبدالرازق الناظوري"),  # joined عبد
        ("الناظوري", "ناظوري"),  # Arabic article
        ("أسامة حماد", "اسامه حماد"),  # alef hamza, ta marbuta
        ("خليفة حفتر", "خَلِيفَة حَفْتَر"),  # diacritics
    ],
)
def test_same_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(
    "a,b",
    [
        ("Khalifa Haftar", "Saddam Haftar"),
        ("Haddad", "Hood"),
        ("Tripoli", "Tobruk"),
    ],
)
def test_different_key(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_acronyms() -> None:
    assert is_acronym("LNA") and is_acronym("UNSMIL") and is_acronym("HoR")
    assert not is_acronym("Libya") and not is_acronym("5+5") and not is_acronym("Joint Force")
