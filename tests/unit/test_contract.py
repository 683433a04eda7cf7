"""The contract and the index template agree: every field of the document is mapped (the
mapping is strict, so a field missing there would send every document to the dead-letter topic)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from newspipe.contract import EnrichedArticle
from services.index.schema import build_template


def _fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        ann: Any = field.annotation
        inner = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)]
        nested = next((a for a in inner if issubclass(a, BaseModel)), None)
        if nested and name != "attributes":
            out |= _fields(nested, f"{prefix}{name}.")
        else:
            out.add(prefix + name)
    return out


def _mapped(props: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for name, spec in props.items():
        if "properties" in spec and name != "attributes":
            out |= _mapped(spec["properties"], f"{prefix}{name}.") | {prefix + name}
        else:
            out.add(prefix + name)
    return out


def test_every_document_field_is_mapped() -> None:
    props = build_template("x-*", languages=False)["template"]["mappings"]["properties"]
    assert _fields(EnrichedArticle) - _mapped(props) == set()


def test_language_subfields_only_when_offered() -> None:
    plain = build_template("x-*", languages=False)["template"]["mappings"]["properties"]
    rich = build_template("x-*", languages=True)["template"]["mappings"]["properties"]
    assert "ar" not in plain["body"].get("fields", {})
    assert rich["body"]["fields"]["ar"] == {"type": "text", "analyzer": "arabic"}
    assert rich["title"]["fields"]["fr"]["analyzer"] == "french"


def test_event_evidence_keys_are_mapped() -> None:
    from datetime import UTC, datetime

    from services.enrich.core import Enricher
    from tests.conftest import raw_article

    raw = raw_article("General Haddad met General Nadhouri in Sirte on July 25, 2023.")
    event = Enricher().enrich(raw, datetime.now(UTC)).event
    props = build_template("x-*", languages=False)["template"]["mappings"]["properties"]
    assert set(event) <= set(props["event"]["properties"])


def test_article_id_must_be_a_body_hash() -> None:
    import pydantic

    from newspipe.contract import RawArticle

    raw = {"title": None, "body": "b", "source": {"path": "p"}, "ingested_at": "2024-01-01T00:00Z"}
    with pytest.raises(pydantic.ValidationError, match="id"):
        RawArticle.model_validate({**raw, "id": "not-a-hash"})
    assert RawArticle.model_validate({**raw, "id": "a" * 64}).id == "a" * 64
