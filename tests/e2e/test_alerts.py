"""Standing queries on the whole pipeline (`newspipe run`), on real Kafka and Elasticsearch:
watches added with the CLI, articles dropped into the inbox, alerts read back with
`newspipe alerts`, from news.alerts and from webhooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from newspipe.config import Settings
from newspipe.contract import DeadLetter
from newspipe.tools.status import consumer_lag
from tests.conftest import run_cli, topic_records
from tests.e2e.test_pipeline import ARTIFACTS, Pipeline, _browser, _get, running, wait_for

JMC = """Joint Military Commission meets in Sirte to review the ceasefire

The 5+5 Joint Military Commission met in Sirte on Monday to review the implementation of the
ceasefire agreement and the withdrawal of mercenaries and foreign fighters, the UN mission said.

The commission's members, five officers from each side, discussed the reopening of the coastal
road and the exchange of detainees, and agreed to meet again next month in Ghadames.
"""

NATHORI = """Eastern chief of staff receives Italian defence delegation in Benghazi

Lieutenant General Abdelrazik Al-Nathori, chief of staff of the forces led by Khalifa Haftar,
received an Italian defence delegation in Benghazi on Wednesday to discuss training programmes
and the protection of the southern border.

Al-Nathori's office said the two sides reviewed cooperation on demining and on the fight
against smuggling networks operating across the desert frontier with Niger and Chad.
"""

WIRE = """The Ras Ajdir crossing on the border between Libya and Tunisia reopened to travellers
on Thursday after a closure of several weeks, officials on both sides said.

Libyan interior ministry officials said new security arrangements had been agreed for the
crossing, including joint patrols and a unified registry of travellers and vehicles.

Tunisian customs officers said hundreds of cars had already crossed in both directions by
midday, and that commercial traffic would resume gradually over the coming days.

The closure had disrupted trade in the border towns of Zuwara and Ben Guerdane, where many
families depend on cross-border commerce for their income.
"""
LEADS = [
    "TRIPOLI (Reuters) -",
    "TUNIS, (AFP) -",
    "Libya Observer -",
    "Libya Herald reports:",
    "By our correspondent:",
    "(ANSA) -",
    "Al Wasat:",
    "(Xinhua) -",
    "(AA) -",
    "TRIPOLI, Libya (AP) -",
]

KUFRA = """Kufra border patrols intercept migrant smuggling convoy

Border guards in Kufra intercepted a convoy of smuggling vehicles near the border with Sudan on
Saturday, the southern military region said, detaining several drivers.

The patrols were reinforced this year after fighting in Sudan pushed thousands of people north
across the desert, and the military region said joint operations would continue.
"""


def _newspipe(*args: str, check: bool = True) -> str:
    done = run_cli(*args, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"newspipe {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def _alerts(watch: str | None = None) -> list[dict[str, Any]]:
    out = _newspipe("alerts", "--json", "--size", "100", *(["--watch", watch] if watch else []))
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


class Hooks(BaseHTTPRequestHandler):
    """/ok/...: 200; /fail/...: 500 while `failing`; every request kept."""

    received: ClassVar[list[tuple[str, dict[str, str], bytes, int]]] = []
    failing: ClassVar[bool] = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        status = 500 if self.path.startswith("/fail/") and Hooks.failing else 200
        Hooks.received.append((self.path, dict(self.headers), body, status))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hooks() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    tmp = tmp_path_factory.mktemp("alerts")
    with running(tmp, {"NEWSPIPE_ALERT__WEBHOOK_ATTEMPTS": "3"}) as started:
        yield started


def _drop(pipeline: Pipeline, name: str, text: str) -> float:
    """Write an article into the inbox as a user's copy would (aside, then renamed): the time."""
    inbox = pipeline.settings.ingest.inbox
    (inbox.parent / name).write_text(text, "utf-8")
    started = time.time()
    (inbox.parent / name).rename(inbox / name)
    return started


def test_a_dropped_jmc_article_raises_one_alert_within_seconds(pipeline: Pipeline) -> None:
    out = _newspipe("watch", "add", "jmc", "--topic", "jmc-5plus5")
    assert "watch jmc: topic jmc-5plus5 -> every new story" in out
    started = _drop(pipeline, "jmc.txt", JMC)
    alerts = wait_for(lambda: _alerts("jmc"), 60, "an alert of watch jmc")
    shown_after = time.time() - started
    raised = datetime.fromisoformat(alerts[0]["created_at"]).timestamp()
    print(
        f"\ndrop -> alert raised {raised - started:.2f} s; -> shown by a `newspipe alerts` "
        f"poll {shown_after:.2f} s"
    )
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["trigger"] == "new-story" and alert["sent"] is True
    assert alert["titles"] == ["Joint Military Commission meets in Sirte to review the ceasefire"]
    assert any(w.startswith("topic jmc-5plus5") for w in alert["why"])
    records = topic_records(pipeline.settings, pipeline.settings.kafka.alerts_topic)
    assert [r.key.decode() for r in records] == [alert["id"]]
    shown = _newspipe("alerts")
    assert "jmc" in shown and "new-story" in shown and "(1 alert(s))" in shown


