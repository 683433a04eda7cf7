"""The one CLI: builds Settings once and passes it down. Service imports are deferred to the
sub-command that needs them, so `newspipe config` or `newspipe enrich FILE --json` start fast."""

from __future__ import annotations

import functools
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson

from newspipe.config import Settings, describe
from newspipe.obs import setup_logging


class _Main(click.Group):
    """Any command: a server refusing the configuration (credentials, certificates), or an
    Elasticsearch that does not answer, is one line naming the setting to change, not a
    traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from newspipe.clients import (
            ConfigError,
            KafkaLog,
            es_refusal,
            es_unreachable,
            kafka_refusal,
        )

        with KafkaLog() as kafka_log:  # kafka-python says why it was refused only in its log
            try:
                return super().invoke(ctx)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            except Exception as exc:
                url = ctx.obj.es.url if isinstance(ctx.obj, Settings) else "the configured URL"
                reason = (
                    es_refusal(exc)
                    or es_unreachable(exc, url)
                    or kafka_refusal(
                        " ".join([*kafka_log.lines, str(exc)]),
                        sasl=isinstance(ctx.obj, Settings) and bool(ctx.obj.kafka.sasl_mechanism),
                    )
                )
                if reason is None:
                    raise
                raise click.ClickException(reason) from None


@click.group(cls=_Main)
@click.pass_context
def main(ctx: click.Context) -> None:
    """newspipe: files -> Kafka -> enrich (faust) -> Elasticsearch, for Libya's security track."""
    settings = Settings()
    setup_logging(settings.log_level, settings.log_format, ctx.invoked_subcommand or "newspipe")
    ctx.obj = settings


@main.command("config")
@click.pass_obj
def config_cmd(settings: Settings) -> None:
    """Print every setting (NEWSPIPE_* variable, value, meaning); secrets masked."""
    for env, value, desc in describe(settings):
        click.echo(f"{env:<42} {value:<40} {desc}")


@main.group()
def stack() -> None:
    """The local Kafka + Elasticsearch (no Docker)."""


@stack.command("up")
@click.pass_obj
def stack_up(settings: Settings) -> None:
    """Fetch (once), start and wait for Kafka and Elasticsearch; create topics and the index."""
    import newspipe.tools.stack as local
    from newspipe.tools import bootstrap

    local.up(settings.stack)
    bootstrap.prepare(settings)
    _print_status(local.status(settings.stack))


@main.command("setup")
@click.pass_obj
def setup_cmd(settings: Settings) -> None:
    """Create the topics (with their size limits) and the index template and alias on the
    configured Kafka and Elasticsearch (what `stack up` does for the local stack); idempotent."""
    from newspipe.tools import bootstrap

    _preflight(settings, es=True)
    bootstrap.prepare(settings)


def _preflight(settings: Settings, *, kafka: bool = True, es: bool = False) -> None:
    """Refused credentials or certificates stop the command with the setting to change (a
    server merely down is waited for, as before). Only where there is something to refuse: a
    plaintext, anonymous server is not probed, so a service restarted during an outage starts
    waiting at once (the probe of a server that is down takes its 10 s timeout)."""
    from newspipe.clients import check_es, check_kafka

    if kafka and settings.kafka.security_protocol != "PLAINTEXT":
        check_kafka(settings.kafka)
    secured_es = settings.es.url.startswith("https:") or settings.es.username or settings.es.api_key
    if es and secured_es:
        check_es(settings.es)


def _ops_endpoint(settings: Settings, service: str, lag: bool = False) -> None:
    """The service's /metrics, /healthz and /readyz; the ingest one also carries every consumer
    group's lag (ingest consumes nothing, so it stays up when a consumer stalls)."""
    from newspipe import ops

    if lag:
        from prometheus_client import REGISTRY

        from newspipe.lag import consumer_lag

        REGISTRY.register(ops.Lag(lambda: consumer_lag(settings)))
    ops.serve(service, settings.ops.host, settings.ops.port(service))


@stack.command("down")
@click.option(
    "--only",
    type=click.Choice(["kafka", "elasticsearch"]),
    multiple=True,
    help="stop only this server (e.g. to rehearse an outage; `stack up` starts it again)",
)
@click.pass_obj
def stack_down(settings: Settings, only: tuple[str, ...]) -> None:
    """Stop both servers cleanly."""
    import newspipe.tools.stack as local

    local.down(settings.stack, only or local.SERVERS)


