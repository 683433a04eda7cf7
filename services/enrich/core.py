"""RawArticle -> EnrichedArticle (pure): language, entities, topics, hashes, event evidence.

Dedup links and story ids are decided later, against the archive, by link.py; here the article is
its own group and story. `Enricher` holds the loaded knowledge pack; `enrich` takes the clock
reading as an argument.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import py3langid

from newspipe.contract import Dedup, EnrichedArticle, RawArticle, Story
from newspipe.text import fold, search_text_folded, titled
from services.enrich import dedup
from services.enrich.entities import find_mentions, to_entities
from services.enrich.events import event_features
from services.enrich.knowledge import (
    PACK_DIR,
    load_gazetteer,
    load_lexicon,
    load_topic_model,
    load_topics,
    load_units,
)
from services.enrich.newnames import find_new_names, find_units
from services.enrich.relevance import RelevanceRule
from services.enrich.topics import Tagger, lead_end


class Enricher:
    def __init__(self, pack_dir: Path = PACK_DIR) -> None:
        self.gaz = load_gazetteer(pack_dir)
        self.lexicon = load_lexicon(pack_dir)
        self.units = load_units(pack_dir)
        self.tagger = Tagger(load_topics(pack_dir), *load_topic_model(pack_dir))
        rule = pack_dir / "relevance.yaml"
        self.relevance = RelevanceRule.load(rule) if rule.exists() else None  # None: no verdict
        self.kinds = {e.id: e.attributes.get("kind", "") for e in self.gaz.entities.values()}
        self.within = {
            e.id: e.attributes["in"] for e in self.gaz.entities.values() if "in" in e.attributes
        }

    def enrich(self, raw: RawArticle, now: datetime) -> EnrichedArticle:
        text, title_end = titled(raw.title, raw.body)
        # Folded once, for topics, relevance, wording fingerprints and the search field.
        folded_body = fold(raw.body)
        folded, folded_title_end = titled(fold(raw.title) if raw.title else None, folded_body)
        mentions, tokens, covered = find_mentions(text, self.gaz)
        # numbered units before the capitalised runs: they take their words
        units, new = find_units(text, tokens, covered, self.units, self.gaz)
        mentions += units
        new += find_new_names(text, tokens, covered, self.lexicon, title_end)
        entities = to_entities(mentions, self.gaz, new)
        sig, n_shingles, sketch = dedup.fingerprint(raw.body, folded_body)
        scored = self.tagger.scores_folded(folded, folded_title_end, entities)
        topics = self.tagger.passing(scored)
        verdict = None
        if self.relevance is not None:
            model = self.tagger.model
            # (no topic scored at all: off-track whatever the model says; not worth reading)
            probability = model.on_track(folded) if model is not None and scored else None
            verdict, topics = self.relevance.judge(folded, entities, scored, topics, probability)
        return EnrichedArticle(
            id=raw.id,
            title=raw.title,
            body=raw.body,
            language=detect_language(raw.body),
            source=raw.source,
            sources=[raw.source],
            published_at=raw.published_at,
            ingested_at=raw.ingested_at,
            enriched_at=now,
            entities=entities,
            topics=topics,
            relevance=verdict,
            dedup=Dedup(
                content_hash=dedup.content_hash(raw.body),
                minhash=sig,
                shingles=n_shingles,
                sentences=sketch,
            ),
            story=Story(id=raw.id),
            search_text=search_text_folded(folded),
            event=event_features(
                text,
                lead_end(text, title_end),
                mentions,
                entities,
                self.kinds,
                raw.published_at,
                self.within,
            ),
        )


_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")


def detect_language(text: str) -> str:
    # 400 characters decide en/fr/ar reliably; the cost grows with the length (py3langid).
    head = text[:400]
    if len(_ARABIC_LETTER.findall(head)) * 2 > len(head):
        # Mostly Arabic script: py3langid says "ar" (1,169 of 1,169 corpus and bench texts),
        # for a twenty-fifth of its cost.
        return "ar"
    lang, _score = py3langid.classify(head)
    return str(lang)