def test_a_watch_on_an_actor_named_in_arabic_fires_for_english_articles(
    pipeline: Pipeline,
) -> None:
    out = _newspipe("watch", "add", "nadhouri", "--entity", "الناظوري")
    assert "entity Abdulrazzaq al-Nadhouri" in out
    follow = subprocess.Popen(
        [sys.executable, "-m", "newspipe", "alerts", "--follow", "--watch", "nadhouri"],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(follow.stdout or []), daemon=True).start()
    try:
        time.sleep(3)  # `alerts --follow` has printed the (no) earlier alerts and polls
        _drop(pipeline, "nathori.txt", NATHORI)
        wait_for(lambda: any("nadhouri" in x for x in lines), 60, "the alert, followed")
    finally:
        follow.terminate()
        follow.wait(timeout=30)
    assert any("Eastern chief of staff receives Italian defence delegation" in x for x in lines)
    alerts = wait_for(lambda: _alerts("nadhouri"), 60, "an alert of watch nadhouri")
    assert len(alerts) == 1
    assert any("Abdulrazzaq al-Nadhouri" in w and "Al-Nathori" in w for w in alerts[0]["why"])
    docs = [d for d in pipeline.docs() if d["id"] in alerts[0]["articles"]]
    assert [d["language"] for d in docs] == ["en"]


def test_ten_syndicated_copies_give_one_alert_and_one_growth_alert(pipeline: Pipeline) -> None:
    _newspipe("watch", "add", "crossing", "--query", "Ajdir")
    _newspipe("watch", "add", "surge", "--query", "Ajdir", "--trigger", "growth", "--articles", "5")
    for n, lead in enumerate(LEADS):
        outlet = lead.strip("(),:- ").split("(")[-1]
        _drop(
            pipeline,
            f"copy{n}.txt",
            f"Outlet: {outlet}\n\nRas Ajdir crossing reopens\n\n{lead} {WIRE}",
        )

    def one_story() -> set[str]:
        docs = [d for d in pipeline.docs() if "Ajdir" in d["body"]]
        stories = {d["story"]["id"] for d in docs}
        return stories if len(docs) == 10 and len(stories) == 1 else set()

    (story,) = wait_for(one_story, 90, "ten copies indexed in one story")
    time.sleep(2)  # any late correction has been evaluated
    crossing, surge = _alerts("crossing"), _alerts("surge")
    assert [(a["trigger"], a["story"]) for a in crossing] == [("new-story", story)]
    assert [(a["trigger"], a["story"]) for a in surge] == [("growth", story)]
    assert surge[0]["figures"]["articles"] >= 5 and surge[0]["story_size"] >= 5
    assert any("articles within 24 h (threshold 5)" in w for w in surge[0]["why"])
    keys = [
        r.key.decode()
        for r in topic_records(pipeline.settings, pipeline.settings.kafka.alerts_topic)
    ]
    assert sorted(keys) == sorted({*keys}), "an alert was sent twice"


def _caught_up(settings: Settings) -> bool:
    rows = consumer_lag(settings)
    return bool(rows) and all(r["lag"] == 0 for r in rows)


def test_a_replay_raises_no_alert(pipeline: Pipeline) -> None:
    before = _alerts()
    records = len(topic_records(pipeline.settings, pipeline.settings.kafka.alerts_topic))
    assert len(before) >= 4
    _newspipe("replay", str(pipeline.settings.ingest.processed))
    wait_for(lambda: _caught_up(pipeline.settings), 90, "the replay consumed by every stage")
    time.sleep(2)
    assert [a["id"] for a in _alerts()] == [a["id"] for a in before]
    assert len(topic_records(pipeline.settings, pipeline.settings.kafka.alerts_topic)) == records


