"""Pure parsing: (file name, bytes, clock reading, size limit) -> RawArticle | Rejected. No I/O.

A `.txt` article is text in any common encoding. A byte-order mark decides first (UTF-8, UTF-32,
UTF-16); then strict UTF-8, which most files are; then charset-normalizer, restricted to the
encodings this domain's sources use (Windows-1256 and ISO-8859-6 Arabic, Windows-1252, ISO-8859-1
and ISO-8859-15 French/English), else anything else it finds with confidence. The encoding is
recorded in `Source.encoding`. Only binary content is rejected as not text.

An optional header block of `Key: value` lines (Title, Outlet or Source, URL, Published or Date)
ends at the first blank line. Otherwise the first line is the title when it looks like one (short,
no sentence-final full stop, followed by more text), the rest the body. A file holding only a title
is indexed with the title as its body when the title is long enough to search, else rejected.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from charset_normalizer import CharsetMatch, from_bytes

from newspipe.contract import RawArticle, Source, doc_id

SUPPORTED_SUFFIXES = (".txt",)
# A headline is short: the longest of the seeds' real headlines has 8 words; wire headlines rarely
# pass 20. A first line longer than that is a lead paragraph (seeds 001 and 002).
MAX_TITLE_WORDS = 20
MAX_TITLE_CHARS = 200
MIN_BODY_CHARS = 20
# Prose has no control characters besides \t \n \r \f; Word's \x0b line breaks stay far below 2%,
# while binary data read as Latin-1 is about 20% controls.
MAX_CONTROL_SHARE = 0.02
MAX_BYTES_SETTING = "NEWSPIPE_INGEST__MAX_BYTES"
_HEADER = re.compile(r"^(title|outlet|source|url|published|date)\s*:\s*(.+)$", re.IGNORECASE)

# UTF-32 before UTF-16: the UTF-32-LE mark FF FE 00 00 starts with the UTF-16-LE mark FF FE.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a .docx/.xlsx/.odt file)"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
# The encodings our sources use (charset-normalizer's codec names). Unrestricted, the detector
# calls French cp1252 "cp1250" (same letters for French, wrong label and wrong for Œ/Š/Ÿ).
_LIKELY = ["cp1256", "cp1252", "latin_1", "iso8859_6", "iso8859_15"]
# When several of them decode the bytes to the same text, the label is the first of these: the
# narrowest standard that fits (a cp1252 file with no smart quotes is valid Latin-1 too).
_LABEL_ORDER = ("latin_1", "cp1252", "iso8859_15", "cp1256", "iso8859_6")
# Outside our domain, accept only a low-chaos guess (charset-normalizer's default allows 0.2).
_OTHER_MAX_CHAOS = 0.1
_LATIN = ("latin-1", "cp1252", "iso8859-15")
# The byte values cp1256 reads as Arabic letters (U+0621-U+064A); the tie-break works on bytes
# because a regex over a megabyte of decoded Arabic takes a quarter of a second.
_ARABIC_BYTES = bytes(b for b in range(256) if "\u0621" <= bytes([b]).decode("cp1256") <= "\u064a")
_ARABIC_CLASS = b"[" + re.escape(_ARABIC_BYTES) + b"]"
_ARABIC_WORD = re.compile(_ARABIC_CLASS * 2)
# A Latin letter before or after such a byte. It starts with [A-Za-z] so the scan is fast in Arabic
# text (a leading lookbehind would be tried at every byte: 5x slower).
_LATIN_TOUCHING_ARABIC = re.compile(
    rb"[A-Za-z](?:(?=" + _ARABIC_CLASS + rb")|(?<=" + _ARABIC_CLASS + rb"[A-Za-z]))"
)
_HIGH_BYTES = bytes(range(0x80, 0x100))
_C1_BYTES = re.compile(rb"[\x80-\x9f]")  # where cp1252 and latin-1 differ
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # Cc minus \t \n \f \r
_C0_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_UTF8_C1 = re.compile(rb"\xc2[\x80-\x9f]")


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str


class _NotText(ValueError):
    """The bytes are not an article's text; the message is the rejection reason."""


