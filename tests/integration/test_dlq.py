"""`newspipe dlq` against real Kafka: list counts letters per stage and reason class, replay
re-publishes exactly the selected payloads (key and headers kept, a 1.5 MB one included) and
records them so that nothing is replayed twice, and an unreachable broker is one clear line."""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from newspipe.cli import main
from newspipe.config import Settings, kafka_client_kwargs, message_max_bytes
from newspipe.contract import DeadLetter, LinkUpdate
from newspipe.tools import bootstrap, dlq

PYDANTIC = (
    "invalid raw article: 1 validation error for RawArticle\n  Invalid JSON: expected value "
    "[type=json_invalid, input_value='{v}', input_type=bytes]"
)
MAPPING = (
    "400 mapper_parsing_exception: failed to parse field [published_at] of type [date] in "
    "document with id '{id}'. Preview of field's value: '{v}'"
)
LETTER_LINE = re.compile(r"^ +\d+[* ] \d{4}-\d\d-\d\d ")  # offset (* replayed), failed_at
BIG_BODY = "The 5+5 Joint Military Commission met in Sirte. " * 32_000  # ~1.5 MB


def _letters(s: Settings) -> list[DeadLetter]:
    raw, enriched = s.kafka.raw_topic, s.kafka.enriched_topic
    doc = {"id": "a" * 64, "published_at": "2024-13-45", "body": "x"}
    update = LinkUpdate(id="c" * 64, duplicate_of=None, story_id="s1", version=2)
    big = orjson.dumps({"id": "d" * 64, "body": BIG_BODY}).decode()
    reason_big = "output too large: the enriched message would be 6,300,000 bytes"
    return [
        DeadLetter(
            stage="enrich", reason=PYDANTIC.format(v="{a"), topic=raw, key="k0", payload="{a"
        ),
        DeadLetter(
            stage="enrich", reason=PYDANTIC.format(v="{b"), topic=raw, key="k1", payload="{b"
        ),
        *(
            DeadLetter(
                stage="index",
                reason=MAPPING.format(id=i * 64, v=f"2024-13-{n}"),
                topic=enriched,
                partition=n,
                offset=10 + n,
                key=i * 64,
                payload=orjson.dumps({**doc, "id": i * 64}).decode(),
                headers={"kind": "article"},
            )
            for n, i in ((0, "a"), (1, "b"))
        ),
        DeadLetter(
            stage="index",
            reason=f"404 document_missing_exception: [{'c' * 64}]: document missing",
            topic=enriched,
            key="c" * 64,
            payload=update.to_bytes().decode(),
            headers={"kind": "link-update"},
        ),
        DeadLetter(stage="enrich", reason=reason_big, topic=raw, key="d" * 64, payload=big),
        DeadLetter(stage="ingest", reason="unreadable file 'x.txt'", payload="\x00garbage"),
    ]


def _produce(s: Settings, letters: list[DeadLetter]) -> None:
    producer = KafkaProducer(
        **kafka_client_kwargs(s.kafka), acks="all", max_request_size=message_max_bytes(s.ingest)
    )
    for letter in letters:
        producer.send(s.kafka.dlq_topic, value=letter.to_bytes()).get(timeout=30)
    producer.close()


def _read(s: Settings, topic: str) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    limit = message_max_bytes(s.ingest)
    consumer = KafkaConsumer(
        topic,
        **kafka_client_kwargs(s.kafka),
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        max_partition_fetch_bytes=limit,
        fetch_max_bytes=limit,
    )
    records = sorted((m.key, m.value, list(m.headers or [])) for m in consumer)
    consumer.close()
    return records


def _expected(letters: list[DeadLetter]) -> list[tuple[bytes | None, bytes, list[Any]]]:
    return sorted(
        (
            (lt.key or "").encode() or None,
            lt.payload.encode(),
            [(k, v.encode()) for k, v in lt.headers.items()],
        )
        for lt in letters
    )


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["dlq", *args])


