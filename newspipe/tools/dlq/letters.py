"""Dead letters without Kafka: the types, reason classes, selection, replay markers and the
lines the commands print (pure; tested without a broker)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from newspipe.contract import DeadLetter, utcnow

KIND_REPLAYED = b"replayed"
BOOTSTRAP_TIMEOUT_MS = 10_000  # an unreachable broker is reported within ~10 s, not 30 s
STALL_SECONDS = 30.0  # no record for this long while offsets remain: give up, do not hang
STRING_LIMIT = 400  # `show` shortens longer JSON strings (the body) unless --full
LIST_LIMIT = 12  # ... and longer JSON lists (minhash signatures)
TEXT_LIMIT = 4000  # ... and a payload that is not JSON

Ref = tuple[int, int]  # a record of the dead-letter topic: (partition, offset)


class DlqError(Exception):
    """A dead-letter command cannot run; the message says why (one line, for the CLI)."""


class ReplayMarker(BaseModel):
    """The value of a `kind: replayed` record on the dead-letter topic."""

    model_config = ConfigDict(extra="forbid")

    replayed: dict[int, list[tuple[int, int]]] = Field(
        description="dead-letter partition -> replayed offsets as half-open [start, end) ranges"
    )
    targets: dict[str, int] = Field(description="letters re-published per topic")
    replayed_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class Entry:
    ref: Ref
    letter: DeadLetter


@dataclass
class Dlq:
    """One read of the dead-letter topic."""

    topic: str
    entries: list[Entry] = field(default_factory=list)
    replayed: set[Ref] = field(default_factory=set)
    unreadable: list[tuple[Ref, str]] = field(default_factory=list)  # neither letter nor marker
    markers: int = 0


@dataclass
class ReplayReport:
    replayed: list[Entry] = field(default_factory=list)
    problems: list[tuple[Ref, str]] = field(default_factory=list)
    skipped: list[Ref] = field(default_factory=list)  # selected by --offset but already replayed

    def targets(self) -> Counter[str]:
        return Counter(e.letter.topic or "" for e in self.replayed)


# --- pure: reasons, selection, markers, rendering ---------------------------------------------

_TRACEBACK = "Traceback (most recent call last):"
_STATUS = re.compile(r"\d{3} ")
_VARIABLE = (  # order matters: quoted values may contain ids and numbers
    (re.compile(r"(?<![\w'])'[^'\n]*'"), "'…'"),  # not the apostrophe of "field's"
    (re.compile(r'"[^"\n]*"'), '"…"'),
    (re.compile(r"\b(?:[0-9a-fA-F]{16,}|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,})\b"), "<id>"),
    (re.compile(r"\b\d+(?:[.,]\d+)*\b"), "N"),  # 42, 3.5, 6,300,000
)


# DeadLetter.to_bytes_within() says so in the reason when it had to cut the payload.
_CUT = re.compile(r"\[payload cut to [\d,]+ of [\d,]+ characters")


def headline(reason: str) -> str:
    """The informative line of a reason: its first line, but for a traceback the stage prefix and
    the exception line (the first line of a traceback is always the same)."""
    prefix, found, rest = reason.partition(_TRACEBACK)
    if found:
        last = next((ln.strip() for ln in reversed(rest.splitlines()) if ln.strip()), "")
        return f"{prefix.strip()} {last}".strip()
    lines = reason.strip().splitlines()
    first = lines[0].strip() if lines else ""
    if "validation error" in first:  # pydantic: the error codes tell invalid JSON from a bad field
        codes = sorted(set(re.findall(r"\[type=(\w+)", reason)))
        first += f" [{', '.join(codes)}]" if codes else ""
    return first


def collapse_reason(reason: str, width: int = 160) -> str:
    """The reason class: the headline with ids, numbers and quoted values masked, so that letters
    failing the same way (e.g. one mapping error on many documents) count as one line. A leading
    HTTP status (index stage: "400 mapper_parsing_exception: ...") is kept."""
    text = headline(reason)
    status = text[:4] if _STATUS.match(text) else ""
    text = text[len(status) :]
    for pattern, mask in _VARIABLE:
        text = pattern.sub(mask, text)
    text = status + " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def select(
    entries: Iterable[Entry],
    replayed: set[Ref],
    *,
    stage: str | None = None,
    reason: str | None = None,
    refs: Iterable[Ref] = (),
    include_replayed: bool = False,
) -> list[Entry]:
    """The letters matching every given filter: stage, reason substring (any case), refs."""
    needle = reason.casefold() if reason else None
    wanted = set(refs)
    return [
        e
        for e in entries
        if (include_replayed or e.ref not in replayed)
        and (stage is None or e.letter.stage == stage)
        and (needle is None or needle in e.letter.reason.casefold())
        and (not wanted or e.ref in wanted)
    ]


def summarize(entries: Iterable[Entry]) -> tuple[Counter[str], Counter[str]]:
    """(letters per stage, letters per reason class)."""
    entries = list(entries)
    return (
        Counter(e.letter.stage for e in entries),
        Counter(collapse_reason(e.letter.reason) for e in entries),
    )


def to_ranges(offsets: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted half-open ranges covering the offsets: a replay of 10,000 letters is one range."""
    ranges: list[tuple[int, int]] = []
    for offset in sorted(set(offsets)):
        if ranges and ranges[-1][1] == offset:
            ranges[-1] = (ranges[-1][0], offset + 1)
        else:
            ranges.append((offset, offset + 1))
    return ranges


