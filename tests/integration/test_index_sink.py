"""The indexer against real Kafka and Elasticsearch: bulk write, dead letters with reasons,
offsets committed only after the write, and a restarted indexer re-reading nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime

from kafka import KafkaConsumer, KafkaProducer

from newspipe.config import Settings, kafka_client_kwargs, message_max_bytes
from newspipe.contract import (
    KIND_ARTICLE,
    KIND_HEADER,
    KIND_LINK_UPDATE,
    DeadLetter,
    EnrichedArticle,
    LinkUpdate,
    RawArticle,
    Source,
    doc_id,
)
from newspipe.tools import bootstrap
from services.enrich.core import Enricher
from services.index.sink import Sink


def _article(body: str) -> bytes:
    raw = RawArticle(
        id=doc_id(body),
        title="T",
        body=body,
        source=Source(path="x.txt"),
        ingested_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    return Enricher().enrich(raw, datetime.now(UTC)).to_bytes()


def _drain(sink: Sink, rounds: int = 10) -> None:
    for _ in range(rounds):
        records = sink.consumer.poll(timeout_ms=1000)
        if records:
            sink.process(records)


def test_bulk_dlq_and_commit(isolated: Settings) -> None:
    s = isolated
    bootstrap.prepare(s)
    producer = KafkaProducer(**kafka_client_kwargs(s.kafka), acks="all")
    good = _article("The 5+5 Joint Military Commission met in Sirte to discuss the ceasefire.")
    missing = LinkUpdate(id="f" * 64, duplicate_of=None, story_id="x", version=1).to_bytes()
    for value, kind in (
        (good, KIND_ARTICLE),
        (b"{not json", KIND_ARTICLE),
        (missing, KIND_LINK_UPDATE),
        (good, KIND_ARTICLE),
    ):
        producer.send(s.kafka.enriched_topic, key=b"k", value=value, headers=[(KIND_HEADER, kind)])
    producer.flush()

    sink = Sink(s.kafka, s.es, s.index, message_max_bytes(s.ingest), alert=s.alert)
    _drain(sink)
    sink.es.indices.refresh(index=s.es.alias)
    assert sink.es.count(index=s.es.alias)["count"] == 1  # the same article twice: one document

    dlq = KafkaConsumer(
        s.kafka.dlq_topic,
        **kafka_client_kwargs(s.kafka),
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    letters = [DeadLetter.model_validate_json(m.value) for m in dlq]
    reasons = sorted(letter.reason.split(":")[0] for letter in letters)
    assert reasons == ["404 document_missing_exception", "invalid document"]
    assert {letter.offset for letter in letters} == {1, 2}
    sink.consumer.close()

    # A restarted indexer resumes after the committed offsets: nothing left to read.
    again = Sink(s.kafka, s.es, s.index, message_max_bytes(s.ingest), alert=s.alert)
    # Several polls: the first ones may only be the group join; any record would show up after it.
    assert not any(again.consumer.poll(timeout_ms=2000).values() for _ in range(5))
    again.stop.set()
    again.run()


def test_a_live_feeds_batch_is_searchable_without_waiting_for_the_periodic_refresh(
    isolated: Settings,
) -> None:
    """A batch short of full (the backlog is written) is refreshed at once; with `live_refresh`
    off, it waits for the index's periodic refresh, here switched off to tell the two apart."""
    s = isolated
    bootstrap.prepare(s)
    sink = Sink(s.kafka, s.es, s.index, message_max_bytes(s.ingest), alert=s.alert)
    sink.es.indices.put_settings(index=s.es.alias, settings={"refresh_interval": "-1"})
    producer = KafkaProducer(**kafka_client_kwargs(s.kafka), acks="all")

    def one(body: str) -> None:
        producer.send(
            s.kafka.enriched_topic, value=_article(body), headers=[(KIND_HEADER, KIND_ARTICLE)]
        )
        producer.flush()

    one("The ceasefire committee met in Sirte on Monday to review the withdrawal plan.")
    _drain(sink, rounds=4)
    assert sink.es.count(index=s.es.alias)["count"] == 1  # no refresh asked for by the test
    sink.consumer.close()

    quiet = s.index.model_copy(update={"live_refresh": -1.0})
    late = Sink(s.kafka, s.es, quiet, message_max_bytes(s.ingest), alert=s.alert)
    one("Border guards in Ghat reported a new patrol schedule agreed with the army.")
    _drain(late, rounds=4)
    assert late.es.count(index=s.es.alias)["count"] == 1  # written, not yet searchable
    late.es.indices.refresh(index=s.es.alias)
    assert late.es.count(index=s.es.alias)["count"] == 2
    late.consumer.close()


def test_corrections_in_and_after_their_articles_bulk_leave_the_last_decision(
    isolated: Settings,
) -> None:
    """An article, two corrections of it in the same bulk and one of the other article in a
    later bulk: Elasticsearch holds the last decision of each, the rest of the document kept.
    Two corrections of a document never indexed: each gets its dead letter."""
    s = isolated
    bootstrap.prepare(s)
    producer = KafkaProducer(**kafka_client_kwargs(s.kafka), acks="all")
    a = _article("Rival commanders of the joint commission met in Sirte to agree on a withdrawal.")
    b = _article("The border guards of Ghat and Ubari agreed on joint patrols with the army units.")
    a_id, b_id = (EnrichedArticle.model_validate_json(x).id for x in (a, b))
    missing = "e" * 64

    def send(messages: list[tuple[str, bytes, bytes]]) -> None:
        for key, value, kind in messages:
            producer.send(
                s.kafka.enriched_topic,
                key=key.encode(),
                value=value,
                headers=[(KIND_HEADER, kind)],
            )
        producer.flush()

    def fix(doc: str, dup: str | None, story: str, version: int) -> tuple[str, bytes, bytes]:
        update = LinkUpdate(id=doc, duplicate_of=dup, story_id=story, version=version)
        return (doc, update.to_bytes(), KIND_LINK_UPDATE)

    send(
        [
            (a_id, a, KIND_ARTICLE),
            (b_id, b, KIND_ARTICLE),
            fix(a_id, b_id, b_id, 2),
            fix(missing, None, "s", 1),
            fix(a_id, None, "story-c", 3),
            fix(missing, None, "t", 2),
        ]
    )
    sink = Sink(s.kafka, s.es, s.index, message_max_bytes(s.ingest), alert=s.alert)
    _drain(sink, rounds=4)
    send([fix(b_id, a_id, "story-c", 2)])
    _drain(sink, rounds=4)

    def held(doc: str) -> tuple[object, object, object]:
        source = sink.es.get(index=s.es.alias, id=doc)["_source"]
        return source["dedup"]["duplicate_of"], source["story"]["id"], source["link_version"]

    assert held(a_id) == (None, "story-c", 3)
    assert held(b_id) == (a_id, "story-c", 2)
    assert sink.es.get(index=s.es.alias, id=a_id)["_source"]["body"].startswith("Rival")
    sink.consumer.close()
    dlq = KafkaConsumer(
        s.kafka.dlq_topic,
        **kafka_client_kwargs(s.kafka),
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    letters = [DeadLetter.model_validate_json(m.value) for m in dlq]
    assert (
        sorted(letter.reason.split(":")[0] for letter in letters)
        == ["404 document_missing_exception"] * 2
    )
    assert {LinkUpdate.model_validate_json(x.payload).story_id for x in letters} == {"s", "t"}