def parse(
    name: str, data: bytes, now: datetime, max_bytes: int | None = None
) -> RawArticle | Rejected:
    """`name` is the path relative to the inbox; it becomes `Source.path` as given."""
    if not name.lower().endswith(SUPPORTED_SUFFIXES):
        return Rejected(name, f"unsupported file type: expected one of {SUPPORTED_SUFFIXES}")
    if max_bytes is not None and len(data) > max_bytes:
        return Rejected(name, _too_large(len(data), max_bytes))
    try:
        text, encoding = _decode(data)
    except _NotText as exc:
        return Rejected(name, str(exc))
    # A cp1256 file doubles as UTF-8, and the UTF-8 form is what Kafka and Elasticsearch carry.
    if max_bytes is not None and encoding not in ("utf-8", "utf-8-sig"):
        utf8_size = len(text.encode("utf-8"))
        if utf8_size > max_bytes:
            detail = f" as UTF-8 text (the file is {len(data):,} bytes of {encoding})"
            return Rejected(name, _too_large(utf8_size, max_bytes, detail))
    return _article(name, text, encoding, now)


def _too_large(size: int, limit: int, detail: str = "") -> str:
    return (
        f"too large: {size:,} bytes ({size / 2**20:.1f} MB){detail} > limit {limit:,} bytes"
        f" ({limit / 2**20:.1f} MB); raise {MAX_BYTES_SETTING} to accept it"
    )


def _decode(data: bytes) -> tuple[str, str]:
    """(text, Python codec name) of a file's bytes; raises _NotText for binary content."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise _NotText(f"binary content (looks like {kind}); save the article as plain text")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = _decode_with_bom(data, codec)
            break
    else:
        if nuls := data.count(0):
            raise _NotText(
                f"binary content: {nuls:,} NUL byte{'s' if nuls > 1 else ''} (text has none;"
                " UTF-16 or UTF-32 text needs a byte-order mark)"
            )
        try:  # the fast path: most files are UTF-8, no detector call
            text, codec = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, codec = _detect(data)
    controls = _count_controls(data, text, codec)
    if controls > MAX_CONTROL_SHARE * len(text):
        raise _NotText(
            f"binary content: {controls:,} of {len(text):,} characters are control codes"
            f" ({controls / len(text):.0%}) after decoding as {codec}"
        )
    return text, codec


def _count_controls(data: bytes, text: str, codec: str) -> int:
    if codec == "utf-8":  # 4x faster on the raw bytes: C0 and DEL are single bytes in UTF-8
        return len(data) - len(data.translate(None, _C0_BYTES)) + len(_UTF8_C1.findall(data))
    return len(_CONTROL.findall(text))


def _decode_with_bom(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)  # these codecs consume the mark
    except UnicodeDecodeError as exc:
        raise _NotText(
            f"broken {codec} text: it starts with a {codec} byte-order mark, but bytes"
            f" {exc.start}-{exc.end - 1} are invalid ({exc.reason})"
        ) from None


def _detect(data: bytes) -> tuple[str, str]:
    best = (
        from_bytes(data, cp_isolation=_LIKELY).best()
        or from_bytes(data, threshold=_OTHER_MAX_CHAOS).best()
    )
    if best is None:
        raise _NotText(
            "binary content: no text encoding fits (not UTF-8, Windows-1256/1252,"
            " ISO-8859-1/6/15, nor any other encoding charset-normalizer knows)"
        )
    text, codec = _label(data, best)
    return _arabic_or_latin(data, text, codec)


def _label(data: bytes, match: CharsetMatch) -> tuple[str, str]:
    text = str(match)
    for candidate in _LABEL_ORDER:
        if candidate in match.could_be_from_charset and _decodes_to(data, candidate, text):
            return text, _codec_name(candidate)
    return text, _codec_name(match.encoding)


def _decodes_to(data: bytes, encoding: str, text: str | None = None) -> bool:
    """Do the bytes decode in `encoding` (to `text`, when given)?"""
    try:
        decoded = data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return text is None or decoded == text


def _codec_name(encoding: str) -> str:
    """Python's normalised codec name, lowercase; ISO-8859-1 by its usual name, latin-1."""
    name = codecs.lookup(encoding).name
    return "latin-1" if name == "iso8859-1" else name