@stack.command("status")
@click.pass_obj
def stack_status(settings: Settings) -> None:
    """Say what runs where."""
    import newspipe.tools.stack as local

    _print_status(local.status(settings.stack))


def _print_status(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        state = "healthy" if row.get("healthy") else ("running" if row.get("running") else "down")
        click.echo(
            f"{row['name']:<14} {state:<8} pid={row.get('pid')} {row.get('address')} "
            f"data={row.get('data_dir')} log={row.get('log_file')}"
        )


@main.command("ingest")
@click.pass_obj
def ingest_cmd(settings: Settings) -> None:
    """Watch the inbox and publish each new article to news.raw."""
    from services.ingest.watch import watch

    _preflight(settings)
    _ops_endpoint(settings, "ingest", lag=True)
    watch(settings.kafka, settings.ingest, _stop_on_signals())


@main.command("index")
@click.pass_obj
def index_cmd(settings: Settings) -> None:
    """Consume news.enriched and bulk-write to Elasticsearch."""
    from newspipe.config import message_max_bytes
    from services.index.sink import Sink

    _preflight(settings, es=True)
    _ops_endpoint(settings, "index")
    limit = message_max_bytes(settings.ingest)
    stop = _stop_on_signals()
    Sink(settings.kafka, settings.es, settings.index, limit, stop, settings.alert).run()


@main.command("enrich")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="offline: print one document per line")
@click.pass_obj
def enrich_cmd(settings: Settings, paths: tuple[Path, ...], as_json: bool) -> None:
    """With PATHs: enrich files offline (no Kafka/ES) and print JSON lines. Without: the worker."""
    if paths:
        from newspipe.tools.offline import enrich_paths

        for doc in enrich_paths(list(paths)):
            click.echo(doc.model_dump_json() if as_json else f"{doc.id[:12]} {doc.title}")
        return
    from services.enrich.app import Worker, create_app
    from services.enrich.heap import return_large_blocks

    return_large_blocks()  # the link index's merges: freed arrays go back (heap.py)
    _preflight(settings)
    _ops_endpoint(settings, "enrich")
    settings.enrich.datadir.parent.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    worker = Worker(app, loglevel=settings.log_level.lower())
    worker.execute_from_commandline()


@main.command("replay")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def replay_cmd(settings: Settings, paths: tuple[Path, ...]) -> None:
    """Publish every article file under PATHS (files are not moved)."""
    from services.ingest.watch import replay

    _preflight(settings)
    counts = replay(settings.kafka, list(paths), settings.ingest)
    click.echo(f"published {counts['published']}, not published {counts['rejected']}")


@main.command("run")
@click.option(
    "--replay",
    "replay_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="replay this folder once the services are up (e.g. seeds/)",
)
@click.pass_obj
def run_cmd(settings: Settings, replay_dir: Path | None) -> None:
    """Start ingest, enrich and index as supervised processes (one that exits is restarted with
    backoff, the others keep running); Ctrl-C stops them."""
    from newspipe.config import port_clashes
    from newspipe.tools.supervise import Child, supervise

    clashes = port_clashes(settings)
    if clashes:
        raise click.UsageError(
            "two services would listen on one port; give each its own: " + "; ".join(clashes)
        )
    exe = [sys.executable, "-m", "newspipe"]
    ops = settings.ops
    children = [
        Child(
            name,
            lambda name=name: subprocess.Popen([*exe, name]),  # type: ignore[misc]
            health_url=None if name == "dashboard" else f"http://{ops.host}:{ops.port(name)}",
        )
        for name in ("index", "enrich", "ingest", "notify", "dashboard")
    ]
    stop = _stop_on_signals()
    if replay_dir is not None:
        threading.Thread(
            target=_replay_when_ready, args=(settings, replay_dir), daemon=True
        ).start()
    click.echo(f"pipeline running; drop article files into {settings.ingest.inbox.resolve()}")
    supervise(children, stop)


def _replay_when_ready(settings: Settings, folder: Path) -> None:
    from newspipe.tools.bootstrap import wait_for_group
    from services.ingest.watch import replay

    try:
        wait_for_group(settings, timeout=180)
        counts = replay(settings.kafka, [folder], settings.ingest)
        logging.getLogger("newspipe").info("replayed %s: %s", folder, counts)
    except Exception as exc:  # the services keep running; the user can replay again by hand
        logging.getLogger("newspipe").error("replay of %s failed: %s", folder, exc)


