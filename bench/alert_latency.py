"""Drop -> alert latency of the watches, on the real pipeline (`newspipe run`) in a namespace of
its own on the local stack (`newspipe stack up` first).

A new-story watch on "Libya Libye ليبيا"; the .txt articles of the given folders are renamed into
the inbox one every `--every` seconds; each alert's `created_at` (when the indexer raised it) is
compared with the rename of the article that fired it.

    .venv/bin/python bench/alert_latency.py tests/data/real-events/articles \\
        tests/data/real-relevance/articles
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import run

from newspipe.tools.watches import add, compile_watch, recent
from services.ingest.parse import Rejected, parse
from tests.e2e.test_pipeline import running


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("folders", nargs="+", type=Path)
    args.add_argument("--every", type=float, default=3.0, help="seconds between two drops")
    opts = args.parse_args()
    files = [f for d in opts.folders for f in sorted(d.glob("*.txt"))]
    with tempfile.TemporaryDirectory() as tmp, running(Path(tmp)) as pipeline:
        settings = pipeline.settings
        run.PHASES.append(settings)  # its topics and indices deleted at the end (run.forget)
        add(settings, compile_watch("latency", text="Libya Libye ليبيا"))
        inbox = settings.ingest.inbox
        dropped: dict[str, float] = {}
        for n, f in enumerate(files):
            data = f.read_bytes()
            parsed = parse(f.name, data, datetime.now(UTC))
            if isinstance(parsed, Rejected):
                continue
            (inbox.parent / f"part-{n}").write_bytes(data)
            dropped.setdefault(parsed.articles[0].id, time.time())
            (inbox.parent / f"part-{n}").rename(inbox / f.name)
            time.sleep(opts.every)
        time.sleep(10)  # the last alerts
        alerts = recent(settings, 10_000, "latency", since=datetime.fromtimestamp(0, UTC))
        seconds = sorted(
            datetime.fromisoformat(a["created_at"]).timestamp() - dropped[article]
            for a in alerts
            for article in a["articles"]
            if article in dropped
        )
    print(f"{len(files)} files dropped, {len(alerts)} alerts, {len(seconds)} timed")
    if len(seconds) > 2:
        p95 = statistics.quantiles(seconds, n=20, method="inclusive")[-1]
        print(
            f"drop -> alert raised: min {seconds[0]:.2f} s, median "
            f"{statistics.median(seconds):.2f} s, p95 {p95:.2f} s, max {seconds[-1]:.2f} s"
        )


if __name__ == "__main__":
    try:
        main()
    finally:  # the run's topics and indices: the bench runs on the user's stack
        run.forget_phases()
