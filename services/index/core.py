"""Pure indexing logic: a news.enriched message -> a bulk action; a bulk item -> its outcome.

Document `_id` = article id, so a replay overwrites instead of duplicating. A LinkUpdate becomes a
partial update of the dedup/story fields of an already-indexed document; within one bulk, the
actions on one document are first folded into one (`coalesce`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from newspipe.contract import KIND_LINK_UPDATE, EnrichedArticle, LinkUpdate

Outcome = Literal["ok", "retry", "reject"]
Origin = TypeVar("Origin")
# Item errors that retrying cannot fix (the Confluent ES sink's list); anything 429/5xx is retried.
_RETRYABLE_STATUS = {429, 500, 502, 503, 504}


def to_action(kind: bytes | None, value: bytes, index: str) -> dict[str, Any]:
    """Raises pydantic.ValidationError / ValueError for a message that is not a valid document."""
    if kind == KIND_LINK_UPDATE:
        upd = LinkUpdate.model_validate_json(value)
        return {
            "_op_type": "update",
            "_index": index,
            "_id": upd.id,
            "doc": {
                "dedup": {"duplicate_of": upd.duplicate_of},
                "story": {"id": upd.story_id},
                "link_version": upd.version,
            },
        }
    doc = EnrichedArticle.model_validate_json(value)
    source = doc.model_dump(mode="json")
    return {"_op_type": "index", "_index": index, "_id": doc.id, "_source": source}


def coalesce(
    actions: Sequence[tuple[dict[str, Any], Origin]],
) -> list[tuple[dict[str, Any], list[Origin]]]:
    """The actions of one bulk, in offset order, folded into one per document, each with the
    messages it stands for: the document as Elasticsearch would hold it after all of them.

    A link correction is an update, which Elasticsearch pays for as a read and a re-index of the
    whole document (and a refresh, if the document is not yet searchable). A backfill of 2,000
    real-expanded articles brings 2,503 corrections, and in bulks of 500 a quarter of them
    concern a document of the same bulk. So a correction is merged into the bulk's own index
    action of its document, as Elasticsearch merges a partial document (objects key by key,
    other values replaced), and several corrections of one document are merged into one. A later
    index action replaces all earlier ones, as it would in Elasticsearch. A document's messages
    share one partition (the key is its id), so their order here is the order they were produced
    in."""
    out: dict[str, tuple[dict[str, Any], list[Origin]]] = {}
    for action, origin in actions:
        held = out.get(action["_id"])
        if held is None:
            out[action["_id"]] = (action, [origin])
            continue
        first, origins = held
        origins.append(origin)
        if action["_op_type"] == "update":
            _merge(first["_source" if first["_op_type"] == "index" else "doc"], action["doc"])
        else:  # a later index action replaces the document
            out[action["_id"]] = (action, origins)
    return list(out.values())


def _merge(source: dict[str, Any], doc: dict[str, Any]) -> None:
    """Elasticsearch's partial-document update, in place: objects merged key by key."""
    for key, value in doc.items():
        if isinstance(value, dict) and isinstance(source.get(key), dict):
            _merge(source[key], value)
        else:
            source[key] = value


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return "ok"
    if status in _RETRYABLE_STATUS or status >= 500:
        return "retry"
    return "reject"


def describe_error(status: int, error: object) -> str:
    if isinstance(error, dict):
        return f"{status} {error.get('type')}: {error.get('reason')}"
    return f"{status} {error}"
