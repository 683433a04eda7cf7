"""The topics' text model (services/enrich/topicmodel.py) and its training
(newspipe/tools/train_topics.py): features, the blend with the rules, and the committed model
being what `newspipe train-topics` makes of the committed labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from newspipe.text import fold
from newspipe.tools.evaluate import BlindRefused
from newspipe.tools.train_topics import examples, held_out, train
from services.enrich.knowledge import PACK_DIR, load_topic_model, load_topics, topic_model_spec
from services.enrich.topicmodel import BITS, Blend, TopicModel, features
from services.enrich.topics import Tagger
from tests.conftest import ROOT


def test_features_are_the_texts_ngrams_whatever_its_spacing() -> None:
    ids, tf = features(fold("Le cessez-le-feu  tient\n\nà Syrte"))
    again, tf_again = features(fold("Le cessez-le-feu tient à Syrte"))
    assert ids.tolist() == again.tolist() and tf.tolist() == tf_again.tolist()
    assert (np.diff(ids) > 0).all() and ids.min() >= 0 and ids.max() < 2**BITS
    # " la la la ": 3-grams " la", "la ", "a l" (x3, x3, x2); 5-grams " la l", "la la", "a la "
    # (x2, x2, x2): six distinct n-grams, in at most six buckets, counted 1 + log(count)
    ids, tf = features("la  la\nla")
    assert len(ids) == 6  # no two of them share a bucket
    assert np.allclose(sorted(tf), [1 + np.log(2)] * 4 + [1 + np.log(3)] * 2)
    assert len(features("")[0]) == 0  # no 3-gram in "  "


def test_a_long_text_is_counted_in_chunks_with_the_same_features(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 4 MB article is counted CHUNK starting points at a time (bounded memory): the n-grams
    that straddle two chunks are counted once, so any chunk size gives the same features."""
    from services.enrich import topicmodel

    article = sorted((ROOT / "tests/data/real/articles").glob("*.txt"))[0]
    texts = [
        fold(article.read_text("utf-8")),
        "abcd",
        "abcde",
        "la  la\nla",
    ]
    whole = [features(t) for t in texts]
    for chunk in (1, 2, 3, 7, 100):
        monkeypatch.setattr(topicmodel, "CHUNK", chunk)
        for text, (ids, tf) in zip(texts, whole, strict=True):
            got_ids, got_tf = features(text)
            assert got_ids.tolist() == ids.tolist() and np.allclose(got_tf, tf), (chunk, text[:20])
    assert len(whole[0][0]) > 1000


def test_the_blend_weighs_the_rules_score_against_the_probability() -> None:
    blend = Blend(rules_weight=0.6, threshold=0.4)
    assert blend.keeps(score=6.0, threshold=3.0, probability=0.0)  # twice the threshold: kept
    assert not blend.keeps(score=3.0, threshold=3.0, probability=0.2)  # at it, unlike any text
    assert blend.keeps(score=3.0, threshold=3.0, probability=0.25)
    assert blend.keeps(score=2.0, threshold=3.0, probability=0.55)  # under it, a typical text
    assert not blend.keeps(score=2.0, threshold=3.0, probability=0.45)
    # the probability alone (recorded to 3 decimals) reaches the threshold only at 1.000; and a
    # topic no rule scored is not among the scored topics the blend is asked about at all
    assert not blend.keeps(score=0.0, threshold=3.0, probability=0.999)


def test_the_tagger_records_the_probability_it_decided_with() -> None:
    model, blend = load_topic_model()
    assert model is not None and blend is not None
    tagger = Tagger(load_topics(), model, blend)
    text = fold(
        "Libya's 5+5 Joint Military Commission met in Sirte to discuss the ceasefire and the "
        "withdrawal of mercenaries and foreign forces."
    )
    scored = tagger.scores_folded(text, 0, [])
    probs = model.probabilities(text)
    assert scored and all(t.model == probs[t.id] for t in scored)
    kept = {t.id for t in tagger.passing(scored)}
    assert kept == {
        t.id for t in scored if blend.keeps(t.score, tagger.thresholds[t.id], probs[t.id])
    }
    assert "jmc-5plus5" in kept
    plain = Tagger(load_topics())  # no model: the rules' thresholds alone
    assert {t.id for t in plain.passing(plain.scores_folded(text, 0, []))} == {
        t.id for t in scored if t.score >= tagger.thresholds[t.id]
    }


