"""`newspipe train-topics LABELS...`: the topics' text model (services/enrich/topicmodel.py),
trained on labelled corpora and written into the knowledge pack.

Each labelled article's file is parsed as ingest reads it, its title and body folded and joined
as the tagger sees them; its labelled topics are the targets (an article with `topics: []` is a
negative for every topic). One logistic regression per topic (scikit-learn, a dev dependency:
the workers only read the weights), classes balanced, C = 10, chosen by leaving one real tune
corpus out at a time (ADR 0012). Blind and sealed parts are refused, and a tune article that a
blind or sealed part also holds (the same URL or the same text: a few pages were picked twice by
different helpers) is left out, so that the model never saw a blind text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np

from newspipe.contract import TOPIC_IDS
from newspipe.text import fold, titled
from newspipe.tools.evaluate import is_held_out, labelled_items, refuse_held_out
from services.enrich.topicmodel import BITS, TopicModel, features, vector
from services.ingest.parse import Parsed, parse

# Also the on-track head's (the labelled verdicts, one more regression on the same features):
# leaving one tune corpus out at a time, C = 10, 30 and 100 gave its off-track F1 within 0.005
# of each other (ADR 0015).
C = 10.0
_WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def held_out(data: Path) -> tuple[set[str], set[str]]:
    """(URLs, text digests) of every article in a blind or sealed part under `data`. Only the
    labels' `url` fields and the files' bytes are read, to leave those articles out."""
    urls: set[str] = set()
    digests: set[str] = set()
    for labels_file in sorted(data.rglob("labels.yaml")):
        if not is_held_out(labels_file):
            continue
        for item in labelled_items(labels_file):
            if item.get("url"):
                urls.add(str(item["url"]))
            path = data.parent.parent / item["file"]
            if path.exists():
                digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    return urls, digests


class Examples(NamedTuple):
    texts: list[str]  # folded title and body, as the tagger reads them
    targets: list[set[str]]  # labelled topics
    skipped: int  # articles left out: a blind or sealed part also holds them
    on_track: list[bool | None]  # the labelled verdict, None where the labels give none


def examples(labels: Iterable[Path], root: Path) -> Examples:
    """The labelled articles of `labels` as the model reads them (see Examples)."""
    urls, digests = held_out(root / "tests" / "data")
    texts: list[str] = []
    targets: list[set[str]] = []
    on_track: list[bool | None] = []
    skipped = 0
    for labels_file in labels:
        refuse_held_out(labels_file)
        for item in labelled_items(labels_file):
            if "topics" not in item:
                continue
            raw = (root / item["file"]).read_bytes()
            if str(item.get("url")) in urls or hashlib.sha256(raw).hexdigest() in digests:
                skipped += 1
                continue
            parsed = parse(Path(item["file"]).name, raw, _WHEN)
            if not isinstance(parsed, Parsed):
                continue
            for article in parsed.articles:
                body = fold(article.body)
                text, _ = titled(fold(article.title) if article.title else None, body)
                texts.append(text)
                targets.append(set(item["topics"] or ()))
                verdict = item.get("on_track")
                on_track.append(None if verdict is None else bool(verdict))
    return Examples(texts, targets, skipped, on_track)


def train(
    texts: list[str], targets: list[set[str]], on_track: list[bool | None] | None = None
) -> TopicModel:
    """The topics' regressions, and with `on_track` (parallel to `texts`) the on-track head,
    trained on the articles whose verdict is labelled."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    feats = [features(t) for t in texts]
    df = np.zeros(2**BITS)
    for ids, _ in feats:
        df[ids] += 1
    idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
    rows = [vector(ids, tf, idf) for ids, tf in feats]
    matrix = csr_matrix(
        (
            np.concatenate(rows),
            np.concatenate([ids for ids, _ in feats]),
            np.cumsum([0, *(len(ids) for ids, _ in feats)]),
        ),
        shape=(len(texts), 2**BITS),
    )
    topics = [t for t in TOPIC_IDS if any(t in g for g in targets)]
    coef = np.zeros((len(topics), 2**BITS), dtype=np.float32)
    intercept = np.zeros(len(topics), dtype=np.float32)
    for i, topic in enumerate(topics):
        y = np.array([topic in g for g in targets])
        fit = LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(matrix, y)
        coef[i], intercept[i] = fit.coef_[0], fit.intercept_[0]
    track = None
    if on_track is not None and any(v is not None for v in on_track):
        rows_ = [i for i, v in enumerate(on_track) if v is not None]
        y = np.array([bool(on_track[i]) for i in rows_])
        fit = LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(matrix[rows_], y)
        track = (fit.coef_[0].astype(np.float32), float(fit.intercept_[0]))
    return TopicModel(topics, idf, coef, intercept, track)
