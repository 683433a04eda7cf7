"""Loads the knowledge pack (YAML under knowledge/) into lookup tables. Data, not code, decides
who is who: people/orgs/places with aliases, surnames and context cues; the topic taxonomy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, cast, get_args

import yaml

from newspipe.contract import EntityType
from newspipe.text import TOKEN, fold
from services.enrich.names import (
    ARTICLES,
    is_acronym,
    name_key,
    readings,
    strict_key,
    token_keys,
)
from services.enrich.topicmodel import Blend, TopicModel

PACK_DIR = Path(__file__).resolve().parent / "knowledge"
# libyaml's loader when PyYAML has it (10x faster: the pack loads at every worker start), the same
# documents (checked on every pack and label file of the repository).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)


HAND_FILES = (
    "people.yaml",
    "orgs.yaml",
    "places.yaml",
    "libya.yaml",
    "media.yaml",
    "region.yaml",
    "security.yaml",
    "extended.yaml",
    "tune-names.yaml",
)
ENTITY_FILES = (*HAND_FILES, "world.yaml")  # world.yaml: generated (newspipe/tools/world_pack.py)
EntityKey = tuple[str, ...]
T = TypeVar("T")
# What a phrase of lexicon.yaml's not_names is matched as: it takes its words, so that no name is
# read inside it ("القوة القاهرة", force majeure, is not Cairo), and yields no entity.
NOT_A_NAME = "\x00not-a-name"


@dataclass(frozen=True)
class PackEntity:
    id: str
    name: str
    type: EntityType  # checked when the pack is loaded
    attributes: dict[str, str]
    context: tuple[str, ...] = ()  # folded cue words that point to this entity near a surname
    default: bool = False  # the pack's stated reading of a shared surname when nothing else tells


@dataclass
class Gazetteer:
    entities: dict[str, PackEntity] = field(default_factory=dict)
    by_key: dict[EntityKey, list[str]] = field(default_factory=lambda: defaultdict(list))
    lengths: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    acronyms: dict[str, str] = field(default_factory=dict)
    short: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # One-word aliases and surnames also need their strict key to match (names.strict_key).
    strict: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # ...and which entries each strict form belongs to: Ghana, Guinea, Guyana and Kenya share the
    # key "kana"; the strict form tells them apart.
    strict_ids: dict[str, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(dict))
    # Surnames (`short`) by key and strict form -> the people who bear them (shadowed_surnames).
    surname_forms: dict[tuple[str, str], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # Per key of a name of two words or more: its first words as written (folded). A function
    # word ("In", "The") starts a name only when the name is written with it: "In Libya" is not
    # the outlet Ean Libya, "The MoI" is not Di Maio (lexicon.yaml's function_words).
    lead_words: dict[EntityKey, set[str]] = field(default_factory=lambda: defaultdict(set))
    function_words: frozenset[str] = frozenset()
    longest_function_word: int = field(init=False, default=0)
    # Definite descriptions ("the mission", "البعثة") that name an entity when the article also
    # names one of the entities the description requires (knowledge pack, `described_as`).
    descriptions: list[Description] = field(default_factory=list)
    # Unqualified names of a national institution ("ministère de l'Intérieur"): name key -> the
    # role (attributes.national); and (role, country) -> the entity holding that role there. The
    # pack's default holder (Libya's) takes them, unless the article is about another country
    # that has one (entities.nationalise).
    unqualified: dict[EntityKey, str] = field(default_factory=dict)
    national: dict[tuple[str, str], str] = field(default_factory=dict)
    # Names that another entry holds (its default reading) and that this entry also went by, read
    # from the article's context (knowledge pack, `shared_names`; entities.reread_shared): name
    # key -> the other readings.
    shared: dict[EntityKey, list[SharedReading]] = field(default_factory=lambda: defaultdict(list))
    # What the matcher derives from the tables (per word), emptied whenever they change.
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # in characters as written, with room for combining marks fold() would drop
        self.longest_function_word = 2 * max(map(len, self.function_words), default=0)

    def derived(self, name: str, make: Callable[[], T]) -> T:
        """State the matcher derives from the tables (`make()`), made once and made again after
        the tables change."""
        if name not in self.cache:
            self.cache[name] = make()
        return cast(T, self.cache[name])

    def add(self, entry: dict[str, Any]) -> None:
        self.cache.clear()
        attrs = {k: str(v) for k, v in (entry.get("attributes") or {}).items()}
        etype = entry["type"]
        if etype not in get_args(EntityType):
            raise ValueError(
                f"knowledge pack: {entry['id']}: type {etype!r}, not one of {get_args(EntityType)}"
            )
        ent = PackEntity(
            id=entry["id"],
            name=entry["name"],
            type=etype,
            attributes=attrs,
            context=tuple(fold(c) for c in entry.get("context") or ()),
            default=bool(entry.get("default")),
        )
        if ent.id in self.entities:
            raise ValueError(f"duplicate entity id in knowledge pack: {ent.id}")
        self.entities[ent.id] = ent
        for alias in [ent.name, *(entry.get("aliases") or []), *(entry.get("unqualified") or [])]:
            self._add_alias(str(alias), ent.id)
        role = attrs.get("national")
        if role and "country" in attrs:
            self.national.setdefault((role, attrs["country"]), ent.id)
        for alias in entry.get("unqualified") or []:
            if not role:
                raise ValueError(
                    f"knowledge pack: {ent.id}: unqualified names need a national role"
                )
            self.unqualified[name_key(str(alias))] = role
        described = entry.get("described_as")
        if described:
            self.descriptions.append(
                Description(
                    entity_id=ent.id,
                    phrases=tuple(dict.fromkeys(name_key(str(p)) for p in described["phrases"])),
                    when_ids=frozenset(described["when_ids"]),
                    unless_ids=frozenset(described.get("unless_ids") or ()),
                )
            )
        for shared in entry.get("shared_names") or []:
            self.shared[name_key(str(shared["name"]))].append(
                SharedReading(
                    entity_id=ent.id,
                    when_ids=frozenset(shared.get("when_ids") or ()),
                    unless_ids=frozenset(shared.get("unless_ids") or ()),
                )
            )
        for surname in entry.get("short") or []:
            key = name_key(str(surname))
            if len(key) == 1:
                self.strict[key[0]].add(strict_form(str(surname)))
                if ent.id not in self.short[key[0]]:
                    self.short[key[0]].append(ent.id)
                bearers = self.surname_forms[(key[0], strict_form(str(surname)))]
                if ent.id not in bearers:
                    bearers.append(ent.id)

    def _add_alias(self, alias: str, ent_id: str) -> None:
        if is_acronym(alias):
            self.acronyms[alias] = ent_id
            return
        key = name_key(alias)
        plain = alias.replace(".", "") if "." in alias else alias  # U.S. Embassy: US Embassy
        words = TOKEN.findall(plain)
        if len(words) > 1 and is_acronym(words[0]):
            # "UN Security Council": also under the acronym as written (acronym_key), so that
            # the longer name wins over the acronym alone, and only after that very acronym
            led = (acronym_key(words[0]), *name_key(plain)[1:])
            self._register(led, ent_id)
            self.lead_words[led].add(fold(words[0]))
        if len(key) > 1 and words:
            self.lead_words[key].add(fold(words[0]))
        if len(key) == 1:
            strict = strict_form(alias)
            self.strict[key[0]].add(strict)
            owners = self.strict_ids[key[0]].setdefault(strict, [])
            if ent_id not in owners:
                owners.append(ent_id)
        if key:
            self._register(key, ent_id)

    def shadowed_surnames(self) -> dict[tuple[str, str], list[str]]:
        """Surnames that a one-word name of another entry is read as instead: the matcher takes
        a name before a surname, and strict forms fold th/dd alike ("Al Hadath", a TV channel,
        would take "Haddad" from Mohammed al-Haddad). (key, strict form) -> those entries."""
        out = {}
        for (key, form), bearers in self.surname_forms.items():
            others = [e for e in self.strict_ids.get(key, {}).get(form, []) if e not in bearers]
            if others:
                out[(key, form)] = others
        return out

    def add_aliases(self, ent_id: str, aliases: list[str]) -> None:
        """More names for an entry already in the pack (a pack file's `more_aliases`)."""
        self.cache.clear()
        for alias in aliases:
            self._add_alias(alias, ent_id)

    def share_unqualified(self) -> None:
        """Every holder of a national role also goes by the role's unqualified names (after the
        pack's default, which the matcher takes first): "Ministry of Interior" names Tunisia's
        in a Tunisian article, and a search for it finds every country's."""
        for key, role in self.unqualified.items():
            for (holder_role, _), holder in self.national.items():
                if holder_role == role:
                    self._register(key, holder)
        self.cache.clear()

    def add_not_name(self, phrase: str) -> None:
        """A phrase that is no name, though a name is written inside it (lexicon, not_names)."""
        self.cache.clear()
        key = name_key(phrase)
        if len(key) < 2:
            raise ValueError(f"lexicon not_names: {phrase!r} must have two words or more")
        self._register(key, NOT_A_NAME)

    def type_of(self, ent_id: str) -> str:
        return "ORG" if ent_id == NOT_A_NAME else self.entities[ent_id].type

    def _register(self, key: EntityKey, ent_id: str) -> None:
        if ent_id in self.by_key[key]:
            return
        self.by_key[key].append(ent_id)
        if len(key) not in self.lengths[key[0]]:
            self.lengths[key[0]].append(len(key))
            self.lengths[key[0]].sort(reverse=True)


def acronym_key(acronym: str) -> str:
    """The first key of a name that starts with this acronym (no word has it as a key)."""
    return "\x01" + acronym


@dataclass(frozen=True)
class NamedInArticle:
    """A condition on the entities an article names: one of `when_ids` and none of
    `unless_ids` (another mission, another government's leader)."""

    when_ids: frozenset[str]
    unless_ids: frozenset[str]

    def holds(self, named: set[str]) -> bool:
        return bool(named & self.when_ids) and not named & self.unless_ids


@dataclass(frozen=True)
class Description(NamedInArticle):
    """A definite description of a pack entity ("the mission" for UNSMIL), by name keys, that
    names it where the condition holds."""

    entity_id: str
    phrases: tuple[EntityKey, ...]


@dataclass(frozen=True)
class SharedReading(NamedInArticle):
    """Another reading of a name an entry holds by default (knowledge pack, `shared_names`):
    French outlets called Sarraj's government (the GNA) "gouvernement d'union nationale", the name
    of Dbeibah's (the GNU) since 2021. Read so when this entry's acronym follows the name in
    brackets, else where the condition holds."""

    entity_id: str


@dataclass(frozen=True)
class UnitWords:
    """knowledge/units.yaml, by name key (token_keys): a unit word's key -> the English unit
    ("Battalion"), a kind word's -> the kind ("Infantry")."""

    units: dict[str, str]
    kinds: dict[str, str]

    def lookup(self, word: str, table: dict[str, str]) -> str | None:
        """The entry of a word under any of its readings (names.readings: an Arabic word with a
        clitic, the article, a contracted lam)."""
        keys = token_keys(word)
        return (
            next((table[k] for k in readings(word, keys[0]) if k in table), None) if keys else None
        )


def load_units(pack_dir: Path = PACK_DIR) -> UnitWords:
    path = pack_dir / "units.yaml"
    data = read_yaml(path.read_text("utf-8")) if path.exists() else {}

    def table(key: str) -> dict[str, str]:
        return {
            token_keys(str(w))[0]: name for name, ws in (data.get(key) or {}).items() for w in ws
        }

    return UnitWords(units=table("units"), kinds=table("kinds"))


def strict_form(alias: str) -> str:
    """A name's strict form (names.strict_key of its last word, articles aside): what one-word
    names sharing a key are told apart by."""
    words = [w for w in TOKEN.findall(alias) if w.casefold() not in ARTICLES]
    return strict_key(words[-1]) if words else ""


def load_gazetteer(pack_dir: Path = PACK_DIR, files: tuple[str, ...] = ENTITY_FILES) -> Gazetteer:
    lexicon = load_lexicon(pack_dir)
    gaz = Gazetteer(function_words=lexicon.get("function_words", frozenset()))
    more: list[dict[str, Any]] = []  # spellings a file adds to another file's entries
    for name in files:
        path = pack_dir / name
        if path.exists():
            data = read_yaml(path.read_text("utf-8"))
            for entry in data["entities"]:
                gaz.add(entry)
            more += data.get("more_aliases") or []
    for item in more:
        if item["id"] not in gaz.entities:
            raise ValueError(f"knowledge pack: more_aliases for an unknown entry: {item['id']}")
        gaz.add_aliases(item["id"], [str(a) for a in item["aliases"]])
    for phrase in sorted(lexicon.get("not_names", ())):
        gaz.add_not_name(phrase)
    gaz.share_unqualified()
    for key, others in gaz.shared.items():
        if not gaz.by_key.get(key):
            names = ", ".join(r.entity_id for r in others)
            raise ValueError(f"knowledge pack: {names}: a shared name no entry holds: {key}")
    return gaz


def load_topics(pack_dir: Path = PACK_DIR) -> list[dict[str, Any]]:
    path = pack_dir / "topics.yaml"
    return list(read_yaml(path.read_text("utf-8"))["topics"]) if path.exists() else []


def topic_model_spec(pack_dir: Path = PACK_DIR) -> dict[str, Any]:
    """topics.yaml's `model` block (file, blend, what it was trained on), {} when it has none."""
    path = pack_dir / "topics.yaml"
    spec = (read_yaml(path.read_text("utf-8")) or {}).get("model") if path.exists() else None
    return dict(spec or {})


def load_topic_model(pack_dir: Path = PACK_DIR) -> tuple[TopicModel | None, Blend | None]:
    """The text model of the topics and its blend with the rules (topics.yaml, `model`), or
    (None, None) when the pack has none."""
    spec = topic_model_spec(pack_dir)
    if not spec or not (pack_dir / spec["file"]).exists():
        return None, None
    blend = Blend(float(spec["rules_weight"]), float(spec["threshold"]))
    return TopicModel.load(pack_dir / spec["file"]), blend


def load_lexicon(pack_dir: Path = PACK_DIR) -> dict[str, frozenset[str]]:
    """Word lists for names outside the pack: titles, org/place head words, stop words (folded;
    sets: they are only asked whether they hold a word)."""
    path = pack_dir / "lexicon.yaml"
    data = read_yaml(path.read_text("utf-8")) if path.exists() else {}
    # str(): YAML 1.1 reads bare "on" or "no" as booleans.
    lex = {k: frozenset(fold(str(w)) for w in v) for k, v in (data or {}).items()}
    if "given_names" in lex:
        lex["given_names"] = lex["given_names"] | _first_names(lex)
    return lex


def _first_names(lex: dict[str, frozenset[str]]) -> frozenset[str]:
    """gender-guesser's first names of every country, bar the words the lexicon lists as a
    title, a head word or a stop word ("General", "The")."""
    taken = frozenset().union(*(v for k, v in lex.items() if k != "given_names"))
    return _gendered_names() - taken


@lru_cache(maxsize=1)
def _gendered_names() -> frozenset[str]:
    """The names gender-guesser gives a gender (folded). Its "andy" (unisex) entries are left
    out: many are ordinary words. Read once per process (0.7 s)."""
    import gender_guesser.detector as gd

    names = gd.Detector(case_sensitive=False).names
    return frozenset(
        n for name, genders in names.items() if len(n := fold(name)) > 2 and set(genders) - {"andy"}
    )


@dataclass(frozen=True)
class LinkingWeights:
    type_weight: dict[str, float]
    background: frozenset[str]
    background_weight: float
    left_out: frozenset[str] = frozenset()  # entities no profile holds (`profiles_leave_out`)


def load_linking(pack_dir: Path = PACK_DIR) -> LinkingWeights:
    """Weights of shared entities as story evidence (knowledge/linking.yaml)."""
    data = read_yaml((pack_dir / "linking.yaml").read_text("utf-8"))
    left_out: set[str] = set()
    for name in data.get("profiles_leave_out") or []:
        pack_file = read_yaml((pack_dir / name).read_text("utf-8")) or {}
        left_out.update(str(e["id"]) for e in pack_file.get("entities") or [])
    return LinkingWeights(
        type_weight={str(k): float(v) for k, v in data["type_weight"].items()},
        background=frozenset(data["background"]),
        background_weight=float(data["background_weight"]),
        left_out=frozenset(left_out),
    )
