"""A text model of the topics, beside the taxonomy's rules (topics.py).

The rules score the wordings the taxonomy lists; real articles word things otherwise, and rules
tuned on the labelled articles fit them better than articles they never saw (ADR 0012). The
model reads every wording: character 3- and 5-grams of the folded title and body (across word
boundaries, so Arabic clitics and French elisions need no rules), hashed into 2^16 buckets,
tf-idf (log counts), L2-normalised, and one logistic regression per topic, trained on the
labelled tune parts and the gold set (`newspipe train-topics`; the blind parts never).

The tagger blends the two (topics.yaml, `model`): a topic is kept when
    rules_weight x min(2, score / threshold) / 2 + (1 - rules_weight) x probability
reaches `blend_threshold`. So the model can drop a rule tag near its threshold that reads like
no article labelled with it, or keep a rule score just under its threshold, but never tags a
topic that no rule scored at all.

The same features feed one more regression, the on-track head, trained on the tune parts'
labelled verdicts: the on-track verdict (relevance.py) is overruled when the head finds an
article the rule calls on-track unlike the articles labelled so (ADR 0015).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BITS = 16
NGRAMS = (3, 5)  # features() computes these two sizes
_MIX = np.uint64(0x100000001B3)  # polynomial rolling hash of the code points
_SQUARE = np.uint64(0x100000001B3**2 % 2**64)
_SPREAD = np.uint64(0x9E3779B97F4A7C15)  # then multiplicative hashing into the buckets
CHUNK = 65_536  # n-gram starting points counted per step


def features(folded: str) -> tuple[np.ndarray, np.ndarray]:
    """(bucket ids, 1 + log count) of the text's character n-grams, whitespace collapsed to
    one space and the text padded with one, ids sorted. Counted CHUNK starting points at a time,
    so that a 4 MB article needs a few MB, not 50 times its size."""
    padded = " " + " ".join(folded.split()) + " "
    shift = np.uint64(64 - BITS)
    parts = []
    for at in range(0, max(0, len(padded) - 2), CHUNK):
        piece = padded[at : at + CHUNK + 4]  # this chunk's starts and the 4 points after them
        points = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        threes, fives = min(CHUNK, len(points) - 2), max(0, min(CHUNK, len(points) - 4))
        # h(n) of the n code points from i: p[i] x MIX^(n-1) + ... + p[i+n-1]; a 5-gram's from
        # the 3-gram's at the same start, h5 = h3 x MIX^2 + p[i+3] x MIX + p[i+4]
        h3 = points[:threes] * _SQUARE + points[1 : threes + 1] * _MIX + points[2 : threes + 2]
        h5 = h3[:fives] * _SQUARE + points[3 : fives + 3] * _MIX + points[4 : fives + 4]
        buckets = np.concatenate(
            [((h3 + np.uint64(3)) * _SPREAD) >> shift, ((h5 + np.uint64(5)) * _SPREAD) >> shift]
        )
        parts.append(np.unique(buckets, return_counts=True))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if len(parts) == 1:
        ids, counts = parts[0]
    else:  # a long text: the chunks' counts summed per bucket
        total = np.zeros(2**BITS, dtype=np.int64)
        for chunk_ids, chunk_counts in parts:
            total[chunk_ids] += chunk_counts
        ids = np.flatnonzero(total)
        counts = total[ids]
    return ids.astype(np.int64), (1 + np.log(counts)).astype(np.float32)


def vector(ids: np.ndarray, tf: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """The tf-idf values of `ids`, L2-normalised (what the regressions read)."""
    values = tf * idf[ids]
    norm = float(np.linalg.norm(values))
    out: np.ndarray = values / norm if norm else values
    return out


@dataclass(frozen=True)
class TopicModel:
    topics: list[str]
    idf: np.ndarray  # float32, one per bucket
    coef: np.ndarray  # float32, topics x buckets
    intercept: np.ndarray  # float32, one per topic
    # the on-track head (coef per bucket, intercept): P(the article is on the security track)
    track: tuple[np.ndarray, float] | None = None

    by_bucket: np.ndarray = field(init=False, repr=False)  # coef, buckets x topics
    # the last text read and its features: the tagger and the verdict read the same text
    _last: list[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # a text's buckets are then contiguous rows (a third of the cost of coef[:, ids])
        object.__setattr__(self, "by_bucket", np.ascontiguousarray(self.coef.T))
        object.__setattr__(self, "_last", [None])

    def _vector(self, folded: str) -> tuple[np.ndarray, np.ndarray]:
        """(bucket ids, tf-idf vector) of the text; the last text's are kept (one tuple,
        replaced whole: an enrichment off the event loop may run beside another)."""
        last = self._last[0]
        if last is not None and last[0] is folded:
            return last[1], last[2]
        ids, tf = features(folded)
        values = vector(ids, tf, self.idf)
        self._last[0] = (folded, ids, values)
        return ids, values

    def probabilities(self, folded: str) -> dict[str, float]:
        """Each topic's probability for the folded title and body, rounded to 3 decimals (the
        value the document records and the blend uses)."""
        ids, values = self._vector(folded)
        logits = values @ self.by_bucket[ids] + self.intercept
        probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
        return {t: round(float(p), 3) for t, p in zip(self.topics, probs, strict=True)}

    def on_track(self, folded: str) -> float | None:
        """The on-track head's probability for the folded title and body (3 decimals); None
        for a model trained without verdicts."""
        if self.track is None:
            return None
        ids, values = self._vector(folded)
        logit = float(values @ self.track[0][ids]) + self.track[1]
        return round(1 / (1 + math.exp(-logit)), 3)

    def save(self, path: Path) -> None:
        # no head: an empty one (the file's layout is the same either way)
        coef, intercept = self.track or (np.zeros(0), 0.0)
        np.savez_compressed(
            path,
            topics=np.array(self.topics),
            idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float16),  # ~1.5 MB; probabilities move < 0.001
            intercept=self.intercept.astype(np.float32),
            bits=np.array(BITS),
            ngrams=np.array(NGRAMS),
            track_coef=coef.astype(np.float16),
            track_intercept=np.array(intercept, dtype=np.float32),
        )

    @classmethod
    def load(cls, path: Path) -> TopicModel:
        with np.load(path) as data:
            if int(data["bits"]) != BITS or tuple(data["ngrams"].tolist()) != NGRAMS:
                raise ValueError(f"{path}: made for other features; run newspipe train-topics")
            track = None
            if "track_coef" in data and data["track_coef"].size:  # older files have none
                track = (data["track_coef"].astype(np.float32), float(data["track_intercept"]))
            return cls(
                [str(t) for t in data["topics"]],
                data["idf"].astype(np.float32),
                data["coef"].astype(np.float32),
                data["intercept"].astype(np.float32),
                track,
            )


@dataclass(frozen=True)
class Blend:
    """How the tagger weighs the rules' score against the model (topics.yaml, `model`)."""

    rules_weight: float
    threshold: float

    def keeps(self, score: float, threshold: float, probability: float) -> bool:
        rules = min(2.0, score / threshold) / 2
        return self.rules_weight * rules + (1 - self.rules_weight) * probability >= self.threshold
