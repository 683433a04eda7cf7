"""The indexer's watches against real Kafka and Elasticsearch: an alert is sent once, an alert
created but never confirmed sent (a crash between the two) is sent when the batch is read again,
and a watch Elasticsearch refuses is skipped without silencing the others."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from newspipe.clients import es_client
from newspipe.config import Settings, kafka_client_kwargs
from newspipe.contract import Alert, Story, Topic, Trigger, Watch, alert_id, utcnow
from newspipe.tools import bootstrap
from newspipe.tools.watches import add, compile_watch
from services.index.alerting import Alerter
from services.index.core import to_action
from tests.conftest import linked_article, topic_records


def _alerter(s: Settings) -> Alerter:
    producer = KafkaProducer(**kafka_client_kwargs(s.kafka), acks="all")
    return Alerter(
        es_client(s.es),
        producer,
        s.es.alias,
        s.alert.watches_index,
        s.alert.alerts_index,
        s.kafka.alerts_topic,
    )


def _keys(s: Settings) -> list[str]:
    return [r.key.decode() for r in topic_records(s, s.kafka.alerts_topic)]


def _alert(story: str) -> Alert:
    return Alert(
        id=alert_id("w", story, "new-story"),
        watch="w",
        trigger="new-story",
        story=story,
        articles=["a" * 64],
        why=["topic ceasefire"],
    )


def test_an_alert_is_sent_once_and_a_created_but_unsent_one_is_sent_again(
    isolated: Settings,
) -> None:
    s = isolated
    bootstrap.prepare(s)
    alerter = _alerter(s)
    first = _alert("s1")
    assert [a.id for a in alerter.deliver([first, first])] == [first.id]
    assert alerter.deliver([first]) == []  # a replayed batch: refused by the store, not sent
    # The indexer died after creating this alert and before the broker confirmed it:
    crashed = _alert("s2")
    alerter.es.index(
        index=s.alert.alerts_index,
        id=crashed.id,
        document={**crashed.model_dump(mode="json"), "sent": False},
        op_type="create",
    )
    assert [a.id for a in alerter.deliver([first, crashed])] == [crashed.id]
    assert alerter.deliver([crashed]) == []
    assert _keys(s) == [first.id, crashed.id]
    docs = alerter.es.mget(index=s.alert.alerts_index, ids=[first.id, crashed.id])["docs"]
    assert [d["_source"]["sent"] for d in docs] == [True, True]


def test_a_watch_the_cluster_refuses_is_skipped_and_the_others_still_speak(
    isolated: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    s = isolated
    bootstrap.prepare(s)
    alerter = _alerter(s)
    created = utcnow() - timedelta(minutes=1)
    good = compile_watch("good", topics=("ceasefire",))
    broken = Watch(
        name="broken",
        text="bad date",
        query={"range": {"published_at": {"gte": "not a date"}}},
        trigger=Trigger(),
        created_at=created,
    )
    add(s, good.model_copy(update={"created_at": created}))
    add(s, broken)
    now = datetime.now(UTC)
    doc = linked_article("The ceasefire held in Sirte.", "c.txt", now, [], {})
    doc = doc.model_copy(
        update={
            "topics": [Topic(id="ceasefire", score=1.0, evidence=["ceasefire"])],
            "story": Story(id=doc.id),
        }
    )
    action = to_action(None, doc.to_bytes(), s.es.alias)
    alerter.es.index(index=s.es.alias, id=action["_id"], document=action["_source"])
    with caplog.at_level(logging.ERROR, logger="newspipe.index"):
        alerts = alerter.after_batch([doc.id])
    assert [(a.watch, a.trigger, a.story) for a in alerts] == [("good", "new-story", doc.id)]
    assert "watch broken cannot run" in caplog.text
    assert alerter.after_batch([doc.id]) == []  # the same batch again: nothing new
    assert _keys(s) == [alerts[0].id]


def test_a_failing_alerts_index_is_logged_and_indexing_goes_on(
    isolated: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """An alerts index someone made with another mapping refuses every alert (400): the batch is
    still indexed and committed, the failure logged with its cause and counted."""
    from newspipe.config import message_max_bytes
    from newspipe.contract import KIND_ARTICLE, KIND_HEADER, RawArticle, Source, doc_id
    from newspipe.ops import ALERT_FAILURES
    from services.enrich.core import Enricher
    from services.index.sink import Sink

    s = isolated
    bootstrap.prepare(s)
    es = es_client(s.es)
    es.indices.delete(index=s.alert.alerts_index)
    es.indices.create(index=s.alert.alerts_index, mappings={"dynamic": "strict", "properties": {}})
    add(s, compile_watch("any", text="ceasefire"))
    body = "The ceasefire between the two Libyan camps held in Sirte on Monday, officers said."
    raw = RawArticle(
        id=doc_id(body), title="T", body=body, source=Source(path="c.txt"), ingested_at=utcnow()
    )
    producer = KafkaProducer(**kafka_client_kwargs(s.kafka), acks="all")
    producer.send(
        s.kafka.enriched_topic,
        key=raw.id.encode(),
        value=Enricher().enrich(raw, utcnow()).to_bytes(),
        headers=[(KIND_HEADER, KIND_ARTICLE)],
    )
    producer.flush()
    failures = ALERT_FAILURES._value.get()
    sink = Sink(s.kafka, s.es, s.index, message_max_bytes(s.ingest), alert=s.alert)
    with caplog.at_level(logging.ERROR, logger="newspipe.index"):
        for _ in range(10):
            records = sink.consumer.poll(timeout_ms=1000)
            if records:
                sink.process(records)
                break
    sink.consumer.close()
    assert es.get(index=s.es.alias, id=raw.id)["found"]
    assert "watches not evaluated on a batch of 1 documents" in caplog.text
    assert "strict_dynamic_mapping_exception" in caplog.text
    assert ALERT_FAILURES._value.get() == failures + 1
    again = KafkaConsumer(
        **kafka_client_kwargs(s.kafka), group_id=s.index.group, enable_auto_commit=False
    )
    committed = sum(
        again.committed(TopicPartition(s.kafka.enriched_topic, p)) or 0
        for p in again.partitions_for_topic(s.kafka.enriched_topic) or ()
    )
    again.close()
    assert committed == 1  # the batch was committed: not read again, not blocked
