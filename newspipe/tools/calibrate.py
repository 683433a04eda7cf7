"""`newspipe calibrate-topics LABELS...`: each topic's threshold swept on labelled corpora.

The articles are enriched once; then, for every topic and every candidate threshold (the others
held at their present values), the tags are recomputed as the pipeline gives them (the threshold,
blended with the text model's probability when the pack has one, then the relevance rule's
withholding) and scored against the labels, pooled over all the corpora
given. It prints each topic's present and best threshold with their P/R/F1; the taxonomy file is
edited by hand. Blind parts and the sealed corpus are refused: they are scored, never tuned on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from newspipe.contract import TOPIC_IDS, Topic
from newspipe.text import fold, titled
from newspipe.tools.evaluate import (
    _counted,
    _prf,
    labelled_docs,
    refuse_held_out,
    topic_counts,
)
from services.enrich.core import Enricher

GRID = tuple(x / 2 for x in range(2, 41))  # 1.0 .. 20.0 by 0.5


@dataclass(frozen=True)
class _Row:
    gold: frozenset[str]
    scored: list[Topic]
    counts: tuple[int, int] | None  # relevance.located(), None without a rule


def _rows(labels: Iterable[Path], enricher: Enricher, root: Path) -> list[_Row]:
    rows = []
    rule = enricher.relevance
    for labels_file in labels:
        refuse_held_out(labels_file)
        items, doc_of = labelled_docs(labels_file, root, enricher)
        for item in items:
            if "topics" not in item:
                continue
            doc = doc_of[str(root / item["file"])]
            folded, title_end = titled(fold(doc.title) if doc.title else None, fold(doc.body))
            rows.append(
                _Row(
                    gold=frozenset(item["topics"] or ()),
                    scored=enricher.tagger.scores_folded(folded, title_end, doc.entities),
                    counts=rule.located(folded, doc.entities) if rule else None,
                )
            )
    return rows


def _tally(rows: list[_Row], thresholds: dict[str, float], enricher: Enricher) -> Counter[str]:
    """tp/fp/fn per topic with these thresholds (evaluate.topic_counts)."""
    out: Counter[str] = Counter()
    rule = enricher.relevance
    for row in rows:
        tagged = enricher.tagger.passing(row.scored, thresholds)  # with the text model's blend
        if rule is not None and row.counts is not None:
            tagged = rule.decide(row.counts, row.scored, tagged)[1]
        out.update(topic_counts({t.id for t in tagged}, set(row.gold)))
    return out


def _f1(counts: Counter[str], topic: str) -> float:
    return float(_counted(counts, topic)["f1"])


def _triple(counts: Counter[str], topic: str) -> list[int]:
    return [counts[f"{k}:{topic}"] for k in ("tp", "fp", "fn")]


def calibrate(labels: list[Path], root: Path | None = None) -> list[dict[str, object]]:
    """Per topic: the present threshold and the best one (the middle of the best plateau), with
    their tp/fp/fn and F1; a last row for all the best ones together (micro-F1)."""
    enricher = Enricher()
    rows = _rows(labels, enricher, root or Path.cwd())
    present = dict(enricher.tagger.thresholds)
    base = _tally(rows, present, enricher)
    out: list[dict[str, object]] = []
    best_all = dict(present)
    for topic in TOPIC_IDS:
        f1s = [_f1(_tally(rows, {**present, topic: c}, enricher), topic) for c in GRID]
        top = max(f1s)
        plateau = [c for c, f in zip(GRID, f1s, strict=True) if f == top]
        if _f1(base, topic) >= top:
            best = present[topic]
        else:
            # The widest run of best values; its middle, rounded to the grid.
            runs: list[list[float]] = []
            for c in plateau:
                if runs and abs(c - runs[-1][-1] - 0.5) < 1e-9:
                    runs[-1].append(c)
                else:
                    runs.append([c])
            run = max(runs, key=len)
            best = run[len(run) // 2]
        best_all[topic] = best
        out.append(
            {
                "topic": topic,
                "present": present[topic],
                "best": best,
                "before": _triple(base, topic),
                "after": _triple(_tally(rows, {**present, topic: best}, enricher), topic),
            }
        )
    for name, table in (("present", base), ("best", _tally(rows, best_all, enricher))):
        tp, fp, fn = (sum(table[f"{k}:{t}"] for t in TOPIC_IDS) for k in ("tp", "fp", "fn"))
        out.append(
            {"topic": f"MICRO ({name})", "tp_fp_fn": [tp, fp, fn], "f1": _prf(tp, fp, fn)["f1"]}
        )
    return out
