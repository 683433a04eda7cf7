"""The coverage dashboard (`newspipe dashboard`): a Dash app (Flask + Plotly, every asset served
from the installed packages, no internet needed) reading Elasticsearch aggregations live.

One page of panels (articles per week stacked by topic, distinct stories per week, top actors
with their camp, outlets, languages, near-duplicate and off-track shares, the newest articles)
under one set of filters and a search box (the CLI's query), refreshed every few seconds; the
watches' latest alerts (`newspipe watch`), each linked to its story; and a page per story
(/story/<id>): its members, actors, places, dates and why they were joined.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html

from newspipe.clients import ConfigError
from newspipe.config import Settings
from newspipe.contract import TOPIC_IDS
from newspipe.tools.coverage import coverage, outlet_names, story
from newspipe.tools.query import Filters, article_date, entity_ids, search

REFRESH_MS = 5_000  # polling: a dropped article shows within one refresh after it is indexed
ALERTS_SHOWN = 8


def create_app(settings: Settings) -> Dash:
    app = Dash(__name__, title="newspipe coverage", suppress_callback_exceptions=True)
    app.layout = html.Div(
        [dcc.Location(id="url"), dcc.Interval(id="tick", interval=REFRESH_MS), html.Div(id="page")],
        style={"fontFamily": "sans-serif", "margin": "12px"},
    )

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def route(path: str | None) -> Any:
        if path and path.startswith("/story/"):
            return _story_page(settings, path.removeprefix("/story/"))
        return _main_layout()

    @app.callback(
        [Output(name, "children") for name in ("totals", "actors-note", "articles")]
        + [
            Output(name, "figure")
            for name in ("weekly", "stories", "actors", "outlets", "languages")
        ],
        [Input("tick", "n_intervals")]
        + [Input(name, "value") for name in ("q", "topic", "actor", "outlet", "lang")]
        + [Input("dates", "start_date"), Input("dates", "end_date")],
    )
    def refresh(  # the panels, all under the same filters
        _tick: Any,
        q: str | None,
        topic: str | None,
        actor: str | None,
        outlet: str | None,
        lang: str | None,
        start: str | None,
        end: str | None,
    ) -> list[Any]:
        filters = Filters(
            topic=topic or None,
            entity=actor or None,
            outlet=outlet or None,
            lang=lang or None,
            since=date.fromisoformat(start[:10]) if start else None,
            until=date.fromisoformat(end[:10]) if end else None,
        )
        figures = coverage(settings, q or None, filters)
        newest = search(settings, q or None, 15, filters)
        return [
            _totals(figures),
            _actor_note(actor),
            _articles(newest),
            _weekly(figures),
            _stories(figures),
            _bars(figures["actors"], "actors", lambda a: f"{a['name']} ({a['camp'] or '-'})"),
            _bars(
                [{"name": o, "count": n} for o, n in figures["outlets"]],
                "outlets",
                lambda o: o["name"],
            ),
            _languages(figures),
        ]

    @app.callback(Output("alerts", "children"), Input("tick", "n_intervals"))
    def alerts(_tick: Any) -> html.Table | str:
        from newspipe.tools.watches import recent

        latest = list(reversed(recent(settings, ALERTS_SHOWN)))
        return _alerts(latest) if latest else "no alerts yet (add a watch: newspipe watch add)"

    @app.callback(
        Output("outlet", "options"), Input("tick", "n_intervals"), State("outlet", "value")
    )
    def outlets(_tick: Any, _value: Any) -> list[str]:
        return outlet_names(settings)  # a terms aggregation, not every panel's figures again

    return app


def _main_layout() -> html.Div:
    row = {"display": "flex", "gap": "8px", "flexWrap": "wrap", "alignItems": "center"}
    half = {"width": "49%", "display": "inline-block", "verticalAlign": "top"}
    return html.Div(
        [
            html.H2("Libya security track: coverage"),
            html.Div(
                [
                    dcc.Input(
                        id="q",
                        type="search",
                        placeholder="search (any script: الناظوري, Nadhouri)",
                        debounce=True,
                        style={"width": "280px"},
                    ),
                    dcc.Dropdown(
                        id="topic",
                        options=list(TOPIC_IDS),
                        placeholder="topic",
                        style={"width": "220px"},
                    ),
                    dcc.Input(
                        id="actor",
                        type="text",
                        placeholder="actor, place or organisation",
                        debounce=True,
                    ),
                    dcc.Dropdown(
                        id="outlet", options=[], placeholder="outlet", style={"width": "200px"}
                    ),
                    dcc.Dropdown(
                        id="lang",
                        options=["en", "ar", "fr"],
                        placeholder="language",
                        style={"width": "120px"},
                    ),
                    dcc.DatePickerRange(id="dates", display_format="YYYY-MM-DD", clearable=True),
                ],
                style=row,
            ),
            html.Div(id="actors-note", style={"color": "#666", "fontSize": "small"}),
            html.Div(id="totals", style={"margin": "10px 0", "fontSize": "large"}),
            html.Details(
                [html.Summary("Latest alerts of the watches"), html.Div(id="alerts")],
                open=True,
            ),
            dcc.Graph(id="weekly"),
            dcc.Graph(id="stories", style={"height": "280px"}),
            html.Div([dcc.Graph(id="actors")], style=half),
            html.Div([dcc.Graph(id="outlets")], style=half),
            html.Div([dcc.Graph(id="languages")], style=half),
            html.Div([html.H3("Newest articles"), html.Div(id="articles")], style=half),
        ]
    )


def _totals(f: dict[str, Any]) -> list[Any]:
    return [
        html.Span(f"{f['total']}", id="total-articles"),
        " articles, ",
        html.Span(f"{f['stories']}", id="total-stories"),
        " stories; near-duplicates ",
        html.Span(f"{f['duplicate_share']:.0%}", id="duplicate-share"),
        ", off-track ",
        html.Span(f"{f['off_track_share']:.0%}", id="off-track-share"),
        f"; {f['dated_share']:.0%} dated by publication, the rest by ingestion",
    ]


def _actor_note(actor: str | None) -> str:
    if not actor:
        return ""
    ids = entity_ids(actor)
    return (
        f"actor filter: {', '.join(ids)}"
        if ids
        else f"actor filter: no pack entity named {actor!r}"
    )


def _weekly(f: dict[str, Any]) -> go.Figure:
    fig = go.Figure(
        [go.Bar(name=t, x=f["weeks"], y=ys) for t, ys in f["topics_per_week"].items()],
        layout={
            "barmode": "stack",
            "title": "Articles per week by topic (an article counts once per topic it carries;"
            " week of publication, of ingestion where unknown)",
            "height": 380,
            "xaxis": {"type": "category", "title": "week starting"},
        },
    )
    fig.add_trace(
        go.Scatter(
            name="articles",
            x=f["weeks"],
            y=f["articles_per_week"],
            mode="markers",
            marker={"color": "black"},
        )
    )
    return fig


def _stories(f: dict[str, Any]) -> go.Figure:
    return go.Figure(
        [go.Scatter(name="stories", x=f["weeks"], y=f["stories_per_week"], mode="lines+markers")],
        layout={
            "title": "Distinct stories per week",
            "height": 280,
            "xaxis": {"type": "category", "title": "week starting"},
        },
    )


def _bars(items: list[dict[str, Any]], title: str, label: Any) -> go.Figure:
    items = list(reversed(items))
    return go.Figure(
        [go.Bar(x=[i["count"] for i in items], y=[label(i) for i in items], orientation="h")],
        layout={"title": f"Top {title}", "height": 420, "margin": {"l": 220}},
    )


def _languages(f: dict[str, Any]) -> go.Figure:
    return go.Figure(
        [go.Pie(labels=[k for k, _ in f["languages"]], values=[n for _, n in f["languages"]])],
        layout={"title": "Language mix", "height": 320},
    )


def _articles(hits: list[dict[str, Any]]) -> html.Table:
    rows = []
    for h in hits:
        day, kind = article_date(h)
        rows.append(
            html.Tr(
                [
                    html.Td(f"{day} ({kind[0]})"),
                    html.Td(h.get("language", "")),
                    html.Td((h.get("source") or {}).get("outlet") or "-"),
                    html.Td(
                        dcc.Link(
                            h.get("title") or h.get("body", "")[:60],
                            href=f"/story/{h['story']['id']}",
                        )
                    ),
                ],
                className="article",
            )
        )
    return html.Table(
        [
            html.Tr(
                [
                    html.Th("date (p/i)"),
                    html.Th("lang"),
                    html.Th("outlet"),
                    html.Th("title: its story"),
                ]
            ),
            *rows,
        ]
    )


def _alerts(alerts: list[dict[str, Any]]) -> html.Table:
    """Newest first: when, watch, trigger, the first new article (a link to its story), why."""
    rows = [
        html.Tr(
            [
                html.Td(str(a["created_at"])[:16].replace("T", " ")),
                html.Td(a["watch"]),
                html.Td(a["trigger"] + (f" ({a['language']})" if a.get("language") else "")),
                html.Td(
                    dcc.Link(
                        next((t for t in a.get("titles") or [] if t), a["story"][:12]),
                        href=f"/story/{a['story']}",
                    )
                ),
                html.Td("; ".join(a.get("why", [])[:3]), style={"fontSize": "small"}),
            ],
            className="alert",
        )
        for a in alerts
    ]
    header = html.Tr([html.Th(h) for h in ("raised (UTC)", "watch", "trigger", "story", "why")])
    return html.Table([header, *rows])


def _story_page(settings: Settings, story_id: str) -> html.Div:
    data = story(settings, story_id)
    members = data["members"]
    rows = [
        html.Tr(
            [
                html.Td(m["title"]),
                html.Td(m["outlet"] or "-"),
                html.Td(m["language"]),
                html.Td(f"{m['date']} ({m['date_kind']})"),
                html.Td((m["duplicate_of"] or "")[:12]),
            ],
            className="member",
        )
        for m in members
    ]
    actors = sorted({a for m in members for a in m["actors"]})
    places = sorted({p for m in members for p in m["places"]})
    dates = sorted({d for m in members for d in m["dates"]})
    return html.Div(
        [
            dcc.Link("← coverage", href="/"),
            html.H2(f"Story {story_id[:12]}: {len(members)} articles", id="story-title"),
            html.Table(
                [
                    html.Tr(
                        [html.Th(h) for h in ("title", "outlet", "lang", "date", "duplicate of")]
                    ),
                    *rows,
                ],
                id="members",
            ),
            html.P(f"Actors: {', '.join(actors) or '-'}"),
            html.P(f"Places: {', '.join(places) or '-'}; event dates: {', '.join(dates) or '-'}"),
            html.H3("Why these articles are one story"),
            html.Ul(
                [html.Li(line) for line in data["why"]] or [html.Li("a single article")], id="why"
            ),
        ]
    )


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(settings: Settings) -> None:
    """Serve on the configured address; anything but loopback only with a password."""
    cfg = settings.dashboard
    if cfg.host not in LOOPBACK and cfg.password is None:
        raise ConfigError(
            f"the dashboard would listen on {cfg.host}, beyond this machine, without a password:"
            " set NEWSPIPE_DASHBOARD__PASSWORD (or keep NEWSPIPE_DASHBOARD__HOST=127.0.0.1)"
        )
    app = create_app(settings)
    if cfg.password is not None:
        _basic_auth(app, cfg.username, cfg.password.get_secret_value())
    app.run(host=cfg.host, port=cfg.port, debug=False)


def _basic_auth(app: Dash, username: str, password: str) -> None:
    """HTTP basic auth in front of every page, asset and callback."""
    import hmac

    from flask import Response, request

    def check() -> Response | None:
        auth = request.authorization
        ok = (
            auth is not None
            and hmac.compare_digest(auth.username or "", username)
            and hmac.compare_digest(auth.password or "", password)
        )
        if ok:
            return None
        return Response("login required", 401, {"WWW-Authenticate": 'Basic realm="newspipe"'})

    app.server.before_request(check)