def test_list_replay_and_the_replay_record(isolated: Settings) -> None:
    s = isolated
    bootstrap.create_topics(s)
    letters = _letters(s)
    _produce(s, letters)

    listed = _cli("list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0] == f"{s.kafka.dlq_topic}: 7 letters, 0 replayed, 7 shown"
    assert lines[1:5] == ["by stage:", "      3  enrich", "      3  index", "      1  ingest"]
    assert (
        "      2  400 mapper_parsing_exception: failed to parse field [published_at] of type "
        "[date] in document with id '…'. Preview of field's value: '…'" in lines
    )
    assert "      2  invalid raw article: N validation error for RawArticle [json_invalid]" in lines
    assert [ln.split()[0] for ln in lines if LETTER_LINE.match(ln)] == [str(o) for o in range(7)]

    dry = _cli("replay", "--reason", "MAPPER_PARSING", "--dry-run")
    assert dry.output.splitlines() == [
        "would replay 2 letters:",
        f"      2  -> {s.kafka.enriched_topic}",
    ]

    # Filtered replay: exactly the three index letters reach news.enriched, key and headers kept.
    first = _cli("replay", "--stage", "index")
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [
        "replayed 3 letters:",
        f"      3  -> {s.kafka.enriched_topic}",
    ]
    assert _read(s, s.kafka.enriched_topic) == _expected(letters[2:5])
    assert _read(s, s.kafka.raw_topic) == []

    again = _cli("replay", "--stage", "index", "--offset", "3")
    assert again.output.splitlines() == ["nothing to replay", "      3  already replayed, skipped"]

    # Unfiltered: the rest, the 1.5 MB payload included; the letter without a topic is reported.
    rest = _cli("replay")
    assert rest.exit_code == 1
    assert rest.output.splitlines() == [
        "replayed 3 letters:",
        f"      3  -> {s.kafka.raw_topic}",
        "      6  NOT REPLAYED: no source topic recorded (it failed before reaching Kafka)",
    ]
    assert _read(s, s.kafka.raw_topic) == _expected([letters[0], letters[1], letters[5]])
    assert _cli("replay").output.splitlines()[0] == "nothing to replay"
    assert len(_read(s, s.kafka.enriched_topic)) == 3 and len(_read(s, s.kafka.raw_topic)) == 3

    read = dlq.read(s)
    assert (len(read.entries), read.markers, read.unreadable) == (7, 2, [])
    assert read.replayed == {(0, o) for o in range(6)}
    remaining = _cli("list").output.splitlines()
    assert remaining[0] == f"{s.kafka.dlq_topic}: 7 letters, 6 replayed, 1 shown"
    assert [ln.split()[0] for ln in remaining if LETTER_LINE.match(ln)] == ["6"]
    everything = _cli("list", "--all").output.splitlines()
    assert everything[0] == f"{s.kafka.dlq_topic}: 7 letters, 6 replayed, 7 shown"
    assert [ln.split()[0] for ln in everything if LETTER_LINE.match(ln)] == [
        *(f"{o}*" for o in range(6)),
        "6",
    ]
    assert everything[-1] == "(* replayed)"


def test_show_a_letter_and_not_a_marker(isolated: Settings) -> None:
    s = isolated
    bootstrap.create_topics(s)
    letters = _letters(s)
    _produce(s, letters[4:6])
    assert _cli("replay", "--offset", "0").exit_code == 0

    shown = _cli("show", "0")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[:2] == ["dlq offset  0", "replayed    yes"]
    assert "headers     kind=link-update" in lines and f"key         {'c' * 64}" in lines
    assert orjson.loads(
        "\n".join(lines[lines.index(f"payload ({len(letters[4].payload)} bytes):") + 1 :])
    ) == {
        "id": "c" * 64,
        "duplicate_of": None,
        "story_id": "s1",
        "version": 2,
    }
    big = _cli("show", "1")
    assert len(big.output) < 3000 and "chars]" in big.output
    assert len(_cli("show", "1", "--full").output) > len(BIG_BODY)
    marker = _cli("show", "2")  # the replay marker is not a letter
    assert marker.exit_code == 1
    assert f"no dead letter at offset 2 of {s.kafka.dlq_topic}" in marker.output


def test_empty_topic_lists_nothing_at_once(isolated: Settings) -> None:
    bootstrap.create_topics(isolated)
    started = time.monotonic()
    listed = _cli("list")
    assert time.monotonic() - started < 10
    assert listed.output.splitlines() == [
        f"{isolated.kafka.dlq_topic}: 0 letters, 0 replayed, 0 shown",
        "by stage:",
        "by reason:",
    ]


def test_unreachable_kafka_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("NEWSPIPE_KAFKA__BOOTSTRAP", f"127.0.0.1:{port}")
    started = time.monotonic()
    result = _cli("list")
    assert time.monotonic() - started < 15
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "NEWSPIPE_KAFKA__BOOTSTRAP" in errors[0]


def test_a_payload_the_broker_refuses_is_reported_and_not_marked(isolated: Settings) -> None:
    s = isolated
    bootstrap.create_topics(s)
    small = f"{s.kafka.raw_topic}.small"
    admin = KafkaAdminClient(**kafka_client_kwargs(s.kafka))
    admin.create_topics([NewTopic(small, 1, 1, topic_configs={"max.message.bytes": "2000"})])
    admin.close()
    gone = f"{s.kafka.raw_topic}.gone"
    _produce(
        s,
        [
            DeadLetter(stage="enrich", reason="r", topic=small, key="k", payload="x" * 10_000),
            DeadLetter(stage="enrich", reason="r", topic=gone, key="k", payload="{}"),
            DeadLetter(stage="enrich", reason="r", topic=s.kafka.raw_topic, key="k", payload="{}"),
        ],
    )
    result = _cli("replay")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[:2] == ["replayed 1 letter:", f"      1  -> {s.kafka.raw_topic}"]
    assert lines[2] == f"      1  NOT REPLAYED: topic {gone} does not exist"
    assert lines[3].startswith("      0  NOT REPLAYED: refused: MessageSizeTooLargeError")
    assert _read(s, small) == [] and _read(s, s.kafka.raw_topic) == [(b"k", b"{}", [])]
    assert dlq.read(s).replayed == {(0, 2)}  # the refused and the topic-less stay to replay