def make_marker(replayed: Iterable[Entry]) -> ReplayMarker:
    replayed = list(replayed)
    by_partition: dict[int, list[int]] = {}
    for e in replayed:
        by_partition.setdefault(e.ref[0], []).append(e.ref[1])
    return ReplayMarker(
        replayed={p: to_ranges(offsets) for p, offsets in by_partition.items()},
        targets=dict(Counter(e.letter.topic or "" for e in replayed)),
    )


def marked_refs(marker: ReplayMarker) -> set[Ref]:
    return {
        (partition, offset)
        for partition, ranges in marker.replayed.items()
        for start, end in ranges
        for offset in range(start, end)
    }


def check_replayable(entry: Entry, dlq_topic: str, existing: set[str]) -> str | None:
    """Why this letter cannot be re-published, or None."""
    target = entry.letter.topic
    if target is None:
        return "no source topic recorded (it failed before reaching Kafka)"
    if target == dlq_topic:
        return "its source is the dead-letter topic itself"
    if target not in existing:
        return f"topic {target} does not exist"
    if _CUT.search(entry.letter.reason):
        return "its payload was cut to fit the dead-letter topic: the original message is lost"
    return None


def parse_ref(text: str) -> Ref:
    """`OFFSET` (partition 0, the only one bootstrap creates) or `PARTITION:OFFSET`."""
    partition, _, offset = text.strip().rpartition(":")
    try:
        ref = (int(partition or 0), int(offset))
    except ValueError:
        raise DlqError(f"not a dead-letter offset: {text!r} (OFFSET or PARTITION:OFFSET)") from None
    if min(ref) < 0:
        raise DlqError(f"not a dead-letter offset: {text!r}")
    return ref


def format_ref(ref: Ref) -> str:
    return str(ref[1]) if ref[0] == 0 else f"{ref[0]}:{ref[1]}"


def _source(letter: DeadLetter) -> str:
    """topic[partition]@offset, as much of it as the stage recorded."""
    partition = f"[{letter.partition}]" if letter.partition is not None else ""
    offset = f"@{letter.offset}" if letter.offset is not None else ""
    return f"{letter.topic}{partition}{offset}" if letter.topic else "-"


def _n(count: int) -> str:
    return f"{count} letter" if count == 1 else f"{count} letters"