def test_webhooks_get_the_alert_and_a_failing_one_ends_in_the_dead_letter_topic(
    pipeline: Pipeline, hooks: str
) -> None:
    _newspipe("watch", "add", "hooked", "--query", "Kufra", "--webhook", f"{hooks}/ok/tok-111")
    _newspipe("watch", "add", "broken", "--query", "Kufra", "--webhook", f"{hooks}/fail/tok-222")
    shown = _newspipe("watch", "show", "broken")
    assert "tok-222" not in shown and "127.0.0.1" in shown
    _drop(pipeline, "kufra.txt", KUFRA)

    def letters() -> list[DeadLetter]:
        records = topic_records(pipeline.settings, pipeline.settings.kafka.dlq_topic)
        found = [DeadLetter.model_validate_json(r.value) for r in records]
        return [x for x in found if x.stage == "notify"]

    (letter,) = wait_for(letters, 60, "the failing webhook's dead letter")
    assert "answered 500" in letter.reason and "after 3 attempt(s)" in letter.reason
    assert "tok-222" not in letter.reason and "watch broken" in letter.reason
    assert json.loads(letter.payload)["watch"] == "broken"
    ok = [r for r in Hooks.received if r[0] == "/ok/tok-111"]
    failed = [r for r in Hooks.received if r[0] == "/fail/tok-222"]
    assert len(ok) == 1 and [r[3] for r in failed] == [500, 500, 500]
    body = json.loads(ok[0][2])
    assert body["alert"]["watch"] == "hooked" and body["watch"]["text"] == "Kufra"
    assert ok[0][1]["x-newspipe-alert"] == body["alert"]["id"]
    assert "webhook" not in body["watch"]
    # The receiver is fixed: the dead letter is replayed, and the alert arrives after all.
    Hooks.failing = False
    replayed = _newspipe("dlq", "replay", "--stage", "notify")
    assert "replayed 1 letter:" in replayed, replayed
    wait_for(
        lambda: [r[3] for r in Hooks.received if r[0] == "/fail/tok-222"] == [500, 500, 500, 200],
        60,
        "the replayed alert delivered",
    )
    logged = (pipeline.settings.ingest.inbox.parent / "run.log").read_text("utf-8", "replace")
    assert "delivered to http://127.0.0.1" in logged
    assert "tok-111" not in logged and "tok-222" not in logged, "a webhook's token was logged"


def test_the_dashboard_shows_the_latest_alerts_linked_to_their_stories(
    pipeline: Pipeline,
) -> None:
    """In headless Chromium: the alerts panel lists the watches' alerts, newest first, and an
    alert's link opens its story."""
    expected = _alerts()
    url = f"http://127.0.0.1:{pipeline.settings.dashboard.port}/"
    browser = _browser()
    try:
        wait_for(lambda: _get(browser, url), 60, "the dashboard")
        read_rows = (
            "return [...document.querySelectorAll('tr.alert')].map("
            "r => [...r.querySelectorAll('td')].map(c => c.innerText))"
        )  # one script: the panel is re-rendered every 5 s, element handles go stale
        rows = wait_for(lambda: browser.execute_script(read_rows), 30, "the alerts panel")
        shown = [cells[1] for cells in rows]
        assert shown == [a["watch"] for a in reversed(expected)][: len(shown)]
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "dashboard-alerts.png"))
        story = next(a["story"] for a in expected if a["watch"] == "jmc")
        link = f"tr.alert a[href='/story/{story}']"
        wait_for(
            lambda: browser.execute_script(
                f'const a = document.querySelector("{link}");'
                " if (a) { a.click(); return true; } return false;"
            ),
            30,
            "the jmc alert's link",
        )
        wait_for(lambda: browser.find_elements("css selector", "tr.member"), 30, "the story page")
        assert browser.current_url.endswith(f"/story/{story}")
        assert "Sirte" in browser.find_element("id", "members").text
    finally:
        browser.quit()


def test_watch_test_replays_the_trigger_and_sends_nothing(pipeline: Pipeline) -> None:
    before = _alerts()
    out = _newspipe("watch", "test", "surge", "--since", "1d")
    assert "growth" in out and "(1 alert(s) would have been raised since 1d; none sent)" in out
    out = _newspipe("watch", "test", "crossing", "--since", "1d")
    assert "(1 alert(s) would have been raised" in out
    listed = _newspipe("watch", "list")
    for name in ("jmc", "nadhouri", "crossing", "surge", "hooked", "broken"):
        assert name in listed
    _newspipe("watch", "remove", "surge")
    assert "surge" not in _newspipe("watch", "list")
    missing = _newspipe("watch", "test", "surge", check=False)
    assert "no watch named surge" in missing
    assert [a["id"] for a in _alerts()] == [a["id"] for a in before]


def test_status_counts_the_webhook_sender(pipeline: Pipeline) -> None:
    out = _newspipe("status")
    assert f"{pipeline.settings.alert.group}" in out
    assert Path(pipeline.settings.ingest.processed).exists()
