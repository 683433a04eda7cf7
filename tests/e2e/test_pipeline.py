"""The whole pipeline as a user runs it (`newspipe run`), on real Kafka and Elasticsearch:
seeds replayed, searchable and linked; a second replay adds nothing; the inbox is watched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from newspipe.clients import es_client
from newspipe.config import Settings
from newspipe.tools import bootstrap
from tests.conftest import ROOT, run_cli

SEEDS = ROOT / "seeds"
HADDAD, NADHOURI = "Mohammed al-Haddad", "Abdulrazzaq al-Nadhouri"


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.es = es_client(settings.es)
        self.alias = settings.es.alias

    def docs(self) -> list[dict[str, Any]]:
        self.es.indices.refresh(index=self.alias)
        resp = self.es.search(index=self.alias, size=1000, query={"match_all": {}})
        return [h["_source"] for h in resp["hits"]["hits"]]

    def count(self) -> int:
        self.es.indices.refresh(index=self.alias)
        return int(self.es.count(index=self.alias)["count"])

    def drop(self, name: str, text: str) -> None:
        """Write an article into the inbox and wait until ingest has taken it."""
        (self.settings.ingest.inbox / name).write_text(text, "utf-8")
        taken = self.settings.ingest.processed / name
        wait_for(lambda: taken.exists(), 30, f"{name} taken from the inbox")

    def replay(self, folder: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "newspipe", "replay", str(folder)],
            check=True,
            env=os.environ.copy(),
            timeout=120,
        )


@contextmanager
def running(tmp: Path, extra: dict[str, str] | None = None) -> Iterator[Pipeline]:
    """`newspipe run` on a namespace of its own (settings `extra` on top), its output in
    `tmp/run.log`, until the block ends."""
    from tests.conftest import require_stack, unique_env

    old = os.environ.copy()
    os.environ.update({**unique_env(tmp), **(extra or {})})
    settings = Settings()
    require_stack(settings)
    bootstrap.prepare(settings)
    log = (tmp / "run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "newspipe", "run"],
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            bootstrap.wait_for_group(settings, timeout=120)
        except TimeoutError as err:  # say why: the services' own output
            tail = (tmp / "run.log").read_text("utf-8", "replace").splitlines()[-40:]
            raise TimeoutError(f"{err}; the end of {tmp / 'run.log'}:\n" + "\n".join(tail)) from err
        yield Pipeline(settings)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
        os.environ.clear()
        os.environ.update(old)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running(tmp_path_factory.mktemp("pipeline")) as started:
        yield started


def _by_entity(docs: list[dict[str, Any]], name: str) -> set[str]:
    return {
        d["source"]["path"].rsplit("/", 1)[-1][:3]
        for d in docs
        if any(e["name"] == name and e["type"] == "PERSON" for e in d["entities"])
    }


def test_seed_replay_is_searchable_enriched_and_idempotent(pipeline: Pipeline) -> None:
    started = time.monotonic()
    pipeline.replay(SEEDS)
    wait_for(lambda: pipeline.count() == 5, 120, "5 seed documents in Elasticsearch")
    print(f"\nseed replay: drop to searchable {time.monotonic() - started:.1f} s")
    docs = wait_for(
        lambda: [d for d in pipeline.docs() if d["topics"]] and pipeline.docs(), 30, "documents"
    )
    assert len(docs) == 5
    # Each general under one canonical PERSON entity, whatever spelling the article uses.
    assert _by_entity(docs, HADDAD) == {"000", "001", "004"}
    assert _by_entity(docs, NADHOURI) == {"000", "001", "004"}
    spellings = {
        m for d in docs for e in d["entities"] if e["name"] == NADHOURI for m in e["mentions"]
    }
    assert {"Al-Nathori", "Al-Nadhouri"} & {s.split()[-1] for s in spellings}
    jmc = {
        d["source"]["path"].rsplit("/", 1)[-1][:3]
        for d in docs
        if any(t["id"] == "jmc-5plus5" for t in d["topics"])
    }
    assert {"000", "001", "004"} <= jmc
    # 000 and 001 report the same Paris meeting; 004 the Tripoli one: not merged.
    story = {d["source"]["path"].rsplit("/", 1)[-1][:3]: d["story"]["id"] for d in docs}
    assert story["000"] == story["001"] != story["004"]

    pipeline.replay(SEEDS)  # a second replay: same ids, overwritten, not added
    time.sleep(3)
    wait_for(lambda: pipeline.count() == 5, 30, "still 5 documents")
    again = {d["id"]: d for d in pipeline.docs()}
    assert {d["id"]: d["story"]["id"] for d in docs} == {
        i: d["story"]["id"] for i, d in again.items()
    }
    assert all(len(d["sources"]) == 1 for d in again.values())


def test_inbox_file_becomes_searchable(pipeline: Pipeline) -> None:
    inbox = pipeline.settings.ingest.inbox
    text = (
        "JMC meets in Sirte on the withdrawal of mercenaries\n\nThe 5+5 Joint Military "
        "Commission met in Sirte with General Mohammed Al-Haddad to discuss the withdrawal "
        "of foreign fighters and mercenaries under the October 2020 ceasefire agreement."
    )
    tmp = inbox / ".sirte.txt.part"
    tmp.write_text(text, "utf-8")
    tmp.rename(inbox / "sirte.txt")  # how a careful writer drops a file
    started = time.monotonic()
    hits = wait_for(
        lambda: (
            pipeline.es.search(index=pipeline.alias, query={"match": {"title": "Sirte"}})["hits"][
                "hits"
            ]
            if pipeline.es.indices.refresh(index=pipeline.alias)
            else None
        ),
        60,
        "the inbox article",
    )
    print(f"\ninbox drop to searchable {time.monotonic() - started:.1f} s")
    doc = hits[0]["_source"]
    assert {t["id"] for t in doc["topics"]} >= {"jmc-5plus5", "foreign-forces"}
    assert (pipeline.settings.ingest.processed / "sirte.txt").exists()
    assert not (inbox / "sirte.txt").exists()


def test_binary_file_is_rejected_with_reason(pipeline: Pipeline) -> None:
    inbox = pipeline.settings.ingest.inbox
    rejected = pipeline.settings.ingest.rejected
    (inbox / "scan.txt").write_bytes(bytes(range(256)) * 4)
    wait_for(lambda: (rejected / "scan.txt.error.txt").exists(), 30, "the rejected file")
    assert (rejected / "scan.txt").read_bytes() == bytes(range(256)) * 4  # nothing lost
    reason = (rejected / "scan.txt.error.txt").read_text("utf-8")
    assert "NUL" in reason or "UTF-8" in reason
    shutil.rmtree(rejected)


def test_stories_and_arabic_search(pipeline: Pipeline) -> None:
    from newspipe.tools.query import search, stories

    pipeline.drop(
        "ar.txt",
        "الناظوري والحداد يبحثان توحيد المؤسسة العسكرية\n\n"
        "بحث رئيس أركان الجيش الوطني الليبي الفريق عبد الرازق الناظوري مع نظيره محمد الحداد "
        "في طرابلس توحيد المؤسسة العسكرية وخروج المرتزقة، "
        "في إطار عمل اللجنة العسكرية المشتركة 5+5.",
    )
    # On the local node (standard analyzer only) the folded search field finds the name with and
    # without the Arabic article, and with a hamza/ta-marbuta spelling difference.
    for query in ("الناظوري", "ناظوري", "Nadhouri"):
        wait_for(
            lambda q=query: [h for h in search(pipeline.settings, q, 50) if h["language"] == "ar"],
            30,
            f"the Arabic article found by {query}",
        )
    listed = {s["story"]: s for s in stories(pipeline.settings, 50)}
    assert sum(s["size"] for s in listed.values()) == pipeline.count()
    assert max(s["size"] for s in listed.values()) >= 2  # seeds 000 and 001: one story


def test_off_track_article_is_flagged_and_filtered(pipeline: Pipeline) -> None:
    from newspipe.tools.query import Filters, search, stories

    pipeline.drop(
        "football.txt",
        "Libya beat Gabon in World Cup qualifier\n\n"
        "Libya's national football team beat Gabon 2-1 in Benghazi on Sunday in a World Cup "
        "qualifier. The Mediterranean Knights scored twice in the second half before a crowd "
        "of 40,000, and the coach praised his players' fitness.",
    )
    hits = wait_for(lambda: search(pipeline.settings, "Gabon qualifier", 5), 30, "the article")
    assert hits[0]["relevance"]["on_track"] is False
    assert (
        search(pipeline.settings, "Gabon qualifier", 5, Filters(on_track=False))[0]["id"]
        == hits[0]["id"]
    )
    assert all(
        h["id"] != hits[0]["id"]
        for h in search(pipeline.settings, "Gabon qualifier", 5, Filters(on_track=True))
    )
    docs = pipeline.docs()
    on = sum(1 for d in docs if d["relevance"]["on_track"])
    assert 0 < on < len(docs)
    assert sum(s["size"] for s in stories(pipeline.settings, 50, Filters(on_track=True))) == on
    assert (
        sum(s["size"] for s in stories(pipeline.settings, 50, Filters(on_track=False)))
        == len(docs) - on
    )


def test_distinct_stories_per_topic_and_week(pipeline: Pipeline) -> None:
    from newspipe.tools.query import stories_per_topic_and_week

    docs = pipeline.docs()
    counts = stories_per_topic_and_week(pipeline.settings)
    expected = {d["story"]["id"] for d in docs if any(t["id"] == "jmc-5plus5" for t in d["topics"])}
    assert sum(counts["jmc-5plus5"].values()) == len(expected)
    assert len(expected) < sum(1 for d in docs if any(t["id"] == "jmc-5plus5" for t in d["topics"]))


def test_every_format_dropped_into_the_inbox_is_searchable_with_its_metadata(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """One of each format (a saved page, a scraper export, a NewsAPI response, a forwarded
    e-mail, Markdown, a wire text, a note with its sidecar, a PDF made here) renamed into the
    inbox as a careful writer does; each found by its text, with the metadata it carried."""
    from fpdf import FPDF

    samples = ROOT / "tests" / "data" / "formats" / "samples"
    staging = tmp_path / "staging"
    shutil.copytree(samples, staging)
    pdf = FPDF()
    pdf.set_title("JMC bulletin: ceasefire monitors reach Sirte")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(
        0,
        5,
        "GENEVA, 23 October 2020 - The first team of ceasefire monitors reached the Sirte"
        " operations room, where the joint commission briefed them on the separation of forces"
        " and the removal of mines along the front line.",
    )
    pdf.output(str(staging / "bulletin.pdf"))
    inbox = pipeline.settings.ingest.inbox / "formats"
    inbox.mkdir()
    for path in sorted(staging.iterdir(), key=lambda p: not p.name.endswith(".meta.json")):
        path.rename(inbox / path.name)  # the sidecar first
    names = [f"formats/{p}" for p in os.listdir(inbox) if not p.endswith(".meta.json")]

    def indexed() -> list[dict[str, Any]]:
        pipeline.es.indices.refresh(index=pipeline.alias)
        query = {"terms": {"source.path": names}}
        hits = pipeline.es.search(index=pipeline.alias, size=50, query=query)["hits"]["hits"]
        return [h["_source"] for h in hits] if len(hits) >= 10 else []

    docs = wait_for(indexed, 90, "10 articles from 8 files of 7 formats")
    by = {(d["source"]["path"].split("/")[1], d["source"].get("record")): d for d in docs}
    page = by[("sirte-jmc-page.html", None)]
    assert (page["source"]["outlet"], page["published_at"][:10]) == ("Libya Herald", "2021-07-28")
    assert page["source"]["provenance"]["published"] == "html-meta"
    assert "Related articles" not in page["body"] and "Misrata traders" not in page["body"]
    assert [by[("scraper-export.jsonl", r)]["source"]["outlet"] for r in (1, 2, 5)] == [
        "Libya Observer",
        "Al Wasat",
        "RFI",
    ]
    assert by[("scraper-export.jsonl", 2)]["language"] == "ar"
    assert by[("newsapi-export.json", 1)]["source"]["author"] == "Kamal Abdallah"
    mail = by[("forwarded-bulletin.eml", None)]
    assert (mail["title"], mail["published_at"][:10]) == (
        "UNSMIL welcomes JMC agreement on ceasefire monitors",
        "2021-10-29",
    )
    assert by[("desk-brief.md", None)]["source"]["author"] == "Desk analyst"
    wire = by[("wire-story.txt", None)]
    assert (wire["source"]["outlet"], wire["source"]["provenance"]["published"]) == (
        "Reuters",
        "dateline",
    )
    note = by[("desk-note.txt", None)]
    assert (
        note["source"]["outlet"] == "Libya Review" and note["source"]["meta"]["desk"] == "security"
    )
    bulletin = by[("bulletin.pdf", None)]
    assert (bulletin["title"], bulletin["published_at"][:10]) == (
        "JMC bulletin: ceasefire monitors reach Sirte",
        "2020-10-23",
    )
    found = pipeline.es.search(index=pipeline.alias, query={"match": {"body": "mine clearance"}})
    assert "formats/sirte-jmc-page.html" in {
        h["_source"]["source"]["path"] for h in found["hits"]["hits"]
    }
    processed = pipeline.settings.ingest.processed / "formats"
    assert (processed / "desk-note.txt.meta.json").exists() and not any(inbox.iterdir())
    aside = (pipeline.settings.ingest.rejected / "formats" / "scraper-export.jsonl").read_text()
    assert len(aside.splitlines()) == 2  # the export's two bad lines, put aside


ARTIFACTS = ROOT / "test-artifacts"


def _browser() -> Any:
    """Headless Chromium (Debian's `chromium` and `chromium-driver`, which `make test` installs),
    driven by selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        pytest.fail(
            "the dashboard tests need chromium and chromedriver:"
            " apt-get install chromium chromium-driver (make test installs them as root)"
        )
    options = Options()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1900",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(driver))


def _text(browser: Any, element_id: str) -> str:
    """The element's text; "" while it is missing or being re-rendered (the page polls every
    5 s and Dash replaces the elements it updates: a found element may go stale before it is
    read, and `wait_for` then reads again)."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        found = browser.find_elements("id", element_id)
        return str(found[0].text) if found else ""
    except StaleElementReferenceException:
        return ""


def test_dashboard_in_a_browser(pipeline: Pipeline) -> None:
    """The dashboard (started by `newspipe run`) in headless Chromium: the totals and the weekly
    chart count every indexed article; an actor filter written in Arabic narrows every panel to
    that actor's articles; a story page lists its members and why; a dropped file shows up
    without a reload. Screenshots go to test-artifacts/."""
    from newspipe.tools.query import Filters, entity_ids, search, stories

    ARTIFACTS.mkdir(exist_ok=True)
    url = f"http://127.0.0.1:{pipeline.settings.dashboard.port}/"
    browser = _browser()
    try:
        wait_for(lambda: _get(browser, url), 60, "the dashboard")
        total = pipeline.count()
        wait_for(
            lambda: _text(browser, "total-articles") == str(total), 30, f"{total} articles shown"
        )
        script = (
            "const g = document.querySelector('#weekly .js-plotly-plot');"
            " const t = g && g.data && g.data.find(t => t.name === 'articles');"
            " return t ? t.y : null;"
        )
        # The chart is drawn after the totals: wait for it (None until then).
        drawn = wait_for(
            lambda: (y,) if (y := browser.execute_script(script)) is not None else None,
            30,
            "the weekly chart",
        )
        assert sum(drawn[0]) == total
        browser.save_screenshot(str(ARTIFACTS / "dashboard-all.png"))

        nadhouri = entity_ids("الناظوري")
        assert nadhouri == ["abdulrazzaq-al-nadhouri"]
        expected = len(search(pipeline.settings, None, 1000, Filters(entity=nadhouri[0])))
        assert 0 < expected < total
        field = browser.find_element("id", "actor")
        field.send_keys("الناظوري\n")
        wait_for(lambda: _text(browser, "total-articles") == str(expected), 30, "the actor filter")
        assert "abdulrazzaq-al-nadhouri" in _text(browser, "actors-note")
        browser.save_screenshot(str(ARTIFACTS / "dashboard-actor-filter.png"))

        biggest = max(stories(pipeline.settings, 50), key=lambda s: s["size"])
        browser.get(url + "story/" + biggest["story"])
        wait_for(lambda: browser.find_elements("css selector", "tr.member"), 30, "the story page")
        assert len(browser.find_elements("css selector", "tr.member")) == biggest["size"]
        assert len(browser.find_elements("css selector", "#why li")) == biggest["size"] - 1
        browser.save_screenshot(str(ARTIFACTS / "dashboard-story.png"))

        browser.get(url)
        wait_for(lambda: _text(browser, "total-articles") == str(total), 30, "the totals again")
        pipeline.drop(
            "live.txt",
            "Border patrol talks in Sabha\n\nThe 5+5 Joint Military Commission met officers"
            " from the southern military zone in Sabha to plan joint border patrols against"
            " smuggling networks, the commission said on Tuesday.",
        )
        wait_for(
            lambda: _text(browser, "total-articles") == str(total + 1), 60, "the new article"
        )  # no reload: the page polls
        browser.save_screenshot(str(ARTIFACTS / "dashboard-live.png"))
    finally:
        browser.quit()
    print(f"\nscreenshots: {sorted(str(p) for p in ARTIFACTS.glob('dashboard-*.png'))}")


def _get(browser: Any, url: str) -> bool:
    try:
        browser.get(url)
    except Exception:  # not listening yet
        return False
    return bool(browser.find_elements("id", "totals"))


def test_search_across_scripts_finds_the_same_documents(pipeline: Pipeline) -> None:
    from newspipe.tools.query import search

    found = [
        {h["id"] for h in search(pipeline.settings, q, 1000)}
        for q in ("الناظوري", "Nadhouri", "Nathori")
    ]
    mentioning = {
        d["id"]
        for d in pipeline.docs()
        if any(e["id"] == "abdulrazzaq-al-nadhouri" for e in d["entities"])
    }
    assert mentioning and all(ids >= mentioning for ids in found)
    assert found[0] == found[1] == found[2]


def test_status_shows_the_pipeline_on_one_screen(pipeline: Pipeline) -> None:
    def shown() -> str:
        out = run_cli("status").stdout
        return (
            out if "total lag: 0" in out and f"indexed: {pipeline.count()} documents" in out else ""
        )

    out = wait_for(shown, 60, "no lag and every document indexed")
    assert f"{pipeline.settings.index.group:<24} {pipeline.settings.kafka.enriched_topic}[0]" in out
    assert "kafka          healthy" in out and "dead letters in the last hour:" in out
