"""The watches, run by the indexer after each written batch, before its offsets are committed.

1. the watches are read from their index (every batch: a watch added is live within a batch);
2. the alias is refreshed, so the batch is searchable;
3. the batch's stories are read (an ids filter over the batch);
4. each watch's query runs on those stories (the local node has no percolator: an ids filter over
   the batch's stories does the same);
5. the members of the stories that match are read, and `alerts.fire` decides;
6. each alert is created in the alerts index under its id (`op_type=create`): a refusal (409)
   means it was raised before. New alerts, and old ones never confirmed sent, go to news.alerts,
   keyed by alert id; once the broker acknowledged them they are marked sent.

A crash anywhere re-reads the batch (its offsets were not committed): the alerts index refuses
what was created, and an alert created but not marked sent is sent then. A consumer of
news.alerts may so see one alert twice after a crash, never zero times; the alerts index and
`newspipe alerts` hold each alert once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError
from kafka import KafkaProducer

from newspipe.contract import Alert, Watch
from newspipe.ops import ALERTS, PRODUCED
from services.index.alerts import (
    MATCH_FIELDS,
    MEMBER_FIELDS,
    Member,
    fire,
    member,
    reasons,
    with_ids,
)

log = logging.getLogger("newspipe.index")
MAX_HITS = 10_000  # Elasticsearch's default result window: a story bigger than this is cut


def read_watches(es: Elasticsearch, index: str) -> list[Watch]:
    """Every watch, by name; none when the index was never made (no watch ever added)."""
    try:
        resp = es.search(index=index, size=1000, sort=[{"name": "asc"}])
    except NotFoundError:
        return []
    return [Watch.model_validate(h["_source"]) for h in resp["hits"]["hits"]]


def matching(
    es: Elasticsearch, alias: str, watch: Watch, stories: Iterable[str]
) -> dict[str, dict[str, list[str]]]:
    """The members of `stories` that `watch` matches, with why: story -> id -> reasons."""
    resp = es.search(
        index=alias,
        query=with_ids(watch.query, "story.id", stories),
        size=MAX_HITS,
        source_includes=MATCH_FIELDS,
    )
    out: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for hit in resp["hits"]["hits"]:
        doc = hit["_source"]
        out[doc["story"]["id"]][doc["id"]] = reasons(watch, doc)
    return out


def members_of(es: Elasticsearch, alias: str, field: str, values: Iterable[str]) -> list[Member]:
    """The indexed documents whose `field` (id, story.id) is one of `values`, as members."""
    resp = es.search(
        index=alias,
        query=with_ids({"match_all": {}}, field, values),
        size=MAX_HITS,
        source_includes=MEMBER_FIELDS,
    )
    return [member(h["_source"]) for h in resp["hits"]["hits"]]


def by_story(members: Iterable[Member]) -> dict[str, list[Member]]:
    out: dict[str, list[Member]] = defaultdict(list)
    for m in members:
        out[m.story].append(m)
    return out


class Alerter:
    def __init__(
        self,
        es: Elasticsearch,
        producer: KafkaProducer,
        alias: str,
        watches_index: str,
        alerts_index: str,
        topic: str,
    ) -> None:
        self.es, self.producer, self.alias = es, producer, alias
        self.watches_index, self.alerts_index, self.topic = watches_index, alerts_index, topic

    def after_batch(self, ids: Sequence[str]) -> list[Alert]:
        """Run every watch over the batch `ids` (articles and link corrections); the alerts sent."""
        watches = read_watches(self.es, self.watches_index)
        if not watches or not ids:
            return []
        self.es.indices.refresh(index=self.alias)
        stories = {m.story for m in members_of(self.es, self.alias, "id", ids)}
        if not stories:
            return []
        matched: dict[str, dict[str, dict[str, list[str]]]] = {}  # watch -> story -> id -> why
        for watch in watches:
            try:
                matched[watch.name] = matching(self.es, self.alias, watch, stories)
            except ApiError as exc:
                if exc.status_code >= 500 or exc.status_code == 429:
                    raise  # transient: the whole evaluation is retried
                log.error("watch %s cannot run (%s): skipped", watch.name, exc.message)
        wanted = {story for per_story in matched.values() for story in per_story}
        members = by_story(members_of(self.es, self.alias, "story.id", wanted) if wanted else [])
        alerts = [
            alert
            for watch in watches
            for story, why in matched.get(watch.name, {}).items()
            for alert in fire(watch, members[story], ids, why, since=watch.created_at)
        ]
        return self.deliver(alerts)

    def deliver(self, alerts: list[Alert]) -> list[Alert]:
        """Create each alert once; send the new and the never-confirmed ones; mark them sent."""
        if not alerts:
            return []
        unique = list({a.id: a for a in alerts}.values())
        body: list[dict[str, Any]] = []
        for alert in unique:
            body += [
                {"create": {"_index": self.alerts_index, "_id": alert.id}},
                {**alert.model_dump(mode="json"), "sent": False},
            ]
        resp = self.es.bulk(operations=body)  # mget below is real-time: no refresh needed
        to_send, known = [], []
        for alert, item in zip(unique, resp["items"], strict=True):
            status = item["create"]["status"]
            if status == 201:
                to_send.append(alert)
            elif status == 409:
                known.append(alert)
            else:
                raise ApiError(  # retried while transient; else the indexer stops with it
                    message=str(item["create"].get("error")), meta=resp.meta, body=item
                )
        if known:
            docs = self.es.mget(index=self.alerts_index, ids=[a.id for a in known])["docs"]
            unsent = {d["_id"] for d in docs if d.get("found") and not d["_source"].get("sent")}
            to_send += [a for a in known if a.id in unsent]
        if not to_send:
            return []
        futures = [
            self.producer.send(self.topic, key=a.id.encode(), value=a.to_bytes()) for a in to_send
        ]
        for future in futures:
            future.get(timeout=30)
        marks: list[dict[str, Any]] = []
        for alert in to_send:
            marks += [
                {"update": {"_index": self.alerts_index, "_id": alert.id}},
                {"doc": {"sent": True}},
            ]
        self.es.bulk(operations=marks, refresh=True)  # `newspipe alerts` shows them at once
        PRODUCED.labels("index", self.topic).inc(len(to_send))
        for alert in to_send:
            ALERTS.labels(alert.watch, alert.trigger).inc()
            log.info(
                "alert %s: watch %s, %s, story %s, %d article(s)",
                alert.id[:12],
                alert.watch,
                alert.trigger,
                alert.story[:12],
                len(alert.articles),
            )
        return to_send
