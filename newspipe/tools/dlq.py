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

import contextlib
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from newspipe.config import Settings, kafka_client_kwargs, message_max_bytes
from newspipe.contract import KIND_HEADER, DeadLetter, utcnow

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


# --- Kafka I/O ------------------------------------------------------------------------------


@contextlib.contextmanager
def _kafka_errors(settings: Settings) -> Iterator[None]:
    """Kafka failures as one-line DlqErrors."""
    try:
        yield
    except KafkaError as exc:
        raise DlqError(f"Kafka error on {settings.kafka.dlq_topic}: {exc!r}") from None


@contextlib.contextmanager
def _connecting(settings: Settings) -> Iterator[None]:
    """A client that cannot bootstrap: name the setting to check (within BOOTSTRAP_TIMEOUT_MS)."""
    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # its per-attempt errors would bury the one line below
    try:
        yield
    except (KafkaTimeoutError, KafkaConnectionError) as exc:
        raise DlqError(
            f"cannot reach Kafka at {settings.kafka.bootstrap} ({exc}); "
            "check NEWSPIPE_KAFKA__BOOTSTRAP and that the broker runs (`newspipe stack status`)"
        ) from None
    finally:
        kafka_log.setLevel(level)


def _consumer(settings: Settings) -> KafkaConsumer:
    limit = message_max_bytes(settings.ingest)
    with _connecting(settings):
        return KafkaConsumer(
            **kafka_client_kwargs(settings.kafka),
            enable_auto_commit=False,  # no group: a read never changes anything
            max_partition_fetch_bytes=limit,
            fetch_max_bytes=limit,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        )


def _records(consumer: KafkaConsumer, topic: str) -> Iterator[Any]:
    """Every record of the topic from the beginning up to the end offsets taken now."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise DlqError(
            f"no topic {topic} (NEWSPIPE_KAFKA__DLQ_TOPIC); `newspipe stack up` makes it"
        )
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    end = consumer.end_offsets(tps)
    last_progress = time.monotonic()
    while pending := [tp for tp in tps if consumer.position(tp) < end[tp]]:
        batch = consumer.poll(timeout_ms=1000)
        if batch:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > STALL_SECONDS:
            raise DlqError(f"{topic}: no progress reading {pending} for {STALL_SECONDS:.0f} s")
        for tp, msgs in batch.items():
            yield from (m for m in msgs if m.offset < end[tp])


def _absorb(dlq: Dlq, record: Any) -> None:
    ref = (record.partition, record.offset)
    kind = dict(record.headers or []).get(KIND_HEADER)
    try:
        if kind == KIND_REPLAYED:
            dlq.replayed |= marked_refs(ReplayMarker.model_validate_json(record.value))
            dlq.markers += 1
        else:
            dlq.entries.append(Entry(ref, DeadLetter.model_validate_json(record.value)))
    except ValidationError as exc:
        dlq.unreadable.append((ref, str(exc).splitlines()[0]))


def read(settings: Settings) -> Dlq:
    """The whole dead-letter topic: letters, replayed refs (from markers), unreadable records."""
    dlq = Dlq(settings.kafka.dlq_topic)
    with _kafka_errors(settings):
        consumer = _consumer(settings)
        try:
            for record in _records(consumer, dlq.topic):
                _absorb(dlq, record)
        finally:
            consumer.close(autocommit=False)
    dlq.entries.sort(key=lambda e: e.ref)
    return dlq


def find(dlq: Dlq, ref: Ref) -> Entry:
    found = next((e for e in dlq.entries if e.ref == ref), None)
    if found is None:
        raise DlqError(f"no dead letter at offset {format_ref(ref)} of {dlq.topic}")
    return found


def _existing_topics(settings: Settings) -> set[str]:
    with _kafka_errors(settings):
        consumer = _consumer(settings)
        try:
            return set(consumer.topics())
        finally:
            consumer.close(autocommit=False)


def _producer(settings: Settings) -> KafkaProducer:
    with _connecting(settings):
        return KafkaProducer(
            **kafka_client_kwargs(settings.kafka),
            acks="all",
            max_request_size=message_max_bytes(settings.ingest),
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            max_block_ms=15_000,  # metadata of a target topic
            # kafka-python's idempotent producer turns one refused record (over a topic's size
            # limit) into a fatal error failing every later send, the marker included. Replays are
            # idempotent downstream anyway; one request in flight keeps each partition's order.
            enable_idempotence=False,
            max_in_flight_requests_per_connection=1,
        )


def _publish(producer: KafkaProducer, entries: list[Entry]) -> ReplayReport:
    """Send every payload, wait for all acks; a refused one is a problem, not an exception."""
    report, futures = ReplayReport(), []
    for e in entries:
        letter = e.letter
        try:
            future = producer.send(
                letter.topic or "",
                value=letter.payload.encode("utf-8"),
                key=letter.key.encode("utf-8") if letter.key is not None else None,
                headers=[(k, v.encode("utf-8")) for k, v in letter.headers.items()],
            )
            futures.append((e, future))
        except KafkaError as exc:  # too large for the producer, no metadata in time
            report.problems.append((e.ref, f"not sent: {exc!r}"))
    producer.flush(timeout=60)
    for e, future in futures:
        try:
            future.get(timeout=30)
            report.replayed.append(e)
        except KafkaError as exc:  # refused by the broker, e.g. over the topic's size limit
            report.problems.append((e.ref, f"refused: {exc!r}"))
    return report


def _mark(producer: KafkaProducer, topic: str, replayed: list[Entry]) -> None:
    marker = make_marker(replayed)
    try:
        future = producer.send(
            topic,
            value=marker.model_dump_json().encode("utf-8"),
            headers=[(KIND_HEADER, KIND_REPLAYED)],
            partition=0,
        )
        producer.flush(timeout=30)
        future.get(timeout=30)
    except KafkaError as exc:
        raise DlqError(
            f"replayed {_n(len(replayed))} but could not record it on {topic} ({exc!r}); "
            "they still show as not replayed (replaying them again is harmless)"
        ) from None


def replay(settings: Settings, selected: list[Entry], dry_run: bool = False) -> ReplayReport:
    """Re-publish the selected letters to their source topics, then record them with a marker."""
    existing = _existing_topics(settings)
    report, sendable = ReplayReport(), []
    for e in selected:
        problem = check_replayable(e, settings.kafka.dlq_topic, existing)
        if problem:
            report.problems.append((e.ref, problem))
        else:
            sendable.append(e)
    if dry_run or not sendable:
        report.replayed = sendable
        return report
    with _kafka_errors(settings):
        producer = _producer(settings)
        try:
            sent = _publish(producer, sendable)
            if sent.replayed:
                _mark(producer, settings.kafka.dlq_topic, sent.replayed)
        finally:
            producer.close(timeout=30)
    report.replayed = sent.replayed
    report.problems += sent.problems
    return report


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
