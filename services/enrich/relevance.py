"""The on-track verdict (pure): is an article about Libya's security track? The rule and its
numbers are data (knowledge/relevance.yaml): enough track-topic evidence, and Libya's share of
the article's located mentions. The evidence says which of the two decided."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from newspipe.contract import Entity, Relevance, Topic
from newspipe.text import fold
from services.enrich.knowledge import read_yaml


@dataclass(frozen=True)
class RelevanceRule:
    country: str
    min_share: float
    min_track_score: float
    track_topics: frozenset[str]
    country_words: re.Pattern[str]

    @classmethod
    def load(cls, path: Path) -> RelevanceRule:
        data = read_yaml(path.read_text("utf-8"))
        words = [fold(str(w)) for w in data["country_words"]]
        alts = "|".join(
            re.escape(w.rstrip("*")) + (r"\w*" if w.endswith("*") else "") for w in words
        )
        return cls(
            country=str(data["country"]),
            min_share=float(data["min_share"]),
            min_track_score=float(data["min_track_score"]),
            track_topics=frozenset(data["track_topics"]),
            # Arabic words carry attached clitics (و ب ل ف ك + ال) on the left.
            country_words=re.compile(rf"(?<!\w)[وفبلك]?(?:ال)?(?:{alts})(?!\w)"),
        )

    def verdict(
        self, folded_text: str, entities: list[Entity], scored: list[Topic], tagged: list[Topic]
    ) -> Relevance:
        """`folded_text`: title and body, folded; `scored`: every topic's score (Tagger.scores);
        `tagged`: the topics given to the article."""
        track = [t for t in scored if t.id in self.track_topics]
        track_score = sum(t.score for t in track)
        track_tags = [t.id for t in tagged if t.id in self.track_topics]
        home = len(self.country_words.findall(folded_text))
        located = home
        for e in entities:
            country = e.attributes.get("country")
            if country and not e.id.startswith("ambiguous:"):
                located += e.count
                home += e.count if country == self.country else 0
        share = home / located if located else 0.0
        evidence = [
            f"track topics tagged: {', '.join(track_tags) or 'none'}; summed score "
            f"{track_score:.1f} (min {self.min_track_score:g} untagged)"
            + (": " + ", ".join(f"{t.id} {t.score:g}" for t in track[:3]) if track else ""),
            f"{self.country} share {share:.2f} of {located} located mentions "
            f"(min {self.min_share:g})",
        ]
        on = (bool(track_tags) or track_score >= self.min_track_score) and share >= self.min_share
        score = min(1.0, track_score / (2 * self.min_track_score)) * share if on else 0.0
        return Relevance(on_track=on, score=round(score, 3), evidence=evidence)
