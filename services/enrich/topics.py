"""Topic tagging from the taxonomy (knowledge/topics.yaml): phrases (en/ar/fr) and entity cues,
weighted by where they occur (title 2x, lead 1.5x), repeats adding a little (log). A tag is kept
when its score reaches the tag's threshold; its evidence is the phrases and entities that scored.
With a text model in the pack (topicmodel.py), each scored topic also records the model's
probability, and the tag is kept on the blend of the two."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import ahocorasick

from newspipe.contract import Entity, Topic
from newspipe.text import fold, is_arabic, paragraph_end, titled
from services.enrich.topicmodel import Blend, TopicModel

TITLE_FACTOR, LEAD_FACTOR, BODY_FACTOR = 2.0, 1.5, 1.0
REPEAT_BONUS = 0.3  # each e-fold of repeats adds 30 % of the phrase's weight


@dataclass(frozen=True)
class Cue:
    topic: str
    weight: float
    phrase: str
    prefix: bool  # "mercenar*": a word prefix


class Tagger:
    def __init__(
        self,
        taxonomy: list[dict[str, Any]],
        model: TopicModel | None = None,
        blend: Blend | None = None,
    ) -> None:
        """`model` and `blend`: the text model and how it weighs against the rules (both or
        neither); without them a tag is its score reaching the threshold."""
        self.model: TopicModel | None = model if blend is not None else None
        self.blend: Blend | None = blend if model is not None else None
        self.thresholds = {t["id"]: float(t.get("threshold", 3.0)) for t in taxonomy}
        self.entity_cues: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.auto = ahocorasick.Automaton()
        cues: dict[str, list[Cue]] = defaultdict(list)
        for topic in taxonomy:
            for phrases in (topic.get("phrases") or {}).values():
                for item in phrases:
                    raw = fold(str(item["p"])).strip()
                    prefix = raw.endswith("*")
                    phrase = raw.rstrip("*")
                    if phrase:
                        cues[phrase].append(Cue(topic["id"], float(item["w"]), phrase, prefix))
            for ent in topic.get("entities") or []:
                self.entity_cues[ent["id"]].append((topic["id"], float(ent["w"])))
        for phrase, items in cues.items():
            self.auto.add_word(phrase, items)
        if cues:
            self.auto.make_automaton()
        self.has_phrases = bool(cues)

    def tag(self, title: str | None, body: str, entities: list[Entity]) -> list[Topic]:
        """The topics whose score reaches their threshold, best first."""
        return self.passing(self.scores(title, body, entities))

    def passing(
        self, scored: list[Topic], thresholds: dict[str, float] | None = None
    ) -> list[Topic]:
        """The scored topics that reach their threshold, or with a model the blend's (the
        article's tags), order kept. `thresholds`: others than the taxonomy's (calibration)."""
        blend, limits = self.blend, self.thresholds if thresholds is None else thresholds
        return [
            t
            for t in scored
            if (
                blend.keeps(t.score, limits[t.id], t.model)
                if blend is not None and t.model is not None and t.id in limits
                else t.score >= limits.get(t.id, math.inf)
            )
        ]

    def scores(self, title: str | None, body: str, entities: list[Entity]) -> list[Topic]:
        """Every topic with any evidence, with its score (below its threshold too), best first."""
        return self.scores_folded(*titled(fold(title) if title else None, fold(body)), entities)

    def scores_folded(self, text: str, title_end: int, entities: list[Entity]) -> list[Topic]:
        """scores() of the title and body already folded and joined (text.titled)."""
        lead = lead_end(text, title_end)
        hits: dict[tuple[str, str], list[float]] = defaultdict(list)  # (topic, phrase) -> factors
        weights: dict[tuple[str, str], float] = {}
        for start, cue in _outermost(self._matches(text)):
            factor = (
                TITLE_FACTOR
                if start < title_end
                else (LEAD_FACTOR if start < lead else BODY_FACTOR)
            )
            hits[(cue.topic, cue.phrase)].append(factor)
            weights[(cue.topic, cue.phrase)] = cue.weight
        scores: dict[str, float] = defaultdict(float)
        evidence: dict[str, list[str]] = defaultdict(list)
        for (topic, phrase), factors in hits.items():
            w = weights[(topic, phrase)]
            scores[topic] += w * max(factors) * (1 + REPEAT_BONUS * math.log(len(factors)))
            evidence[topic].append(phrase)
        for ent in entities:
            for topic, w in self.entity_cues.get(ent.id, ()):
                scores[topic] += w * (1 + REPEAT_BONUS * math.log(ent.count))
                evidence[topic].append(ent.name)
        probs = self.model.probabilities(text) if self.model is not None and scores else {}
        return sorted(
            (
                Topic(id=t, score=round(s, 2), evidence=evidence[t], model=probs.get(t))
                for t, s in scores.items()
            ),
            key=lambda t: -t.score,
        )

    def _matches(self, text: str) -> list[tuple[int, Cue]]:
        if not self.has_phrases:
            return []
        out = []
        for end, items in self.auto.iter(text):
            for cue in items:
                start = end - len(cue.phrase) + 1
                if _bounded(text, start, end, cue):
                    out.append((end, cue))
        return out


def _outermost(matches: list[tuple[int, Cue]]) -> list[tuple[int, Cue]]:
    """(start, cue) of the matches that no longer match of the same topic covers: one stretch of
    text counts once per topic ("المجموعات المسلحة" also matches "مجموعات المسلحة" through the
    clitic rule; "joint military commission" contains "military commission")."""
    spans = sorted(
        ((cue.topic, end - len(cue.phrase) + 1, -end, cue) for end, cue in matches),
        key=lambda m: m[:3],
    )
    out = []
    topic, reach = "", -1
    for t, start, neg_end, cue in spans:
        if t != topic:
            topic, reach = t, -1
        if -neg_end > reach:
            out.append((start, cue))
            reach = -neg_end
    return out


def _bounded(text: str, start: int, end: int, cue: Cue) -> bool:
    """Word boundaries; Arabic phrases may carry attached clitics (و ب ل ف ك + ال) on the left."""
    before = text[start - 1] if start > 0 else " "
    after = text[end + 1] if end + 1 < len(text) else " "
    left_ok = not before.isalnum() or (is_arabic(cue.phrase) and _clitic_left(text, start))
    right_ok = cue.prefix or not after.isalnum()
    return left_ok and right_ok


def _clitic_left(text: str, start: int) -> bool:
    i = start
    while i > 0 and text[i - 1].isalnum() and start - i < 3:
        if text[i - 1] not in "وفبلكال":
            return False
        i -= 1
    return i == 0 or not text[i - 1].isalnum()


def lead_end(text: str, title_end: int) -> int:
    """End of the first paragraph after the title, at most 600 characters of it."""
    return paragraph_end(text, title_end, 600)