def _training_labels() -> list[Path]:
    """The pack's `model.trained_on`: what `newspipe train-topics` trains on by default."""
    spec = topic_model_spec()
    assert spec["file"] == "topic-model.npz"
    return [ROOT / p for p in spec["trained_on"]]


def test_the_committed_model_is_what_training_makes_of_the_committed_labels(
    tmp_path: Path,
) -> None:
    """Retrained from the tune parts and the gold set (topics.yaml's `model.trained_on`), the
    model gives the committed model's probabilities (weights are stored as float16)."""
    texts, targets, skipped, on_track = examples(_training_labels(), ROOT)
    assert len(texts) > 350 and skipped >= 1
    assert sum(v is not None for v in on_track) > 500 and False in on_track and True in on_track
    model = train(texts, targets, on_track)
    model.save(tmp_path / "m.npz")
    fresh, committed = (
        TopicModel.load(tmp_path / "m.npz"),
        TopicModel.load(PACK_DIR / "topic-model.npz"),
    )
    assert fresh.topics == committed.topics
    for text in texts[::25]:
        a, b = fresh.probabilities(text), committed.probabilities(text)
        assert max(abs(a[t] - b[t]) for t in a) <= 0.01, (a, b)
        on, committed_on = fresh.on_track(text), committed.on_track(text)
        assert on is not None and committed_on is not None and abs(on - committed_on) <= 0.01


def test_training_never_sees_a_blind_text() -> None:
    with pytest.raises(BlindRefused):
        examples([ROOT / "tests/data/real/blind/labels.yaml"], ROOT)
    with pytest.raises(BlindRefused):
        examples([ROOT / "tests/data/real-sealed/part1/labels.yaml"], ROOT)
    urls, digests = held_out(ROOT / "tests/data")
    assert len(urls) > 200 and len(digests) > 200
    skipped = examples(_training_labels(), ROOT).skipped
    assert skipped >= 3  # tune pages a blind or sealed part also holds (picked twice)


def test_the_on_track_head_is_saved_and_read_back_and_optional(tmp_path: Path) -> None:
    """The head's weights travel in the model file; a model trained without verdicts (or an
    older file) has none, and gives no probability."""
    texts = [fold(t) for t in ("the joint military commission met in sirte", "oil output rose")]
    with_head = train(texts, [{"jmc-5plus5"}, set()], [True, False])
    without = train(texts, [{"jmc-5plus5"}, set()])
    with_head.save(tmp_path / "a.npz")
    without.save(tmp_path / "b.npz")
    a, b = TopicModel.load(tmp_path / "a.npz"), TopicModel.load(tmp_path / "b.npz")
    pa = a.on_track(texts[0])
    assert pa is not None and abs(pa - (with_head.on_track(texts[0]) or 0)) <= 0.01
    assert pa > 0.5 > (a.on_track(texts[1]) or 1)
    assert b.track is None and b.on_track(texts[0]) is None
    assert a.probabilities(texts[0]) == b.probabilities(texts[0])  # the topics' part unchanged


def test_the_train_topics_command_writes_the_topics_and_the_on_track_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from newspipe.cli import main

    monkeypatch.chdir(ROOT)  # the pack's trained_on paths are the repository's
    out = tmp_path / "m.npz"
    result = CliRunner().invoke(main, ["train-topics", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "on-track head" in result.output and "verdicts" in result.output
    model = TopicModel.load(out)
    assert model.track is not None and model.on_track("the joint military commission") is not None