def _filters(fn: Callable[..., None]) -> Callable[..., None]:
    """The analyst's filters, shared by `search` and `stories`: seven options, passed to the
    command as one `filters` (newspipe.tools.query.Filters)."""
    options = [
        click.option("--topic", default=None, help="a topic id (e.g. jmc-5plus5)"),
        click.option("--entity", default=None, help="an actor, place or organisation: any alias"),
        click.option("--outlet", default=None, help="an outlet, as sources name it"),
        click.option("--lang", default=None, help="a language code: en, ar, fr"),
        click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None),
        click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None),
        click.option(
            "--on-track/--off-track",
            "on_track",
            default=None,
            help="only articles on Libya's security track / only those off it (default: both)",
        ),
    ]

    @functools.wraps(fn)
    def with_filters(*args: Any, **kwargs: Any) -> None:
        from newspipe.tools.query import Filters

        since, until = kwargs.pop("since"), kwargs.pop("until")
        filters = Filters(
            topic=kwargs.pop("topic"),
            entity=kwargs.pop("entity"),
            outlet=kwargs.pop("outlet"),
            lang=kwargs.pop("lang"),
            since=since.date() if since else None,
            until=until.date() if until else None,
            on_track=kwargs.pop("on_track"),
        )
        fn(*args, filters=filters, **kwargs)

    command: Callable[..., None] = with_filters
    for option in reversed(options):
        command = option(command)
    return command


