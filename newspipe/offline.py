"""`newspipe enrich PATH... --json`: the pipeline's enrichment without Kafka or Elasticsearch.

Files are parsed as ingest would and linked in order as the link stage would (in memory), so the
output is what the pipeline would index for the same files in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newspipe.contract import EnrichedArticle, utcnow
from services.enrich.core import Enricher
from services.enrich.link import Linker
from services.ingest.parse import Rejected, parse
from services.ingest.watch import article_files


def enrich_paths(paths: list[Path], enricher: Enricher | None = None) -> Iterator[EnrichedArticle]:
    enricher = enricher or Enricher()
    store: dict[str, dict[str, Any]] = {}
    linker = Linker(store)
    files = [f for p in paths for f in (article_files(p) if p.is_dir() else [p])]
    docs: dict[str, EnrichedArticle] = {}
    order: list[str] = []
    for path in files:
        raw = parse(str(path), path.read_bytes(), datetime.now(UTC))
        if isinstance(raw, Rejected):
            continue
        decided, _updates = linker.observe(enricher.enrich(raw, utcnow()))
        if decided.id not in docs:
            order.append(decided.id)
        docs[decided.id] = decided
    for doc_id in order:  # final decisions, corrections applied
        rec = store[doc_id]
        doc = docs[doc_id]
        yield doc.model_copy(
            update={
                "dedup": doc.dedup.model_copy(update={"duplicate_of": rec["dup"]}),
                "story": doc.story.model_copy(update={"id": rec["story"]}),
                "link_version": rec["v"],
            }
        )
