"""`newspipe eval LABELS`: the enrichment and linking scored against a labelled corpus, in one
pass over its files (parsed as ingest would, enriched and linked in sorted order as the pipeline
would, `newspipe.tools.offline`). What is scored depends on what the labels carry:

- `entities`: P/R/F1 per type, per language and overall. A gold entity counts as found when a
  predicted entity of the same type has the gold name as its canonical name, one of its pack
  aliases or one of its surface mentions (compared by name key, so transliterations meet);
- `topics`: P/R/F1 per topic, micro and macro F1;
- `on_track`: the relevance verdict, P/R/F1 of the off-track class (the one an analyst filters);
- `story` (and `near_duplicate_of`): pairwise P/R/F1 of near-duplicate groups and of stories,
  with story recall split into same-language and cross-language pairs.

`undated` drops the publication date every file's header gives, for corpora whose real
counterparts carry none (dates then come from the text alone).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from newspipe.contract import TOPIC_IDS, EnrichedArticle
from services.enrich.core import Enricher
from services.enrich.knowledge import read_yaml
from services.enrich.names import name_key

TYPES = ("PERSON", "ORG", "LOC")
LINKS = ("near-duplicate pairs", "story pairs")


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


def _counted(counts: Counter[str], prefix: str) -> dict[str, float]:
    return _prf(counts[f"tp:{prefix}"], counts[f"fp:{prefix}"], counts[f"fn:{prefix}"])


def entity_counts(
    doc: EnrichedArticle, gold: list[dict[str, str]], aliases: dict[str, set[tuple[str, ...]]]
) -> Counter[str]:
    """tp/fp/fn per entity type of one document ("tp:ORG", ...). Named events (type EVENT:
    processes, conferences, operations) are not entities to the labelling rules: not scored."""
    counts: Counter[str] = Counter()
    predicted = [e for e in doc.entities if not e.id.startswith("ambiguous:") and e.type in TYPES]
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
    return counts


def evaluate(
    labels_file: Path, root: Path | None = None, *, undated: bool = False
) -> dict[str, Any]:
    """Every score the labels allow (see the module's text), as a JSON-able dict."""
    root = root or Path.cwd()
    enricher = Enricher()
    items, doc_of = labelled_docs(labels_file, root, enricher, undated=undated)
    out: dict[str, Any] = {"articles": len(items)}
    if any("entities" in i for i in items):
        out.update(_content_scores(items, doc_of, root, _aliases(enricher)))
    if any("on_track" in i for i in items):
        out["off_track"] = _relevance_scores(items, doc_of, root)
    if any("story" in i for i in items):
        out.update(_link_scores(items, doc_of, root))
    return out


class BlindRefused(ValueError):
    """A blind or sealed part given to a tool that tunes or trains on what it reads."""


def is_held_out(labels_file: Path) -> bool:
    """A blind part (a `blind` folder) or the sealed corpus: scored, never tuned or trained on."""
    return "blind" in labels_file.parts or "real-sealed" in labels_file.parts


def refuse_held_out(labels_file: Path) -> None:
    if is_held_out(labels_file):
        raise BlindRefused(f"{labels_file}: a blind or sealed part is scored, never tuned on")


def labelled_items(labels_file: Path) -> list[dict[str, Any]]:
    """The labelled articles of a labels file (a mapping with `articles`, or a bare list)."""
    labelled = read_yaml(labels_file.read_text("utf-8"))
    return list(labelled["articles"] if isinstance(labelled, dict) else labelled)


def labelled_docs(
    labels_file: Path, root: Path, enricher: Enricher, *, undated: bool = False
) -> tuple[list[dict[str, Any]], dict[str, EnrichedArticle]]:
    """The labels' articles, and the document the pipeline makes of each (by the file's path
    under `root`): the files parsed, enriched and linked in sorted order."""
    from newspipe.tools.offline import enrich_files

    items = labelled_items(labels_file)
    files = sorted((root / i["file"] for i in items), key=lambda p: p.name)
    found, ids = enrich_files(files, enricher, undated=undated)
    docs = {d.id: d for d in found}
    return items, {str(root / i["file"]): docs[ids[root / i["file"]]] for i in items}


def topic_counts(pred: set[str], gold: set[str]) -> Counter[str]:
    """tp/fp/fn per topic of one document ("tp:ceasefire", ...)."""
    counts: Counter[str] = Counter()
    for t in TOPIC_IDS:
        counts[f"tp:{t}"] += t in pred and t in gold
        counts[f"fp:{t}"] += t in pred and t not in gold
        counts[f"fn:{t}"] += t in gold and t not in pred
    return counts


def _content_scores(
    items: list[dict[str, Any]],
    doc_of: dict[str, EnrichedArticle],
    root: Path,
    aliases: dict[str, set[tuple[str, ...]]],
) -> dict[str, Any]:
    ents: Counter[str] = Counter()
    by_lang: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    for item in items:
        doc = doc_of[str(root / item["file"])]
        counts = entity_counts(doc, item.get("entities") or [], aliases)
        ents.update(counts)
        lang = item.get("language", "?")
        for key, n in counts.items():
            by_lang[f"{key.split(':')[0]}:{lang}"] += n
        topics.update(topic_counts({t.id for t in doc.topics}, set(item.get("topics") or [])))
    entities = {t: _counted(ents, t) for t in TYPES}
    entities["overall"] = _prf(*(sum(ents[f"{k}:{t}"] for t in TYPES) for k in ("tp", "fp", "fn")))
    langs = sorted({str(i.get("language", "?")) for i in items})
    per_topic = {t: _counted(topics, t) for t in TOPIC_IDS}
    used = [v["f1"] for v in per_topic.values() if v["tp"] + v["fn"] > 0]
    return {
        "entities": entities,
        "entities_by_language": {lang: _counted(by_lang, lang) for lang in langs},
        "topics": per_topic,
        "topic_micro": _prf(
            *(sum(topics[f"{k}:{t}"] for t in TOPIC_IDS) for k in ("tp", "fp", "fn"))
        ),
        "topic_macro_f1": sum(used) / len(used) if used else 0.0,
    }


def _relevance_scores(
    items: list[dict[str, Any]], doc_of: dict[str, EnrichedArticle], root: Path
) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for item in items:
        if "on_track" not in item:
            continue
        verdict = doc_of[str(root / item["file"])].relevance
        off_pred = verdict is not None and not verdict.on_track
        off_gold = not item["on_track"]
        counts["tp"] += off_pred and off_gold
        counts["fp"] += off_pred and not off_gold
        counts["fn"] += off_gold and not off_pred
    return _prf(counts["tp"], counts["fp"], counts["fn"])


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


def _link_scores(
    items: list[dict[str, Any]], doc_of: dict[str, EnrichedArticle], root: Path
) -> dict[str, Any]:
    parent = {
        str(root / i["file"]): (
            str(root / i["near_duplicate_of"]) if i.get("near_duplicate_of") else None
        )
        for i in items
    }
    language = {str(root / i["file"]): i.get("language", "?") for i in items}
    gold_dup = {f: _root(f, parent) for f in parent}
    gold_story = {str(root / i["file"]): i["story"] for i in items}
    pred_dup = {f: doc_of[f].dedup.duplicate_of or doc_of[f].id for f in parent}
    pred_story = {f: doc_of[f].story.id for f in parent}
    out: dict[str, Any] = {}
    for name, gold, pred in zip(LINKS, (gold_dup, gold_story), (pred_dup, pred_story), strict=True):
        g, p = _pairs(gold), _pairs(pred)
        out[name] = _prf(len(g & p), len(p - g), len(g - p))
        if name == "story pairs":
            for kind, same in (("same-language", True), ("cross-language", False)):
                gk = {pair for pair in g if (len({language[f] for f in pair}) == 1) == same}
                out[name][f"{kind} recall"] = len(gk & p) / len(gk) if gk else 0.0
                out[name][f"{kind} pairs"] = len(gk)
    return out


def pool(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Several corpora's scores as one: their tp/fp/fn summed (each corpus was linked on its own,
    so no pair crosses corpora), P/R/F1 recomputed; story recall from the pairs found."""

    def summed(scores: list[dict[str, Any]]) -> dict[str, Any]:
        return _prf(*(sum(int(v[k]) for v in scores) for k in ("tp", "fp", "fn")))

    def table(key: str) -> dict[str, Any]:
        names = dict.fromkeys(n for r in results if key in r for n in r[key])
        return {n: summed([r[key][n] for r in results if n in r.get(key, {})]) for n in names}

    out: dict[str, Any] = {"articles": sum(r["articles"] for r in results)}
    if any("entities" in r for r in results):
        out["entities"] = table("entities")
        out["entities_by_language"] = table("entities_by_language")
        out["topics"] = table("topics")
        out["topic_micro"] = summed([r["topic_micro"] for r in results if "topic_micro" in r])
        used = [v["f1"] for v in out["topics"].values() if v["tp"] + v["fn"] > 0]
        out["topic_macro_f1"] = sum(used) / len(used) if used else 0.0
    if any("off_track" in r for r in results):
        out["off_track"] = summed([r["off_track"] for r in results if "off_track" in r])
    linked = [r for r in results if "story pairs" in r]
    if linked:
        for name in LINKS:
            out[name] = summed([r[name] for r in linked])
        story = out["story pairs"]
        for kind in ("same-language", "cross-language"):
            pairs = sum(r["story pairs"][f"{kind} pairs"] for r in linked)
            found = sum(
                round(r["story pairs"][f"{kind} recall"] * r["story pairs"][f"{kind} pairs"])
                for r in linked
            )
            story[f"{kind} pairs"] = pairs
            story[f"{kind} recall"] = found / pairs if pairs else 0.0
    return out


def render(result: dict[str, Any]) -> str:
    lines = [f"articles: {result['articles']}"]
    row = "  {:<24} {:.3f}  {:.3f}  {:.3f} {:>4} {:>3} {:>3}"

    def table(title: str, rows: list[tuple[str, dict[str, float]]]) -> None:
        lines.append(f"{title:<26} P      R      F1    tp  fp  fn")
        for name, v in rows:
            lines.append(
                row.format(name, v["precision"], v["recall"], v["f1"], v["tp"], v["fp"], v["fn"])
            )

    if "entities" in result:
        table("entities", list(result["entities"].items()))
        table("entities by language", list(result["entities_by_language"].items()))
        table("topics", [*result["topics"].items(), ("MICRO", result["topic_micro"])])
        lines.append(f"  topic macro-F1 {result['topic_macro_f1']:.3f}")
    if "off_track" in result:
        table("relevance", [("off-track", result["off_track"])])
    if "story pairs" in result:
        table("links", [(name, result[name]) for name in LINKS])
        s = result["story pairs"]
        lines.append(
            f"  story recall: same-language {s['same-language recall']:.3f} "
            f"({s['same-language pairs']} pairs), cross-language "
            f"{s['cross-language recall']:.3f} ({s['cross-language pairs']} pairs)"
        )
    return "\n".join(lines)
