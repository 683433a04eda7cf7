"""`newspipe calibrate-topics LABELS...`: each topic's threshold swept on labelled corpora.

The articles are enriched once; then, for every topic and every candidate threshold (the others
held at their present values), the tags are recomputed as the pipeline gives them (the threshold,
then the relevance rule's withholding) and scored against the labels, pooled over all the corpora
given. It prints each topic's present and best threshold with their P/R/F1; the taxonomy file is
edited by hand. Blind parts (a path with a `blind` folder) are refused: they are scored, never
tuned on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from newspipe.contract import TOPIC_IDS, Topic
from newspipe.text import fold, titled
from services.enrich.core import Enricher
from services.enrich.knowledge import read_yaml

GRID = tuple(x / 2 for x in range(2, 41))  # 1.0 .. 20.0 by 0.5


@dataclass(frozen=True)
class _Row:
    gold: frozenset[str]
    scored: list[Topic]
    counts: tuple[int, int] | None  # relevance.located(), None without a rule


class BlindRefused(ValueError):
    pass


def _rows(labels: Iterable[Path], enricher: Enricher, root: Path) -> list[_Row]:
    from newspipe.tools.offline import enrich_files

    rows = []
    for labels_file in labels:
        if "blind" in labels_file.parts:
            raise BlindRefused(f"{labels_file}: a blind part is scored, never tuned on")
        items = [i for i in read_yaml(labels_file.read_text("utf-8"))["articles"] if "topics" in i]
        files = sorted((root / i["file"] for i in items), key=lambda p: p.name)
        found, ids = enrich_files(files, enricher)
        docs = {d.id: d for d in found}
        for item in items:
            doc = docs[ids[root / item["file"]]]
            folded, title_end = titled(fold(doc.title) if doc.title else None, fold(doc.body))
            rule = enricher.relevance
            rows.append(
                _Row(
                    gold=frozenset(item.get("topics") or ()),
                    scored=enricher.tagger.scores_folded(folded, title_end, doc.entities),
                    counts=rule.located(folded, doc.entities) if rule else None,
                )
            )
    return rows


def _tally(
    rows: list[_Row], thresholds: dict[str, float], enricher: Enricher
) -> dict[str, list[int]]:
    """[tp, fp, fn] per topic with these thresholds."""
    out = {t: [0, 0, 0] for t in TOPIC_IDS}
    rule = enricher.relevance
    for row in rows:
        tagged = [t for t in row.scored if t.score >= thresholds.get(t.id, float("inf"))]
        if rule is not None and row.counts is not None:
            tagged = rule.decide(row.counts, row.scored, tagged)[1]
        pred = {t.id for t in tagged}
        for t in TOPIC_IDS:
            out[t][0] += t in pred and t in row.gold
            out[t][1] += t in pred and t not in row.gold
            out[t][2] += t in row.gold and t not in pred
    return out


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


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
        f1s = []
        for c in GRID:
            tp, fp, fn = _tally(rows, {**present, topic: c}, enricher)[topic]
            f1s.append(_f1(tp, fp, fn))
        top = max(f1s)
        plateau = [c for c, f in zip(GRID, f1s, strict=True) if f == top]
        if _f1(*base[topic]) >= top:
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
        after = _tally(rows, {**present, topic: best}, enricher)[topic]
        out.append(
            {
                "topic": topic,
                "present": present[topic],
                "best": best,
                "before": base[topic],
                "after": after,
            }
        )
    for name, table in (("present", base), ("best", _tally(rows, best_all, enricher))):
        tp, fp, fn = (sum(v[k] for v in table.values()) for k in range(3))
        out.append({"topic": f"MICRO ({name})", "tp_fp_fn": [tp, fp, fn], "f1": _f1(tp, fp, fn)})
    return out
