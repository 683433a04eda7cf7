"""The on-track verdict (pure): is an article about Libya's security track? The rule and its
numbers are data (knowledge/relevance.yaml): enough track-topic evidence, and Libya's share of
the article's located mentions. The evidence says which of the two decided.

The verdict also decides which tags an article keeps (`judge`). The taxonomy describes Libya: an
article that is not about Libya (its share is under the minimum) keeps no topic at all, and the
evidence says which were withheld (a Sudan offensive is not "armed-clashes" in this monitor). A
Libya article on another subject keeps its tags (resources-economy, political-track): it is
off-track because no track topic reached its threshold."""

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
    # an on-track verdict is overruled when the topics' text model gives the article an on-track
    # probability under this (None: the rule alone decides)
    model_veto: float | None = None

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
            model_veto=float(data["model_veto"]) if data.get("model_veto") is not None else None,
        )

    def judge(
        self,
        folded_text: str,
        entities: list[Entity],
        scored: list[Topic],
        tagged: list[Topic],
        probability: float | None = None,
    ) -> tuple[Relevance, list[Topic]]:
        """The verdict and the tags the article keeps (see the module's text). `folded_text`:
        title and body, folded; `scored`: every topic's score (Tagger.scores); `tagged`: the
        topics that reached their thresholds; `probability`: the text model's on-track
        probability (TopicModel.on_track), if any."""
        return self.decide(self.located(folded_text, entities), scored, tagged, probability)

    def located(self, folded_text: str, entities: list[Entity]) -> tuple[int, int]:
        """(mentions placing the article in the country, located mentions in all)."""
        home = len(self.country_words.findall(folded_text))
        located = home
        for e in entities:
            country = e.attributes.get("country")
            if country and not e.id.startswith("ambiguous:"):
                located += e.count
                home += e.count if country == self.country else 0
        return home, located

    def decide(
        self,
        counts: tuple[int, int],
        scored: list[Topic],
        tagged: list[Topic],
        probability: float | None = None,
    ) -> tuple[Relevance, list[Topic]]:
        """judge() from located()'s counts."""
        home, located = counts
        track = [t for t in scored if t.id in self.track_topics]
        track_score = sum(t.score for t in track)
        track_tags = [t.id for t in tagged if t.id in self.track_topics]
        share = home / located if located else 0.0
        evidence = [
            f"track topics tagged: {', '.join(track_tags) or 'none'}; summed score "
            f"{track_score:.1f} (min {self.min_track_score:g} untagged)"
            + (": " + ", ".join(f"{t.id} {t.score:g}" for t in track[:3]) if track else ""),
            f"{self.country} share {share:.2f} of {located} located mentions "
            f"(min {self.min_share:g})",
        ]
        about_country = share >= self.min_share
        on = (bool(track_tags) or track_score >= self.min_track_score) and about_country
        if probability is not None and self.model_veto is not None:
            vetoed = on and probability < self.model_veto
            evidence.append(
                f"text model: on-track probability {probability:.3f} "
                + (
                    f"under {self.model_veto:g}: off-track"
                    if vetoed
                    else f"(veto under {self.model_veto:g})"
                )
            )
            on = on and not vetoed
        score = min(1.0, track_score / (2 * self.min_track_score)) * share if on else 0.0
        verdict = Relevance(on_track=on, score=round(score, 3), evidence=evidence)
        if about_country or not tagged:
            return verdict, tagged
        withheld = ", ".join(t.id for t in tagged)
        verdict.evidence.append(f"tags withheld (not about {self.country}): {withheld}")
        return verdict, []