def _arabic_or_latin(data: bytes, text: str, codec: str) -> tuple[str, str]:
    """Tie-break between cp1256 and the Latin code pages, which the detector confuses on short
    texts. A few cp1256 Arabic words in English ("Geneva (جنيف)") give it no statistics and it
    says cp1252 ("Geneva (ÌäíÝ)"); French capitals are Arabic letters in cp1256 and it may say
    cp1256 for an all-caps headline ("CRÉÉ" -> "CRةة"). `_reads_as_arabic` decides both ways."""
    if codec in _LATIN and _reads_as_arabic(data):
        return data.decode("cp1256"), "cp1256"
    if codec == "cp1256" and not _reads_as_arabic(data):
        latin = "cp1252" if _C1_BYTES.search(data) else "latin-1"  # the narrowest that fits
        if _decodes_to(data, latin):
            return data.decode(latin), latin
    return text, codec


def _reads_as_arabic(data: bytes) -> bool:
    """Read as cp1256, are most non-ASCII characters Arabic letters forming words, and do they
    stay apart from Latin letters? Real Arabic never mixes scripts inside a word (an attached
    "وCNN" now and then, hence 10%); misread French capitals always do ("COMITة")."""
    non_ascii = len(data) - len(data.translate(None, _HIGH_BYTES))
    arabic = len(data) - len(data.translate(None, _ARABIC_BYTES))
    if 2 * arabic <= non_ascii or not _ARABIC_WORD.search(data):
        return False
    return len(_LATIN_TOUCHING_ARABIC.findall(data)) * 10 < arabic


def _article(name: str, text: str, encoding: str, now: datetime) -> RawArticle | Rejected:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header, text = _split_header(text)
    title, body = _split_title(text)
    title = header.get("title", title)
    if "\n" not in body and looks_like_title(body) and title in (None, body):
        title = body  # a lone headline: the title is the only text there is
    if not body and title:
        body = title  # a header block with a Title and nothing after it
    if len(body) < MIN_BODY_CHARS:
        return Rejected(name, _no_body(title, body))
    return RawArticle(
        id=doc_id(body),
        title=title,
        body=body,
        source=Source(
            path=name,
            outlet=header.get("outlet") or header.get("source"),
            url=header.get("url"),
            encoding=encoding,
        ),
        published_at=_parse_date(header.get("published") or header.get("date")),
        ingested_at=now,
    )


def _no_body(title: str | None, body: str) -> str:
    if title is not None and body == title:
        return (
            f"no article body: the file holds only the title {title!r} ({len(title)} characters);"
            f" a title alone is indexed from {MIN_BODY_CHARS} characters"
        )
    return f"no article body: fewer than {MIN_BODY_CHARS} characters of text"


def _split_header(text: str) -> tuple[dict[str, str], str]:
    lines = text.lstrip("\n").split("\n")
    header: dict[str, str] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            return (header, "\n".join(lines[i + 1 :])) if header else ({}, text)
        match = _HEADER.match(line.strip())
        if not match:
            return {}, text
        header[match.group(1).lower()] = match.group(2).strip()
    # Header lines up to the end of the file: a header only if it names a Title; a lone
    # "Source: the UN said ..." line is more likely prose.
    return (header, "") if "title" in header else ({}, text)


def _split_title(text: str) -> tuple[str | None, str]:
    stripped = text.strip()
    first, _, rest = stripped.partition("\n")
    first = first.strip()
    if rest.strip() and looks_like_title(first):
        return first, rest.strip()
    return None, stripped


def looks_like_title(line: str) -> bool:
    words = line.split()
    return (
        0 < len(words) <= MAX_TITLE_WORDS
        and len(line) <= MAX_TITLE_CHARS
        and not line.endswith((".", ",", ";", ":"))
    )


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
