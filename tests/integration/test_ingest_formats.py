"""Formats through the ingest loop on the real Kafka: an export's good records published and its
bad ones put aside with their line numbers, sidecars taken with their article (and a lone one
rejected), a saved page larger than the article limit read, and replay of every format."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import services.ingest.watch as watch_module
from newspipe.config import Settings
from services.ingest.watch import replay
from tests.integration.test_ingest import Topic, error_of, ingesting, stack, wait_for

__all__ = ["stack"]  # the fixture, imported for these tests
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "formats" / "samples"


def test_an_export_publishes_its_good_records_and_puts_the_bad_ones_aside(
    stack: Settings,
) -> None:
    inbox, rejected = stack.ingest.inbox, stack.ingest.rejected
    inbox.mkdir(parents=True)
    shutil.copy(SAMPLES / "scraper-export.jsonl", inbox / "feed.jsonl")
    with ingesting(stack) as topic:
        wait_for(lambda: (stack.ingest.processed / "feed.jsonl").exists(), 15, "feed.jsonl")
        topic.read(3)
    assert sorted(a.source.record or 0 for a in topic.got) == [1, 2, 5]
    assert {a.source.path for a in topic.got} == {"feed.jsonl"}
    assert {a.source.outlet for a in topic.got} == {"Libya Observer", "Al Wasat", "RFI"}
    aside = (rejected / "feed.jsonl").read_text("utf-8").splitlines()
    assert len(aside) == 2 and aside[0].startswith('{"url": "https://example.org/broken"')
    reason = error_of(stack, "feed.jsonl")
    assert reason.startswith("2 record(s) of feed.jsonl not published (3 published;")
    assert "line 3: not JSON" in reason and "line 4: no article text" in reason


def test_a_sidecar_is_taken_with_its_article(stack: Settings) -> None:
    inbox, processed = stack.ingest.inbox, stack.ingest.processed
    inbox.mkdir(parents=True)
    with ingesting(stack) as topic:
        shutil.copy(SAMPLES / "desk-note.txt.meta.json", inbox / "note.meta.json")  # first
        time.sleep(0.3)
        shutil.copy(SAMPLES / "desk-note.txt", inbox / "note.txt")
        got = topic.read(1)
        wait_for(lambda: (processed / "note.txt.meta.json").exists(), 10, "the sidecar moved")
    art = got["note.txt"]
    assert (art.source.outlet, art.source.provenance["outlet"]) == ("Libya Review", "sidecar")
    assert art.source.meta == {"desk": "security", "analyst": "F.B."}
    assert len(topic.got) == 1 and not any(inbox.iterdir())


def test_an_article_and_its_sidecar_renamed_in_together(stack: Settings, tmp_path: Path) -> None:
    """Both due in the same tick, the article first: the sidecar goes with it, and the loop
    does not trip over the sidecar it already moved."""
    inbox, processed = stack.ingest.inbox, stack.ingest.processed
    inbox.mkdir(parents=True)
    for name in ("desk-note.txt", "desk-note.txt.meta.json", "wire-story.txt"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    with ingesting(stack) as topic:
        for name in ("desk-note.txt.meta.json", "desk-note.txt"):
            (tmp_path / name).rename(inbox / name)
        got = topic.read(1)
        (tmp_path / "wire-story.txt").rename(inbox / "wire-story.txt")  # the loop goes on
        got = topic.read(2)
    assert got["desk-note.txt"].source.outlet == "Libya Review"
    assert (processed / "desk-note.txt.meta.json").exists() and not any(inbox.iterdir())


def test_a_page_saved_complete_is_one_article_and_its_assets_follow_it(stack: Settings) -> None:
    inbox, processed = stack.ingest.inbox, stack.ingest.processed
    inbox.mkdir(parents=True)
    shutil.copy(SAMPLES / "sirte-jmc-page.html", inbox / "JMC page.html")
    assets = inbox / "JMC page_files"
    assets.mkdir()
    (assets / "style.css").write_text(".nav li{display:inline}")
    (assets / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (assets / "ads.html").write_text("<html><body>Advertisement</body></html>")
    with ingesting(stack) as topic:
        got = topic.read(1)
        wait_for(lambda: (processed / "JMC page_files" / "ads.html").exists(), 10, "the assets")
    assert list(got) == ["JMC page.html"] and len(topic.got) == 1
    assert not stack.ingest.rejected.exists() and not any(inbox.rglob("*.*"))


def test_a_sidecar_without_its_article_is_rejected(
    stack: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "SIDECAR_WAIT_SECONDS", 1.0)
    inbox = stack.ingest.inbox
    inbox.mkdir(parents=True)
    with ingesting(stack):
        (inbox / "lost.pdf.meta.json").write_text('{"outlet": "Libya Herald"}')
        wait_for(lambda: (stack.ingest.rejected / "lost.pdf.meta.json").exists(), 15, "rejection")
    reason = error_of(stack, "lost.pdf.meta.json")
    assert reason.startswith("sidecar without an article: no file lost.pdf or lost.pdf.<format>")


def test_a_saved_page_over_the_article_limit_is_read_and_a_text_file_is_not(
    stack: Settings,
) -> None:
    stack.ingest.max_bytes = 20_000
    inbox = stack.ingest.inbox
    inbox.mkdir(parents=True)
    page = (SAMPLES / "sirte-jmc-page.html").read_text("utf-8")
    script = "<script>var tracking = '" + "x" * 50_000 + "';</script>"
    (inbox / "page.html").write_text(page.replace("</head>", script + "</head>"), "utf-8")
    (inbox / "long.txt").write_text("Title\n\n" + "The commission met. " * 2_000, "utf-8")
    with ingesting(stack) as topic:
        got = topic.read(1)
        wait_for(lambda: (stack.ingest.rejected / "long.txt.error.txt").exists(), 10, "long.txt")
    assert list(got) == ["page.html"] and got["page.html"].source.format == "html"
    assert "raise NEWSPIPE_INGEST__MAX_BYTES" in error_of(stack, "long.txt")


def test_replay_reads_every_format_with_its_sidecar(stack: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    shutil.copytree(SAMPLES, folder)
    counts = replay(stack.kafka, [folder], stack.ingest)
    # 5 single-article files + 3 of the JSONL export's 5 records + 1 of the NewsAPI export's 2
    assert counts == {"published": 9, "rejected": 3}
    topic = Topic(stack)
    got = topic.read(9)
    topic.consumer.close()
    assert len(topic.got) == 9 and got["desk-note.txt"].source.outlet == "Libya Review"
    assert {a.source.format for a in topic.got} == {"txt", "md", "html", "json", "jsonl", "eml"}
