"""`newspipe enrich PATH... --json`: the pipeline's enrichment without Kafka or Elasticsearch.

Files are parsed as ingest would and linked in order as the link stage would (in memory), so the
output is what the pipeline would index for the same files in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from newspipe.contract import EnrichedArticle, utcnow
from services.enrich.core import Enricher
from services.enrich.link import Linker
from services.ingest.parse import Rejected, parse
from services.ingest.watch import named_article_files


def enrich_files(
    files: list[Path],
    enricher: Enricher | None = None,
    names: list[str] | None = None,
    *,
    undated: bool = False,
) -> tuple[list[EnrichedArticle], dict[Path, str]]:
    """Documents in first-seen order with their final decisions (corrections applied), and the
    article id of each parsed file (exact copies share one id, hence one document). `names`
    (default: the paths as given) become `source.path`; `undated` drops the publication date a
    file's header gives (to score what the text alone yields)."""
    enricher = enricher or Enricher()
    linker = Linker({})
    docs: dict[str, EnrichedArticle] = {}
    ids: dict[Path, str] = {}
    for path, name in zip(files, names or [str(f) for f in files], strict=True):
        parsed = parse(name, path.read_bytes(), datetime.now(UTC))
        if isinstance(parsed, Rejected):
            continue
        for raw in parsed.articles:
            if undated:
                raw = raw.model_copy(update={"published_at": None})
            decided, _updates = linker.observe(enricher.enrich(raw, utcnow()))
            docs.setdefault(decided.id, decided)
            ids[path] = decided.id
    return [linker.decided(doc) for doc in docs.values()], ids


def enrich_paths(paths: list[Path], enricher: Enricher | None = None) -> Iterator[EnrichedArticle]:
    """As ingest names them: a file found in a folder by the path relative to that folder."""
    pairs = named_article_files(paths)
    yield from enrich_files([f for f, _ in pairs], enricher, [n.as_posix() for _, n in pairs])[0]