def letter_line(entry: Entry, replayed: bool = False, width: int = 80) -> str:
    """One letter on one line: offset (* if replayed), failed_at, stage, source, short key, reason
    headline."""
    letter = entry.letter
    reason = headline(letter.reason)
    if len(reason) > width:
        reason = reason[: width - 1] + "…"
    return (
        f"{format_ref(entry.ref):>7}{'*' if replayed else ' '} "
        f"{letter.failed_at:%Y-%m-%d %H:%M:%S}  {letter.stage:<6}  "
        f"{_source(letter):<32}  {(letter.key or '-')[:12]:<12}  {reason}"
    )


def list_lines(dlq: Dlq, shown: list[Entry]) -> list[str]:
    """`dlq list`: totals, counts per stage and reason class of the shown letters, then them."""
    replayed = sum(1 for e in dlq.entries if e.ref in dlq.replayed)
    lines = [f"{dlq.topic}: {_n(len(dlq.entries))}, {replayed} replayed, {len(shown)} shown"]
    by_stage, by_reason = summarize(shown)
    lines += ["by stage:", *(f"{n:>7}  {s}" for s, n in sorted(by_stage.items()))]
    lines += ["by reason:", *(f"{n:>7}  {r}" for r, n in by_reason.most_common())]
    if shown:
        lines.append(
            f"{'OFFSET':>7}  {'FAILED_AT':<19}  STAGE   {'SOURCE':<32}  KEY           REASON"
        )
        lines += [letter_line(e, e.ref in dlq.replayed) for e in shown]
        if any(e.ref in dlq.replayed for e in shown):
            lines.append("(* replayed)")
    lines += [f"{format_ref(ref):>7}  not a dead letter: {why}" for ref, why in dlq.unreadable]
    return lines


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > STRING_LIMIT:
        return f"{value[:STRING_LIMIT]}… [+{len(value) - STRING_LIMIT:,} chars]"
    if isinstance(value, list):
        more = [f"… [+{len(value) - LIST_LIMIT} items]"] if len(value) > LIST_LIMIT else []
        return [_shorten(v) for v in value[:LIST_LIMIT]] + more
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    return value


def pretty_payload(payload: str, full: bool = False) -> str:
    """JSON indented (long strings and lists shortened unless full); other text as is, cut."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        if full or len(payload) <= TEXT_LIMIT:
            return payload
        return f"{payload[:TEXT_LIMIT]}… [+{len(payload) - TEXT_LIMIT:,} chars; --full shows all]"
    return orjson.dumps(value if full else _shorten(value), option=orjson.OPT_INDENT_2).decode()


def show_lines(entry: Entry, replayed: bool, full: bool = False) -> list[str]:
    """`dlq show`: every field of the letter, the reason in full, the payload pretty-printed."""
    letter = entry.letter
    headers = " ".join(f"{k}={v}" for k, v in letter.headers.items())
    size = len(letter.payload.encode("utf-8"))
    return [
        f"dlq offset  {format_ref(entry.ref)}",
        f"replayed    {'yes' if replayed else 'no'}",
        f"stage       {letter.stage}",
        f"failed_at   {letter.failed_at.isoformat()}",
        f"topic       {letter.topic or '-'}",
        f"partition   {letter.partition if letter.partition is not None else '-'}",
        f"offset      {letter.offset if letter.offset is not None else '-'}",
        f"key         {letter.key or '-'}",
        f"headers     {headers or '-'}",
        "reason:",
        *(f"  {line}" for line in letter.reason.splitlines()),
        f"payload ({size:,} bytes):",
        pretty_payload(letter.payload, full),
    ]


def replay_lines(report: ReplayReport, dry_run: bool) -> list[str]:
    verb = "would replay" if dry_run else "replayed"
    if not report.replayed:
        lines = ["nothing to replay"]
    else:
        lines = [f"{verb} {_n(len(report.replayed))}:"]
        lines += [f"{n:>7}  -> {topic}" for topic, n in sorted(report.targets().items())]
    lines += [f"{format_ref(r):>7}  already replayed, skipped" for r in report.skipped]
    lines += [f"{format_ref(r):>7}  NOT REPLAYED: {why}" for r, why in report.problems]
    return lines
