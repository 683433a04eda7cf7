"""Enrich and link in one process, on one core, in CPU seconds: the rates of the code on the
path, and optionally its top costs (cProfile). Run it once per tree to compare two versions of
the code on the same files, in turns (`PYTHONPATH=<tree>`, from that tree):

    .venv/bin/python bench/in_process.py DIR [--docs 3000] [--profile 15]

DIR: article files (e.g. `bench/corpus.py generated 5000 DIR`), the first --docs of them, sorted.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newspipe.contract import EnrichedArticle, RawArticle
from services.enrich.core import Enricher
from services.enrich.link import Linker
from services.ingest.parse import Parsed, parse

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


class CountingTable(dict[str, Any]):
    """The members table as a dict that counts its writes."""

    writes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--profile", type=int, default=0, help="print the N top costs (tottime)")
    args = ap.parse_args()
    raws: list[RawArticle] = []
    for f in sorted(args.folder.iterdir())[: args.docs]:
        parsed = parse(f.name, f.read_bytes(), WHEN)
        if isinstance(parsed, Parsed):
            raws += parsed.articles
    enricher = Enricher()
    for raw in raws[:50]:  # warm the per-word caches as a running worker has them
        enricher.enrich(raw, WHEN)
    start = time.process_time()
    docs: list[EnrichedArticle] = [enricher.enrich(raw, WHEN) for raw in raws]
    enrich_s = time.process_time() - start
    table = CountingTable()
    linker = Linker(table)
    start = time.process_time()
    for doc in docs:
        linker.observe(doc)
    link_s = time.process_time() - start
    n = len(raws)
    print(
        f"{n} articles: enrich {n / enrich_s:,.0f} docs/s, link {n / link_s:,.0f} docs/s, "
        f"both {n / (enrich_s + link_s):,.0f} docs/s (CPU time, one core); "
        f"{table.writes:,} members-table writes (one changelog record each in the worker)"
    )
    if args.profile:
        profile = cProfile.Profile()
        linker = Linker({})
        profile.enable()
        for raw in raws:
            linker.observe(enricher.enrich(raw, WHEN))
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
