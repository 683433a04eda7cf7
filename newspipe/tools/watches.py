"""Standing queries as a tool: `newspipe watch add|list|show|remove|test` and `newspipe alerts`.

A watch is compiled once, here: the query in `newspipe search` syntax, the entities resolved
through the knowledge pack (any alias or script), the filters, all into one Elasticsearch query
stored with the watch in the watches index, where the indexer reads it after every batch
(services/index/alerting.py). Re-adding a watch (`--replace`) recompiles it, e.g. after the
knowledge pack learnt new aliases. `watch test` replays the trigger over what is indexed, in the
order the articles arrived, with the decisions the indexer makes (services/index/alerts.py), and
sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ConflictError, NotFoundError

from newspipe.clients import es_client
from newspipe.config import Settings
from newspipe.contract import TOPIC_IDS, Alert, Trigger, Watch, utcnow
from newspipe.tools.query import entity_ids, gazetteer, search_query
from services.index.alerting import MAX_HITS, by_story, matching, members_of, read_watches
from services.index.alerts import fire


class WatchError(ValueError):
    """A watch that cannot be added, shown or tested: the message says why."""


def compile_watch(
    name: str,
    text: str | None = None,
    topics: tuple[str, ...] = (),
    entities: tuple[str, ...] = (),
    outlets: tuple[str, ...] = (),
    languages: tuple[str, ...] = (),
    on_track: bool = False,
    trigger: Trigger | None = None,
    webhook: str | None = None,
) -> Watch:
    unknown = [t for t in topics if t not in TOPIC_IDS]
    if unknown:
        raise WatchError(f"unknown topic {', '.join(unknown)}; topics: {', '.join(TOPIC_IDS)}")
    gaz = gazetteer()
    ids: dict[str, str] = {}
    for named in entities:
        found = entity_ids(named)
        if not found or not all(i in gaz.entities for i in found):
            raise WatchError(
                f"the knowledge pack knows no actor, place or organisation named {named!r}"
            )
        for entity in found:
            ids[entity] = gaz.entities[entity].name
    if not (text or topics or ids or outlets or languages or on_track):
        raise WatchError(
            "a watch needs a query or at least one of --topic, --entity, --outlet, "
            "--lang, --on-track"
        )
    trigger = trigger or Trigger()
    if trigger.kind == "growth" and trigger.articles is None and trigger.outlets is None:
        raise WatchError("a growth trigger needs --articles N or --outlets M")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise WatchError("--webhook must be an http:// or https:// URL")
    clauses: list[dict[str, Any]] = []
    if topics:
        clauses.append({"terms": {"topics.id": sorted(topics)}})
    if ids:
        clauses.append({"terms": {"entities.id": sorted(ids)}})
    if outlets:
        clauses.append({"terms": {"sources.outlet": sorted(outlets)}})
    if languages:
        clauses.append({"terms": {"language": sorted(languages)}})
    if on_track:
        clauses.append({"term": {"relevance.on_track": True}})
    must = [search_query(text)] if text else [{"match_all": {}}]
    return Watch(
        name=name,
        text=text,
        topics=sorted(topics),
        entities=sorted(ids),
        entity_names=ids,
        outlets=sorted(outlets),
        languages=sorted(languages),
        on_track=on_track,
        trigger=trigger,
        webhook=webhook,
        query={"bool": {"must": must, "filter": clauses}},
        created_at=utcnow(),
    )


def add(settings: Settings, watch: Watch, replace: bool = False) -> None:
    try:
        es_client(settings.es).index(
            index=settings.alert.watches_index,
            id=watch.name,
            document=watch.model_dump(mode="json"),
            op_type="index" if replace else "create",
            refresh=True,
        )
    except ConflictError:
        raise WatchError(f"a watch named {watch.name} exists (--replace to redefine it)") from None


def all_watches(settings: Settings) -> list[Watch]:
    return read_watches(es_client(settings.es), settings.alert.watches_index)


def get(settings: Settings, name: str) -> Watch:
    try:
        doc = es_client(settings.es).get(index=settings.alert.watches_index, id=name)
    except NotFoundError:
        raise WatchError(f"no watch named {name}") from None
    return Watch.model_validate(doc["_source"])


def remove(settings: Settings, name: str) -> None:
    try:
        es_client(settings.es).delete(index=settings.alert.watches_index, id=name, refresh=True)
    except NotFoundError:
        raise WatchError(f"no watch named {name}") from None


def describe(watch: Watch) -> str:
    """One line: what it watches and when it speaks."""
    parts = [f'"{watch.text}"'] if watch.text else []
    parts += [f"topic {t}" for t in watch.topics]
    parts += [f"entity {n}" for n in watch.entity_names.values()]
    parts += [f"outlet {o}" for o in watch.outlets]
    parts += [f"lang {lang}" for lang in watch.languages]
    parts += ["on-track"] if watch.on_track else []
    t = watch.trigger
    when = {
        "new-story": "every new story",
        "new-language": "a story's first report in another language",
        "growth": "a story growing by "
        + " or ".join(
            x
            for x in (
                f"{t.articles} articles" if t.articles else "",
                f"{t.outlets} outlets" if t.outlets else "",
            )
            if x
        )
        + f" within {t.window_hours:g} h",
    }[t.kind]
    hook = " (webhook)" if watch.webhook else ""
    return f"{' AND '.join(parts)} -> {when}{hook}"


def backtest(settings: Settings, watch: Watch, since: datetime) -> list[Alert]:
    """The alerts `watch` would have raised for the articles that arrived since `since`, in the
    order they arrived, decided as the indexer decides; nothing is written or sent."""
    es, alias = es_client(settings.es), settings.es.alias
    arrived = {"range": {"ingested_at": {"gte": since.isoformat()}}}
    resp = es.search(
        index=alias,
        query={"bool": {"must": [watch.query], "filter": [arrived]}},
        size=MAX_HITS,
        source_includes=["story.id"],
    )
    stories = {h["_source"]["story"]["id"] for h in resp["hits"]["hits"]}
    if not stories:
        return []
    matched = matching(es, alias, watch, stories)
    members = by_story(members_of(es, alias, "story.id", stories))
    arrivals = sorted(
        (m for ms in members.values() for m in ms if m.first_seen >= since),
        key=lambda m: (m.first_seen, m.id),
    )
    raised: dict[str, Alert] = {}
    for m in arrivals:
        before = [x for x in members[m.story] if (x.first_seen, x.id) <= (m.first_seen, m.id)]
        for alert in fire(watch, before, [m.id], matched[m.story], since=None):
            raised.setdefault(alert.id, alert.model_copy(update={"created_at": m.first_seen}))
    return list(raised.values())


def recent(
    settings: Settings,
    size: int = 20,
    watch: str | None = None,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """Alerts, oldest first: the last `size`, or every one raised since `since`."""
    filters: list[dict[str, Any]] = [{"term": {"watch": watch}}] if watch else []
    if since is not None:
        filters.append({"range": {"created_at": {"gte": since.isoformat()}}})
    order = "asc" if since is not None else "desc"
    try:
        resp = es_client(settings.es).search(
            index=settings.alert.alerts_index,
            query={"bool": {"filter": filters}},
            size=MAX_HITS if since is not None else size,
            sort=[{"created_at": order}, {"id": order}],
        )
    except NotFoundError:
        return []
    hits = [h["_source"] for h in resp["hits"]["hits"]]
    return hits if since is not None else list(reversed(hits))


FOLLOW_OVERLAP = timedelta(seconds=30)  # an alert raised a little earlier but stored later


def follow(
    settings: Settings, watch: str | None, size: int, poll: float = 1.0
) -> Iterator[dict[str, Any]]:
    """The last `size` alerts, then each new one as it is raised (until interrupted). Each poll
    looks back `FOLLOW_OVERLAP` before the newest alert shown, so an alert that two indexers
    stored out of order is not skipped; none is printed twice."""
    import time

    shown: set[str] = set()
    newest: datetime | None = None
    batch = recent(settings, size, watch)
    while True:
        for alert in batch:
            if alert["id"] not in shown:
                shown.add(alert["id"])
                yield alert
            created = datetime.fromisoformat(alert["created_at"].replace("Z", "+00:00"))
            newest = created if newest is None else max(newest, created)
        time.sleep(poll)
        if newest is None:
            batch = recent(settings, size, watch)
        else:
            batch = recent(settings, size, watch, since=newest - FOLLOW_OVERLAP)


def alert_lines(alert: dict[str, Any]) -> list[str]:
    """An alert as the terminal shows it: when, which watch, what, which story, why."""
    when = str(alert["created_at"])[:19].replace("T", " ")
    what = alert["trigger"] + (f" ({alert['language']})" if alert.get("language") else "")
    titles = [t for t in alert.get("titles") or [] if t]
    head = (
        f"{when}  {alert['watch']:<16} {what:<18} story {alert['story'][:12]}  "
        f"{len(alert['articles'])} new article(s), story of {alert.get('story_size', '?')}"
    )
    lines = [head]
    lines += [f"    {t[:100]}" for t in titles[:3]]
    lines += [f"    why: {w}" for w in alert.get("why", [])[:6]]
    return lines


def parse_since(text: str) -> datetime:
    """`7d`, `12h`, `30m` ago, or a date (YYYY-MM-DD)."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text and text[-1] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise WatchError(f"--since {text!r}: give 7d, 12h, 30m or a date YYYY-MM-DD") from None
