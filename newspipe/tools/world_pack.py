"""Writes knowledge/world.yaml: the world's countries and territories, and the cities the Unicode
CLDR names (LOC), in English, French and Arabic as CLDR writes them (through babel), for the ones
the hand-written pack does not hold.

Real articles name many places outside Libya's security track in passing (a summit's guests, a
migrant's origin, another war), and an analyst looks for them too. Countries come from CLDR's
territory names; cities from its exemplar cities of the time zones of Africa, Asia, Europe and the
Atlantic and Indian oceans (capitals and large cities: Beirut, Khartoum, Niamey, Riyadh). Only
names that no hand entry or earlier generated entry answers to (by name key) are written, so the
hand pack always wins, and names that are also ordinary words or first names are left out
(`SKIP`). The file is generated:

    .venv/bin/python -m newspipe.tools.world_pack > services/enrich/knowledge/world.yaml
"""

from __future__ import annotations

import re
import sys

import yaml
from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_location

from newspipe.text import TOKEN
from services.enrich.knowledge import HAND_FILES, load_gazetteer
from services.enrich.names import name_key, strict_key

# CLDR codes that are not one country or territory (European Union, Eurozone, United Nations,
# Outlying Oceania, pseudo-locales, unknown region).
NOT_PLACES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})
CITY_REGIONS = frozenset({"Africa", "Asia", "Europe", "Atlantic", "Indian"})
SKIP = frozenset(
    {
        "Maurice",  # French for Mauritius, and a first name
        "عُمان",  # Oman, and Amman (عمّان) once the diacritics fold away
        "Georgia",  # the country, and a US state and a first name
        "Jersey",  # also New Jersey
        "Christmas",  # French for Christmas Island
        "كريسماس",  # Arabic for Christmas Island, and Christmas
        "Réunion",  # "reunion" once the accent folds away
        "دار السلام",  # Dar es Salaam, and "the house of peace"
    }
)
LANGS = ("en", "fr", "ar")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _taken(name: str) -> tuple[tuple[str, ...], str]:
    """What a generated name claims: its key, and for a one-word name its strict form too."""
    key = name_key(name)
    words = TOKEN.findall(name)
    return key, strict_key(words[-1]) if len(key) == 1 and words else ""


def world_entities() -> list[dict[str, object]]:
    gaz = load_gazetteer(files=HAND_FILES)
    hand = set(gaz.by_key)  # name keys a hand entry answers to
    # One-word names of generated entries may share a key when their strict forms differ (Ghana,
    # Guinea, Guyana and Kenya all key as "kana"; the matcher tells them apart by strict form).
    taken: set[tuple[tuple[str, ...], str]] = set()
    ids = set(gaz.entities)
    held = {
        e.attributes.get("country")
        for e in gaz.entities.values()
        if e.attributes.get("kind") == "country"
    }
    out: list[dict[str, object]] = []

    def add(english: str, names: list[str], kind: str, code: str) -> None:
        usable = []
        for name in dict.fromkeys(names):
            key = name_key(name)
            if not name or " - " in name or name in SKIP or _taken(name) in taken:
                continue
            if _taken(name)[1] in gaz.strict_ids.get(key[0], {}) if len(key) == 1 else key in hand:
                continue  # a hand entry answers to it (one word: the same strict form)
            if min(map(len, key), default=0) < 3:
                continue  # بالاو keys as "او" ("or") once its clitic-looking start is stripped
            usable.append(name)
        if not usable or usable[0] != english or _slug(english) in ids:
            return  # the English name is taken: leave the place to the hand pack
        taken.update(_taken(n) for n in usable)
        ids.add(_slug(english))
        out.append(
            {
                "id": _slug(english),
                "name": english,
                "type": "LOC",
                "aliases": usable[1:],
                "attributes": {"kind": kind, "country": code, "source": "cldr"},
            }
        )

    territories = {lang: Locale(lang).territories for lang in LANGS}
    for code in sorted(territories["en"]):
        if len(code) != 2 or not code.isalpha() or code in NOT_PLACES or code in held:
            continue
        names = [territories[lang].get(code, "") for lang in LANGS]
        add(territories["en"][code], names, "country", code)
    zones = get_global("zone_territories")
    for zone in sorted(zones):
        region, _, place = zone.partition("/")
        if region not in CITY_REGIONS or not place or "/" in place:
            continue
        names = [get_timezone_location(zone, locale=lang, return_city=True) for lang in LANGS]
        add(names[0], names, "city", zones[zone])
    return out


def main() -> None:
    sys.stdout.write(
        "# Generated by newspipe/tools/world_pack.py from the Unicode CLDR's country and city\n"
        "# names (babel): the places the hand-written pack does not hold. Do not edit:\n"
        "# regenerate.\n"
    )
    yaml.safe_dump(
        {"entities": world_entities()}, sys.stdout, allow_unicode=True, sort_keys=False, width=100
    )


if __name__ == "__main__":
    main()
