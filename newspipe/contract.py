"""THE schema every service shares: messages on each topic, the indexed document, doc_id().

Faust and kafka-python move bytes; these pydantic models validate at every boundary.
`doc_id()` is both the Kafka key and the Elasticsearch `_id`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from newspipe.text import normalise_body

# EVENT: a named process, conference or military operation (the Berlin Process, Operation Irini):
# found and linked like the others, but not a person, organisation or place, and not an entity to
# the labelling rules of the real-article corpora (newspipe eval does not score it).
EntityType = Literal["PERSON", "ORG", "LOC", "EVENT"]
TOPIC_IDS: tuple[str, ...] = (
    "jmc-5plus5",
    "military-unification",
    "ceasefire",
    "foreign-forces",
    "border-security",
    "counterterrorism",
    "international-mediation",
    "political-track",
    "security-cooperation",
    "armed-groups",
    "resources-economy",
    "armed-clashes",
)


def doc_id(body: str) -> str:
    """Article id: SHA-256 hex of the normalised body (whitespace, case, quotes, Unicode folded)."""
    return hashlib.sha256(normalise_body(body).encode("utf-8")).hexdigest()


ArticleId = Annotated[
    str, Field(pattern=r"^[0-9a-f]{64}$", description="doc_id() of the body: 64 hex digits")
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


# Where a metadata value came from (Source.provenance): the file's own header block, the page's
# <head> (meta tags, JSON-LD), an export's field, an e-mail header, the PDF's info dictionary, a
# sidecar `name.meta.json`, Markdown front matter, the text's dateline or closing credit, the URL's
# domain, a Markdown heading, the text's first line.
Origin = Literal[
    "header",
    "html-meta",
    "json",
    "email",
    "pdf-meta",
    "front-matter",
    "sidecar",
    "dateline",
    "credit",
    "url",
    "heading",
    "first-line",
]
MetaField = Literal["title", "outlet", "url", "published", "language", "author"]
FORMATS: tuple[str, ...] = ("txt", "md", "html", "mhtml", "json", "jsonl", "pdf", "eml")


class Source(_Model):
    path: str = Field(description="file path relative to the inbox (or as replayed)")
    outlet: str | None = None
    url: str | None = None
    encoding: str | None = Field(None, description="the file's detected text encoding")
    format: str | None = Field(None, description=f"the file's format: one of {FORMATS}")
    record: int | None = Field(
        None, description="the article's line (JSON Lines) or position (JSON array) in an export"
    )
    author: str | None = None
    language: str | None = Field(
        None, description="the language the source declares (EnrichedArticle.language is detected)"
    )
    provenance: dict[MetaField, Origin] = Field(
        default_factory=dict,
        description="where each of title, outlet, url, published, language, author came from",
    )
    meta: dict[str, Any] = Field(
        default_factory=dict, description="an export's or sidecar's other fields, as given"
    )


class RawArticle(_Model):
    """What ingest publishes to news.raw."""

    id: ArticleId
    title: str | None
    body: str
    source: Source
    published_at: datetime | None = None
    ingested_at: datetime


class Entity(_Model):
    id: str = Field(description="stable slug")
    name: str = Field(description="canonical display name")
    type: EntityType
    mentions: list[str] = Field(description="surface forms exactly as written")
    count: int
    in_pack: bool = Field(True, description="False for names found outside the knowledge pack")
    attributes: dict[str, str] = Field(default_factory=dict)


class Topic(_Model):
    id: str
    score: float
    evidence: list[str]
    model: float | None = Field(
        default=None, description="the text model's probability, when the pack has one"
    )


class Relevance(_Model):
    """Is the article about Libya's security track (the JMC, the ceasefire, army unification,
    foreign forces, armed groups, border security, security mediation)? Off-track: Libya but
    another subject, or another country's military matters."""

    on_track: bool
    score: float = Field(description="track-topic evidence x Libya share, 0 when off-track")
    evidence: list[str] = Field(default_factory=list, description="why, in a few words each")


class Dedup(_Model):
    content_hash: str
    minhash: list[int] = Field(default_factory=list, description="MinHash signature")
    shingles: int = Field(0, description="distinct 5-word shingles (for containment)")
    sentences: list[int] = Field(
        default_factory=list, description="sentence sketch: 4 min-hashes per sentence"
    )
    duplicate_of: str | None = None


class Story(_Model):
    id: str


class EnrichedArticle(_Model):
    """What enrich publishes to news.enriched, and the Elasticsearch document."""

    id: ArticleId
    title: str | None
    body: str
    language: str
    source: Source
    sources: list[Source] = Field(default_factory=list)
    published_at: datetime | None = None
    ingested_at: datetime
    enriched_at: datetime
    entities: list[Entity] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)
    relevance: Relevance | None = Field(None, description="None: enriched before the verdict")
    dedup: Dedup
    story: Story
    search_text: str = Field("", description="folded title+body for the standard analyzer")
    event: dict[str, list[str]] = Field(
        default_factory=dict,
        description="event evidence: places, dates, actors, lead_actors, years, figures",
    )
    link_version: int = Field(0, description="grows with every dedup/story decision")


