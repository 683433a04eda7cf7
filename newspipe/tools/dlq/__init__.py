"""The dead-letter topic as a tool: `newspipe dlq list | show | replay` and what they share.

Reading: each command reads the whole dead-letter topic once, from the beginning to the end offsets
taken at the start (an empty topic is read in no time; letters arriving meanwhile wait for the next
run). The topic has one partition (bootstrap), so an offset names a letter; a topic auto-created
with more partitions still works, its letters named `PARTITION:OFFSET`.

Replay re-publishes a letter's payload to the topic it failed on (`letter.topic`) with its
original key and headers, acks=all. Downstream stages key everything by doc_id(), so replaying
twice only overwrites; the record below exists so that a user can tell what was replayed.

The replay record is a marker message on the dead-letter topic itself: once the payloads of a
replay are acknowledged, one record with header `kind: replayed` whose value (`ReplayMarker`) lists
the replayed dead-letter offsets as ranges. Every replay writes one, filtered or not; `list` and
`replay` skip the letters a marker lists (`--all` shows them, starred) and never count markers as
letters. Why not also a consumer-group offset (`<app id>-dlq`) for unfiltered replays: a watermark
cannot say "3 replayed, 2 not", so filtered replays need markers anyway, and the offsets of an idle
group expire after the broker's offsets.retention.minutes (7 days by default) while letters are
kept 30 days, which would make replayed letters reappear. A marker is newer than the letters it
lists, so it lives at least as long, and it is read in the same pass.

Failure modes: a crash between the payloads and the marker leaves those letters unmarked, so they
are replayed again next time (harmless, see above); two replays running at once may both replay a
letter (equally harmless). A letter without a source topic, aimed at the dead-letter topic itself
or at a topic that does not exist, whose payload was cut to fit the dead-letter topic, or whose
payload the broker refuses is reported (exit status 1) and left unmarked, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable

from newspipe.config import Settings
from newspipe.tools.dlq.letters import (
    DlqError,
    list_lines,
    parse_ref,
    replay_lines,
    select,
    show_lines,
)
from newspipe.tools.dlq.topic import find, read, replay

__all__ = ["DlqError", "list_command", "read", "replay_command", "show_command"]


# --- the commands: lines to print (the CLI only echoes them) ----------------------------------


def list_command(
    settings: Settings, stage: str | None, reason: str | None, include_replayed: bool
) -> list[str]:
    dlq = read(settings)
    shown = select(
        dlq.entries, dlq.replayed, stage=stage, reason=reason, include_replayed=include_replayed
    )
    return list_lines(dlq, shown)


def show_command(settings: Settings, offset: str, full: bool) -> list[str]:
    ref = parse_ref(offset)
    dlq = read(settings)
    return show_lines(find(dlq, ref), ref in dlq.replayed, full)


def replay_command(
    settings: Settings,
    stage: str | None,
    reason: str | None,
    offsets: Iterable[str],
    dry_run: bool,
) -> tuple[list[str], bool]:
    """Replay the selected letters not yet replayed; (lines, True if nothing went wrong)."""
    refs = [parse_ref(o) for o in offsets]
    dlq = read(settings)
    chosen = select(dlq.entries, dlq.replayed, stage=stage, reason=reason, refs=refs)
    report = replay(settings, chosen, dry_run)
    known = {e.ref for e in dlq.entries}
    report.skipped = [r for r in refs if r in known and r in dlq.replayed]
    report.problems += [(r, "no dead letter at this offset") for r in refs if r not in known]
    return replay_lines(report, dry_run), not report.problems
