"""Pure indexing logic: a news.enriched message -> a bulk action; a bulk item -> its outcome.

Document `_id` = article id, so a replay overwrites instead of duplicating. A LinkUpdate becomes a
partial update of the dedup/story fields of an already-indexed document.
"""

from __future__ import annotations

from typing import Any, Literal

from newspipe.contract import KIND_LINK_UPDATE, EnrichedArticle, LinkUpdate

Outcome = Literal["ok", "retry", "reject"]
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