@main.command("search")
@click.argument("query", required=False)
@click.option("--size", default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per hit")
@_filters
@click.pass_obj
def search_cmd(
    settings: Settings, query: str | None, size: int, as_json: bool, filters: Any
) -> None:
    """Search (any language and script; a known actor, place or organisation found under any of
    its aliases). Prints title, outlet, date (p: published, i: ingested), language, topics and
    story; with no QUERY, the newest articles the filters keep."""
    from newspipe.tools.query import article_date, search

    hits = search(settings, query, size, filters)
    if as_json:
        for hit in hits:
            click.echo(orjson.dumps(hit).decode())
        return
    click.echo(f"{'date':<12} {'lang':<4} {'outlet':<22} {'story':<8} {'topics':<34} title")
    for hit in hits:
        day, kind = article_date(hit)
        outlet = (hit.get("source") or {}).get("outlet") or "-"
        topics = ",".join(t["id"] for t in hit.get("topics", [])[:3]) or "-"
        title = hit.get("title") or hit.get("body", "")[:60].replace("\n", " ")
        click.echo(
            f"{day} {kind[0]:<1} {hit.get('language', '?'):<4} {outlet[:22]:<22} "
            f"{hit['story']['id'][:8]:<8} {topics[:34]:<34} {title[:70]}"
        )
    click.echo(f"({len(hits)} shown; dates: p published, i ingested when unknown)")


@main.command("stories")
@click.option("--size", default=20, show_default=True)
@_filters
@click.pass_obj
def stories_cmd(settings: Settings, size: int, filters: Any) -> None:
    """List stories, newest first: size, outlets named by the sources, languages, first and last
    date (publication dates where known, else ingestion: said so), a representative title."""
    from newspipe.tools.query import stories

    for s in stories(settings, size, filters):
        click.echo(
            f"{s['story'][:12]}  {s['size']:>3} articles  {s['outlets']:>2} outlets"
            f"  {'/'.join(s['languages']):<8}  {s['first']} .. {s['last']} ({s['dates']})"
            f"  {s['title']}"
        )


@main.command("status")
@click.pass_obj
def status_cmd(settings: Settings) -> None:
    """The pipeline on one screen: servers, consumer lag per group and partition, documents
    indexed (the last one, the last minute's), dead letters of the last hour."""
    from newspipe.tools.status import report

    for line in report(settings):
        click.echo(line)


@main.command("notify")
@click.pass_obj
def notify_cmd(settings: Settings) -> None:
    """Consume news.alerts and POST each alert to its watch's webhook (retried, then
    dead-lettered with the reason)."""
    from newspipe.config import message_max_bytes
    from services.notify.loop import Notifier

    _preflight(settings, es=True)
    _ops_endpoint(settings, "notify")
    limit = message_max_bytes(settings.ingest)
    Notifier(settings.kafka, settings.es, settings.alert, limit, _stop_on_signals()).run()


@main.group("watch")
def watch_group() -> None:
    """Standing queries: a watch raises an alert when something new happens on what it watches
    (`newspipe alerts` prints them)."""


def _watch_errors(fn: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> None:
        from newspipe.tools.watches import WatchError

        try:
            fn(*args, **kwargs)
        except WatchError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapped


@watch_group.command("add")
@click.argument("name")
@click.option("--query", "text", default=None, help="words, as `newspipe search` takes them")
@click.option("--topic", "topics", multiple=True, help="a topic id (repeatable: any of them)")
@click.option(
    "--entity",
    "entities",
    multiple=True,
    help="an actor, place or organisation, any alias or script (repeatable: any of them)",
)
@click.option("--outlet", "outlets", multiple=True, help="an outlet (repeatable)")
@click.option("--lang", "languages", multiple=True, help="a language code (repeatable)")
@click.option("--on-track", is_flag=True, help="only articles on Libya's security track")
@click.option(
    "--trigger",
    type=click.Choice(["new-story", "growth", "new-language"]),
    default="new-story",
    show_default=True,
    help="new-story: every story new to the watch; growth: a story reaching --articles or "
    "--outlets within --window hours; new-language: a story's first report in another language",
)
@click.option("--articles", type=int, default=None, help="growth: articles within the window")
@click.option("--outlets", "outlet_count", type=int, default=None, help="growth: outlets within")
@click.option("--window", type=float, default=24.0, show_default=True, help="growth: hours")
@click.option("--webhook", default=None, help="also POST each alert (JSON) to this URL")
@click.option("--replace", is_flag=True, help="redefine a watch of that name")
@click.pass_obj
@_watch_errors
def watch_add(
    settings: Settings,
    name: str,
    text: str | None,
    topics: tuple[str, ...],
    entities: tuple[str, ...],
    outlets: tuple[str, ...],
    languages: tuple[str, ...],
    on_track: bool,
    trigger: str,
    articles: int | None,
    outlet_count: int | None,
    window: float,
    webhook: str | None,
    replace: bool,
) -> None:
    """Add the watch NAME: what it watches (all the options given must match; a repeated option
    matches any of its values) and when it speaks."""
    from pydantic import ValidationError

    from newspipe.contract import Trigger
    from newspipe.tools.watches import WatchError, add, compile_watch, describe

    try:
        when = Trigger(
            kind=trigger,
            articles=articles,
            outlets=outlet_count,
            window_hours=window,
        )
        watch = compile_watch(
            name, text, topics, entities, outlets, languages, on_track, when, webhook
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise WatchError(f"invalid watch: {first['loc']}: {first['msg']}") from None
    add(settings, watch, replace)
    click.echo(f"watch {name}: {describe(watch)}")


@watch_group.command("list")
@click.pass_obj
def watch_list(settings: Settings) -> None:
    """Every watch, one line each."""
    from newspipe.tools.watches import all_watches, describe

    watches = all_watches(settings)
    for watch in watches:
        click.echo(f"{watch.name:<20} {describe(watch)}")
    if not watches:
        click.echo("no watches (add one with `newspipe watch add NAME --topic ...`)")


@watch_group.command("show")
@click.argument("name")
@click.pass_obj
@_watch_errors
def watch_show(settings: Settings, name: str) -> None:
    """The watch NAME in full, its compiled query included (the webhook by host only)."""
    from newspipe.tools.watches import describe, get
    from services.notify.core import redact

    watch = get(settings, name)
    data = watch.model_dump(mode="json")
    if watch.webhook:
        data["webhook"] = redact(watch.webhook)
    click.echo(f"{name}: {describe(watch)}")
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@watch_group.command("remove")
@click.argument("name")
@click.pass_obj
@_watch_errors
def watch_remove(settings: Settings, name: str) -> None:
    """Remove the watch NAME (its alerts stay in the alerts index)."""
    from newspipe.tools.watches import remove

    remove(settings, name)
    click.echo(f"watch {name} removed")


@watch_group.command("test")
@click.argument("name")
@click.option("--since", default="7d", show_default=True, help="7d, 12h, 30m or YYYY-MM-DD")
@click.pass_obj
@_watch_errors
def watch_test(settings: Settings, name: str, since: str) -> None:
    """Replay the watch NAME's trigger over the articles indexed since --since, in the order
    they arrived: the alerts it would have raised. Nothing is written or sent."""
    from newspipe.tools.watches import alert_lines, backtest, get, parse_since

    watch = get(settings, name)
    alerts = backtest(settings, watch, parse_since(since))
    for alert in alerts:
        for line in alert_lines(alert.model_dump(mode="json")):
            click.echo(line)
    click.echo(f"({len(alerts)} alert(s) would have been raised since {since}; none sent)")


@main.command("alerts")
@click.option("--follow", is_flag=True, help="keep printing alerts as they are raised")
@click.option("--watch", "watch_name", default=None, help="only this watch's alerts")
@click.option("--size", default=20, show_default=True, help="how many of the latest to show")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per alert")
@click.pass_obj
def alerts_cmd(
    settings: Settings, follow: bool, watch_name: str | None, size: int, as_json: bool
) -> None:
    """The watches' alerts, oldest first: when, which watch, which trigger, which story and
    articles, and why."""
    from newspipe.tools.watches import alert_lines, recent
    from newspipe.tools.watches import follow as follow_alerts

    alerts = (
        follow_alerts(settings, watch_name, size) if follow else recent(settings, size, watch_name)
    )
    shown = 0
    try:
        for alert in alerts:
            shown += 1
            if as_json:
                click.echo(orjson.dumps(alert).decode())
            else:
                for line in alert_lines(alert):
                    click.echo(line)
    except KeyboardInterrupt:
        return
    if not follow and not as_json:
        click.echo(f"({shown} alert(s))")


@main.command("dashboard")
@click.pass_obj
def dashboard_cmd(settings: Settings) -> None:
    """Serve the coverage dashboard (NEWSPIPE_DASHBOARD__HOST/__PORT, 127.0.0.1:8050): weekly
    coverage by topic, stories, actors, outlets, languages, under filters; a page per story."""
    from newspipe.tools.dashboard import serve

    click.echo(f"dashboard on http://{settings.dashboard.host}:{settings.dashboard.port}/")
    serve(settings)


@main.command("eval")
@click.argument("labels", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--undated", is_flag=True, help="drop the publication dates the files' headers give")
@click.option("--json", "as_json", is_flag=True, help="print the scores as JSON")
@click.option("--pooled", is_flag=True, help="also the corpora's counts summed, as one corpus")
@click.pass_obj
def eval_cmd(
    settings: Settings, labels: tuple[Path, ...], undated: bool, as_json: bool, pooled: bool
) -> None:
    """Score the enrichment against labelled corpora (tests/data/*/labels.yaml): entities per
    type and language, topics, the off-track verdict, near-duplicate and story pairs (story
    recall split into same- and cross-language pairs), whichever the labels carry."""
    import json

    from newspipe.tools.evaluate import evaluate, pool, render

    results = []
    for path in labels:
        result = evaluate(path, undated=undated)
        results.append(result)
        if as_json:
            click.echo(json.dumps({"labels": str(path), "undated": undated, **result}))
        else:
            click.echo(f"== {path}{' (undated)' if undated else ''}")
            click.echo(render(result))
    if pooled:
        both = pool(results)
        if as_json:
            click.echo(json.dumps({"labels": "pooled", "undated": undated, **both}))
        else:
            click.echo(f"== pooled: {len(results)} corpora")
            click.echo(render(both))


@main.command("calibrate-topics")
@click.argument("labels", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def calibrate_topics_cmd(labels: tuple[Path, ...]) -> None:
    """Sweep each topic's threshold on labelled tune corpora (never a blind part) and print the
    present and the best threshold with tp/fp/fn and F1; edit topics.yaml by hand."""
    from newspipe.tools.calibrate import calibrate
    from newspipe.tools.evaluate import BlindRefused

    try:
        rows = calibrate(list(labels))
    except BlindRefused as exc:
        raise click.UsageError(str(exc)) from exc
    for row in rows:
        if "present" in row:
            b, a = row["before"], row["after"]
            click.echo(
                f"{row['topic']:<24} {row['present']:>5} tp/fp/fn {b} -> {row['best']:>5} {a}"
            )
        else:
            click.echo(f"{row['topic']:<24} tp/fp/fn {row['tp_fp_fn']} micro-F1 {row['f1']:.3f}")


@main.command("train-topics")
@click.argument("labels", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="where to write the model (default: the knowledge pack's, topics.yaml `model.file`)",
)
def train_topics_cmd(labels: tuple[Path, ...], out: Path | None) -> None:
    """Train the topics' text model on labelled tune corpora (LABELS, default the pack's
    `model.trained_on`, from the repository's root; never a blind or sealed part, nor a tune
    article one of them also holds) and write it into the knowledge pack. Needs the dev
    dependencies (scikit-learn)."""
    from newspipe.tools.evaluate import BlindRefused
    from newspipe.tools.train_topics import examples, train
    from services.enrich.knowledge import PACK_DIR, topic_model_spec

    spec = topic_model_spec()
    chosen = list(labels) or [Path(p) for p in spec.get("trained_on", [])]
    if not chosen:
        raise click.UsageError("no labels given, and the pack lists none (model.trained_on)")
    try:
        texts, targets, skipped, on_track = examples(chosen, Path.cwd())
    except BlindRefused as exc:
        raise click.UsageError(str(exc)) from exc
    model = train(texts, targets, on_track)
    path = out or PACK_DIR / spec.get("file", "topic-model.npz")
    model.save(path)
    click.echo(f"{len(texts)} articles ({skipped} left out: also in a blind or sealed part)")
    for topic in model.topics:
        click.echo(f"  {topic:<24} {sum(topic in t for t in targets):>4} labelled")
    verdicts = [v for v in on_track if v is not None]
    click.echo(f"  {'on-track head':<24} {len(verdicts):>4} verdicts ({verdicts.count(False)} off)")
    click.echo(f"written: {path}")


@main.command("eval-formats")
@click.argument("folders", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--misses", is_flag=True, help="list every miss")
def eval_formats_cmd(folders: tuple[Path, ...], misses: bool) -> None:
    """Score what ingest reads from real-shaped inputs against helpers' labels: datelines
    (publication date, credited outlet) and saved web pages (boilerplate left in the body, body
    completeness, title, outlet, date). FOLDERS default to the corpora's tune and blind parts."""
    from newspipe.tools.formats_eval import DEFAULT_FOLDERS, score

    for folder in folders or DEFAULT_FOLDERS:
        result = score(folder)
        click.echo(f"== {folder}")
        for key, value in result.items():
            if key != "misses":
                click.echo(f"  {key}: {value}")
        if misses:
            click.echo("".join(f"  - {m}\n" for m in result["misses"]), nl=False)


@main.group("dlq")
def dlq_group() -> None:
    """Inspect and replay the dead-letter topic (news.dlq)."""


_STAGES = click.Choice(["ingest", "enrich", "index", "notify"])


@dlq_group.command("list")
@click.option("--stage", type=_STAGES, default=None, help="only letters of this stage")
@click.option("--reason", default=None, help="only letters whose reason contains this (any case)")
@click.option("--all", "include_replayed", is_flag=True, help="include letters already replayed")
@click.pass_obj
def dlq_list(
    settings: Settings, stage: str | None, reason: str | None, include_replayed: bool
) -> None:
    """Counts per stage and reason class, then one line per letter not yet replayed."""
    from newspipe.tools.dlq import list_command

    _echo_dlq(lambda: (list_command(settings, stage, reason, include_replayed), True))


@dlq_group.command("show")
@click.argument("offset")
@click.option("--full", is_flag=True, help="do not shorten the payload")
@click.pass_obj
def dlq_show(settings: Settings, offset: str, full: bool) -> None:
    """Every field of the letter at OFFSET, the reason in full, the payload pretty-printed."""
    from newspipe.tools.dlq import show_command

    _echo_dlq(lambda: (show_command(settings, offset, full), True))


@dlq_group.command("replay")
@click.option("--stage", type=_STAGES, default=None, help="only letters of this stage")
@click.option("--reason", default=None, help="only letters whose reason contains this (any case)")
@click.option("--offset", "offsets", multiple=True, help="only this letter (repeatable)")
@click.option("--dry-run", is_flag=True, help="say what would be replayed; publish nothing")
@click.pass_obj
def dlq_replay(
    settings: Settings,
    stage: str | None,
    reason: str | None,
    offsets: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Re-publish letters not yet replayed to the topic they failed on (key and headers kept)."""
    from newspipe.tools.dlq import replay_command

    _echo_dlq(lambda: replay_command(settings, stage, reason, offsets, dry_run))


def _echo_dlq(run: Callable[[], tuple[list[str], bool]]) -> None:
    """Print a dlq command's lines; its errors as one line; exit 1 if a letter was not replayed."""
    from newspipe.tools.dlq import DlqError

    try:
        lines, ok = run()
    except DlqError as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)
    if not ok:
        sys.exit(1)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


if __name__ == "__main__":
    main()
