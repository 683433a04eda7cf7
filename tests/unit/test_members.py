"""The member record (the link stage's durable state) and the MinHash/LSH parameters it relies on:
records round-trip through their JSON-able form, records written before the schema field are read
as version 1, an unknown version is refused, and a wrong LSH split is refused at import."""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from newspipe.contract import Entity
from services.enrich import dedup
from services.enrich.core import Enricher
from services.enrich.knowledge import load_linking
from services.enrich.link import Linker
from services.enrich.members import (
    KNOWN_SCHEMAS,
    SCHEMA_VERSION,
    MemberRecord,
    UnknownSchemaError,
    member_record,
    profile,
)
from tests.conftest import linked_article, raw_article

WHEN = datetime(2023, 7, 1, tzinfo=UTC)


def _record() -> MemberRecord:
    doc = linked_article(
        "the joint military commission met in Ghadames " * 5,
        "a.txt",
        WHEN,
        [Entity(id="ghadames", name="Ghadames", type="LOC", mentions=["Ghadames"], count=2)],
        {"actors": ["x"], "lead_actors": [], "places": ["ghadames"], "dates": ["--11-03"]},
    )
    return member_record(doc, load_linking())


# A record as the code before the schema field wrote it (keys and value types of version 1).
UNVERSIONED: dict[str, Any] = {
    "ts": "2023-07-01T00:00:00+00:00",
    "day": 19539.0,
    "sig": "AAAAAA==",
    "n": 12,
    "actors": ["a", "b"],
    "lead_actors": ["a"],
    "places": ["ghadames"],
    "dates": ["--11-03"],
    "ents": {"ghadames": 1.693},
    "dup": None,
    "story": "f" * 64,
    "v": 2,
    "sources": [{"path": "a.txt"}],
}


def test_record_round_trips_through_json() -> None:
    rec = _record()
    stored = json.loads(json.dumps(rec.to_dict()))  # what the faust table gives back
    assert stored["schema"] == SCHEMA_VERSION
    assert MemberRecord.from_dict(stored) == rec


def test_unversioned_record_is_read_as_version_1() -> None:
    rec = MemberRecord.from_dict(UNVERSIONED)
    assert (rec.first_seen, rec.shingles, rec.duplicate_of, rec.version) == (
        "2023-07-01T00:00:00+00:00",
        12,
        None,
        2,
    )
    assert rec.profile == {"ghadames": 1.693} and rec.actors == ("a", "b")
    assert rec.sentences == ""  # version 1 has no sentence sketch: only MinHash rules apply
    # Rewritten in the current layout, everything version 1 held unchanged.
    assert rec.to_dict() == {
        **{"schema": SCHEMA_VERSION, **UNVERSIONED},
        **{"sents": "", "topics": [], "years": [], "figs": []},
    }


def test_version_2_record_is_read_without_figures() -> None:
    v2 = {**UNVERSIONED, "schema": 2, "sents": "", "topics": ["ceasefire"], "years": ["2020"]}
    rec = MemberRecord.from_dict(v2)
    assert rec.figures == () and rec.topics == ("ceasefire",)
    assert rec.to_dict() == {**v2, "schema": SCHEMA_VERSION, "figs": []}


def test_version_2_record_needs_its_sentence_sketch() -> None:
    with pytest.raises(ValueError, match="lacks 'sents'"):
        MemberRecord.from_dict({**UNVERSIONED, "schema": 2})


@pytest.mark.parametrize("found", [4, 0, "1", True, None])
def test_unknown_schema_version_is_refused(found: object) -> None:
    with pytest.raises(UnknownSchemaError) as err:
        MemberRecord.from_dict({**UNVERSIONED, "schema": found})
    message = str(err.value)
    assert f"version {found!r} is not known" in message
    assert "reads versions " + ", ".join(map(str, KNOWN_SCHEMAS)) in message


def test_linker_refuses_a_table_holding_an_unknown_schema() -> None:
    with pytest.raises(ValueError, match="schema version 9 is not known"):
        Linker({"f" * 64: {**UNVERSIONED, "schema": 9}})