# Room left in a Kafka message for the record around the value (key, headers, batch header):
# tens of bytes in practice; 64 KiB is plenty and costs nothing against a 17 MiB limit.
RECORD_OVERHEAD = 2**16


class DeadLetter(_Model):
    """What any stage sends to news.dlq: the original bytes and why they failed."""

    stage: Literal["ingest", "enrich", "index", "notify"]
    reason: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    payload: str = Field(description="the original message, decoded as UTF-8 with replacement")
    headers: dict[str, str] = Field(
        default_factory=dict, description="the original message's headers (replay restores them)"
    )
    failed_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def of(
        cls,
        stage: Literal["ingest", "enrich", "index", "notify"],
        reason: str,
        message: Any,
    ) -> DeadLetter:
        """The letter for one Kafka message (kafka-python's ConsumerRecord or faust's Message:
        both have topic, partition, offset, key, value and headers as (name, bytes) pairs)."""
        return cls(
            stage=stage,
            reason=reason,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key.decode("utf-8", "replace") if message.key else None,
            payload=(message.value or b"").decode("utf-8", "replace"),
            headers={k: (v or b"").decode("utf-8", "replace") for k, v in message.headers or []},
        )

    def to_bytes_within(self, message_limit: int) -> bytes:
        """The letter, fitting a Kafka message of `message_limit` bytes (the record's own
        overhead is left free): a reason longer than 8 KB is cut (tracebacks), and a payload that
        still does not fit is cut with a note in the reason, so that a letter is always delivered
        rather than lost with the message it describes."""
        limit = message_limit - RECORD_OVERHEAD
        letter = (
            self
            if len(self.reason) <= 8192
            else self.model_copy(update={"reason": self.reason[:8192] + " [...]"})
        )
        data = letter.to_bytes()
        if len(data) <= limit:
            return data
        keep = max(0, len(letter.payload) - (len(data) - limit) - 1024)
        return letter.model_copy(
            update={
                "payload": letter.payload[:keep],
                "reason": f"{letter.reason} [payload cut to {keep:,} of "
                f"{len(letter.payload):,} characters to fit the dead-letter topic]",
            }
        ).to_bytes()


class LinkUpdate(_Model):
    """A correction on news.enriched (header kind=link-update): an earlier-seen article joined the
    group, so an already-published document gets a new duplicate_of / story id."""

    id: str
    duplicate_of: str | None
    story_id: str
    version: int = Field(description="grows with every decision about this article")


KIND_HEADER = "kind"
KIND_ARTICLE = b"article"
KIND_LINK_UPDATE = b"link-update"
# On news.enriched articles: when the article was first seen (`ingested_at`), in epoch
# milliseconds as ASCII. The indexer reads how far behind the pipeline is from it without
# parsing the document (services/index/sink.behind).
INGESTED_HEADER = "ingested-at"


def ingested_header(when: datetime) -> bytes:
    return str(round(when.timestamp() * 1000)).encode()


TriggerKind = Literal["new-story", "growth", "new-language"]


class Trigger(_Model):
    """When a watch speaks: a story new to it; a story that grows by `articles` articles or
    `outlets` outlets within `window_hours`; the first report of a story in another language."""

    kind: TriggerKind = "new-story"
    articles: int | None = Field(None, ge=1, description="growth: this many articles in the window")
    outlets: int | None = Field(None, ge=1, description="growth: this many outlets in the window")
    window_hours: float = Field(24.0, gt=0, description="growth: the window, in hours")


class Watch(_Model):
    """A standing query, stored in Elasticsearch (the watches index) where every service sees it.
    `query` is the compiled Elasticsearch query (the CLI resolves the entities and the search
    syntax once, when the watch is added); the other fields say what the analyst asked for."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    text: str | None = Field(None, description="the query as typed (newspipe search syntax)")
    topics: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list, description="canonical entity ids")
    entity_names: dict[str, str] = Field(
        default_factory=dict, description="canonical id -> display name, for explanations"
    )
    outlets: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    on_track: bool = False
    trigger: Trigger = Field(default_factory=Trigger)
    webhook: str | None = Field(None, description="POST each alert here (may carry a token)")
    query: dict[str, Any] = Field(description="the Elasticsearch query the watch runs")
    created_at: datetime


class Alert(_Model):
    """What a watch says, on news.alerts and in the alerts index: one per watch, story and
    trigger (per language for new-language), whatever the copies, corrections and replays."""

    id: str = Field(description="alert_id(watch, story, trigger, language): the dedup key")
    watch: str
    trigger: TriggerKind
    story: str
    articles: list[str] = Field(description="the new articles that fired it")
    titles: list[str] = Field(default_factory=list)
    language: str | None = Field(None, description="new-language: the story's new language")
    why: list[str] = Field(description="what matched, the growth figures")
    figures: dict[str, float] = Field(default_factory=dict)
    story_size: int = Field(0, description="articles in the story when the alert was raised")
    created_at: datetime = Field(default_factory=utcnow)


def alert_id(watch: str, story: str, trigger: str, language: str | None = None) -> str:
    key = "\x1f".join([watch, story, trigger, language or ""])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
