"""`newspipe eval GOLD`: entity precision/recall/F1 (per type and overall) and topic micro/macro F1
of the offline enrichment against a gold file (tests/data/gold/gold.yaml's format).

An entity counts as found when a predicted entity of the same type has the gold name as its
canonical name or as one of its pack aliases or surface mentions (compared by name key, so
transliterations meet); names outside the pack count by their surface form.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from newspipe.contract import TOPIC_IDS, EnrichedArticle, RawArticle
from services.enrich.core import Enricher
from services.enrich.names import name_key
from services.ingest.parse import parse

TYPES = ("PERSON", "ORG", "LOC")


def _aliases(enricher: Enricher) -> dict[str, set[tuple[str, ...]]]:
    out: dict[str, set[tuple[str, ...]]] = {}
    for key, ids in enricher.gaz.by_key.items():
        for i in ids:
            out.setdefault(i, set()).add(key)
    for acr, i in enricher.gaz.acronyms.items():
        out.setdefault(i, set()).add((acr,))
    return out


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def _entity_counts(
    doc: EnrichedArticle,
    gold: list[dict[str, str]],
    aliases: dict[str, set[tuple[str, ...]]],
    counts: Counter[str],
) -> None:
    predicted = [e for e in doc.entities if not e.id.startswith("ambiguous:")]
    keys = [
        aliases.get(e.id, set()) | {name_key(e.name)} | {name_key(m) for m in e.mentions}
        for e in predicted
    ]
    matched: set[int] = set()
    for g in gold:
        gk = name_key(g["name"])
        hit = next(
            (
                i
                for i, e in enumerate(predicted)
                if i not in matched
                and e.type == g["type"]
                and (gk in keys[i] or (g["name"],) in keys[i])
            ),
            None,
        )
        if hit is None:
            counts[f"fn:{g['type']}"] += 1
        else:
            matched.add(hit)
            counts[f"tp:{g['type']}"] += 1
    for i, e in enumerate(predicted):
        if i not in matched:
            counts[f"fp:{e.type}"] += 1


def evaluate(gold_file: Path, root: Path | None = None) -> dict[str, Any]:
    root = root or Path.cwd()
    enricher = Enricher()
    aliases = _aliases(enricher)
    articles = yaml.safe_load(gold_file.read_text("utf-8"))["articles"]
    counts: Counter[str] = Counter()
    topic_counts: Counter[str] = Counter()
    for item in articles:
        path = root / item["file"]
        raw = parse(path.name, path.read_bytes(), datetime.now(UTC))
        assert isinstance(raw, RawArticle), f"{path}: {raw}"
        doc = enricher.enrich(raw, datetime.now(UTC))
        _entity_counts(doc, item.get("entities") or [], aliases, counts)
        pred, gold = {t.id for t in doc.topics}, set(item.get("topics") or [])
        for t in TOPIC_IDS:
            topic_counts[f"tp:{t}"] += t in pred and t in gold
            topic_counts[f"fp:{t}"] += t in pred and t not in gold
            topic_counts[f"fn:{t}"] += t in gold and t not in pred
    ent = {t: _prf(counts[f"tp:{t}"], counts[f"fp:{t}"], counts[f"fn:{t}"]) for t in TYPES}
    ent["overall"] = _prf(*(sum(counts[f"{k}:{t}"] for t in TYPES) for k in ("tp", "fp", "fn")))
    per_topic = {
        t: _prf(topic_counts[f"tp:{t}"], topic_counts[f"fp:{t}"], topic_counts[f"fn:{t}"])
        for t in TOPIC_IDS
    }
    micro = _prf(*(sum(topic_counts[f"{k}:{t}"] for t in TOPIC_IDS) for k in ("tp", "fp", "fn")))
    used = [v["f1"] for t, v in per_topic.items() if v["tp"] + v["fn"] > 0]
    return {
        "articles": len(articles),
        "entities": ent,
        "topics": per_topic,
        "topic_micro": micro,
        "topic_macro_f1": sum(used) / len(used) if used else 0.0,
    }


def render(result: dict[str, Any]) -> str:
    lines = [f"articles: {result['articles']}", "entities          P      R      F1    tp  fp  fn"]
    for name, v in result["entities"].items():
        lines.append(
            f"  {name:<12} {v['precision']:.3f}  {v['recall']:.3f}  {v['f1']:.3f} "
            f"{v['tp']:>4} {v['fp']:>3} {v['fn']:>3}"
        )
    lines.append("topics            P      R      F1    tp  fp  fn")
    for name, v in [*result["topics"].items(), ("MICRO", result["topic_micro"])]:
        lines.append(
            f"  {name:<24} {v['precision']:.3f}  {v['recall']:.3f}  {v['f1']:.3f} "
            f"{v['tp']:>4} {v['fp']:>3} {v['fn']:>3}"
        )
    lines.append(f"  topic macro-F1 {result['topic_macro_f1']:.3f}")
    return "\n".join(lines)


def _pairs(groups: dict[str, str]) -> set[frozenset[str]]:
    """All unordered pairs of items sharing a group label."""
    by: dict[str, list[str]] = {}
    for item, label in groups.items():
        by.setdefault(label, []).append(item)
    return {
        frozenset((a, b))
        for members in by.values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    }


def _root(item: str, parent: dict[str, str | None]) -> str:
    while parent.get(item):
        item = parent[item]  # type: ignore[assignment]
    return item


def evaluate_links(labels_file: Path, root: Path | None = None) -> dict[str, Any]:
    """Pairwise P/R/F1 of near-duplicate groups and of stories, files taken in sorted order."""
    from newspipe.tools.offline import enrich_files

    root = root or Path.cwd()
    items = yaml.safe_load(labels_file.read_text("utf-8"))["articles"]
    files = sorted((root / i["file"] for i in items), key=lambda p: p.name)
    found, by_path = enrich_files(files)
    docs = {d.id: d for d in found}
    ids = {str(f): doc_id for f, doc_id in by_path.items()}  # exact copies share one document
    parent = {
        str(root / i["file"]): (
            str(root / i["near_duplicate_of"]) if i.get("near_duplicate_of") else None
        )
        for i in items
    }
    gold_dup = {f: _root(f, parent) for f in parent}
    gold_story = {str(root / i["file"]): i["story"] for i in items}
    pred_dup = {f: docs[ids[f]].dedup.duplicate_of or ids[f] for f in parent}
    pred_story = {f: docs[ids[f]].story.id for f in parent}
    out: dict[str, Any] = {"articles": len(items)}
    for name, gold, pred in (
        ("near-duplicate pairs", gold_dup, pred_dup),
        ("story pairs", gold_story, pred_story),
    ):
        g, p = _pairs(gold), _pairs(pred)
        out[name] = _prf(len(g & p), len(p - g), len(g - p))
    return out


def render_links(result: dict[str, Any]) -> str:
    lines = [
        f"articles: {result['articles']}",
        "                        P      R      F1    tp  fp  fn",
    ]
    for name in ("near-duplicate pairs", "story pairs"):
        v = result[name]
        lines.append(
            f"  {name:<20} {v['precision']:.3f}  {v['recall']:.3f}  {v['f1']:.3f} "
            f"{v['tp']:>4} {v['fp']:>3} {v['fn']:>3}"
        )
    return "\n".join(lines)