def test_record_lacking_a_field_is_refused_by_name() -> None:
    data = {k: v for k, v in UNVERSIONED.items() if k != "sig"}
    with pytest.raises(ValueError, match="lacks 'sig'"):
        MemberRecord.from_dict(data)


def test_lsh_split_covers_the_signature() -> None:
    assert dedup.BANDS * dedup.ROWS == dedup.NUM_PERM
    assert len(dedup.signature("one two three four five six")[0]) == dedup.NUM_PERM
    dedup.check_lsh_split(60, 20, 3)


def _datasketch_signature(grams: list[bytes]) -> list[int]:
    """The signature as datasketch computes it (the library the stored signatures came from)."""
    import xxhash
    from datasketch import MinHash  # a test dependency only: it imports scipy

    mh = MinHash(
        num_perm=dedup.NUM_PERM, seed=1, scheme="affine32", hashfunc=xxhash.xxh32_intdigest
    )
    mh.update_batch(grams)
    return [int(v) for v in mh.hashvalues]


@pytest.mark.parametrize("words", [0, 1, 4, 5, 6, 40, 9000, 30000])
def test_the_signature_is_datasketchs(words: int) -> None:
    """dedup computes datasketch's MinHash itself (no scipy in the workers): the same values for
    every size, the empty body and more shingles than one chunk of the computation included."""
    rng = random.Random(words)
    vocabulary = [f"w{i}" for i in range(500)] + ["ليبيا", "قوات", "armée", "Haftar's"]
    body = " ".join(rng.choice(vocabulary) for _ in range(words))
    grams = dedup.shingles(body)
    assert words < 40 or len(grams) > 0.5 * words  # enough distinct shingles to mean something
    assert dedup.signature(body) == (_datasketch_signature(grams), len(grams))


def test_the_signature_leaves_the_workers_without_scipy() -> None:
    """Importing the enrich and link code and loading the knowledge pack (the topics' text model
    included) imports neither datasketch, scipy nor scikit-learn (a fresh interpreter: this test
    process may have imported them already)."""
    code = (
        "import sys, services.enrich.app, services.enrich.link, services.enrich.core as c; "
        "assert c.Enricher().tagger.model is not None; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'datasketch', 'scipy', 'sklearn'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("bands", "rows"), [(20, 4), (7, 8), (0, 60), (-20, -3)])
def test_a_wrong_lsh_split_is_refused(bands: int, rows: int) -> None:
    with pytest.raises(ValueError, match=f"{bands} bands x {rows} rows"):
        dedup.check_lsh_split(60, bands, rows)


def test_a_wrong_lsh_split_fails_the_import() -> None:
    """The check runs when dedup.py is imported, whatever python's -O flag (not an assert)."""
    source = importlib.util.find_spec("services.enrich.dedup")
    assert source is not None and source.origin is not None
    with open(source.origin, encoding="utf-8") as f:
        text = f.read().replace("BANDS, ROWS = 20, 3", "BANDS, ROWS = 20, 4")
    with pytest.raises(ValueError, match="20 bands x 4 rows = 80 values"):
        exec(compile(text, source.origin, "exec"), {"__name__": "dedup_copy"})


def test_names_of_a_left_out_pack_file_are_found_but_stay_out_of_story_profiles() -> None:
    """linking.yaml's `profiles_leave_out`: tune-names.yaml's entities (the long tail the tune
    articles named) are found and indexed, but weigh nothing in a story profile."""
    weights = load_linking()
    assert "al-hol-camp" in weights.left_out and "khalifa-haftar" not in weights.left_out
    doc = Enricher().enrich(
        raw_article(
            "Khalifa Haftar's forces said families of ISIS fighters would be returned from the "
            "al-Hol camp in Syria, where Libyan women and children have been held since 2019."
        ),
        datetime(2024, 1, 1, tzinfo=UTC),
    )
    found = {e.id for e in doc.entities}
    assert {"al-hol-camp", "khalifa-haftar"} <= found
    weighed = profile(doc.entities, weights)
    assert "khalifa-haftar" in weighed and "al-hol-camp" not in weighed
