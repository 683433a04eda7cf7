"""Bytes -> text in whatever encoding a source used (pure). Raises NotText for binary content.

A byte-order mark decides first (UTF-8, UTF-32, UTF-16); then a charset the file declares (an HTML
page's <meta charset>, an e-mail part's header), when it decodes the bytes; then strict UTF-8,
which most files are; then charset-normalizer, restricted to the encodings this domain's sources
use (Windows-1256 and ISO-8859-6 Arabic, Windows-1252, ISO-8859-1 and ISO-8859-15 French/English),
else anything else it finds with confidence. Binary content is refused with what it looks like.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import CharsetMatch, from_bytes

# Prose has no control characters besides \t \n \r \f; Word's \x0b line breaks stay far below 2%,
# while binary data read as Latin-1 is about 20% controls.
MAX_CONTROL_SHARE = 0.02

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


class NotText(ValueError):
    """The bytes are not an article's text; the message is the rejection reason."""


def decode(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """(text, Python codec name) of a file's bytes; raises NotText for binary content."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise NotText(f"binary content (looks like {kind}); not an article format read here")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = _decode_with_bom(data, codec)
            break
    else:
        if (found := _declared(data, declared)) is not None:
            return found
        if nuls := data.count(0):
            raise NotText(
                f"binary content: {nuls:,} NUL byte{'s' if nuls > 1 else ''} (text has none;"
                " UTF-16 or UTF-32 text needs a byte-order mark)"
            )
        try:  # the fast path: most files are UTF-8, no detector call
            text, codec = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, codec = _detect(data)
    controls = _count_controls(data, text, codec)
    if controls > MAX_CONTROL_SHARE * len(text):
        raise NotText(
            f"binary content: {controls:,} of {len(text):,} characters are control codes"
            f" ({controls / len(text):.0%}) after decoding as {codec}"
        )
    return text, codec


def _declared(data: bytes, declared: str | None) -> tuple[str, str] | None:
    """The text in the charset the file declares, if Python knows it and it decodes the bytes.
    A declared ASCII or Latin-1 is read as Windows-1252, its superset (as browsers do)."""
    if not declared:
        return None
    try:
        codec = _codec_name(declared.strip().strip("\"'"))
    except LookupError:
        return None
    if codec in ("ascii", "latin-1"):
        codec = "cp1252"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    if _count_controls(data, text, codec) > MAX_CONTROL_SHARE * len(text):
        return None
    return text, codec


def _count_controls(data: bytes, text: str, codec: str) -> int:
    if codec == "utf-8":  # 4x faster on the raw bytes: C0 and DEL are single bytes in UTF-8
        return len(data) - len(data.translate(None, _C0_BYTES)) + len(_UTF8_C1.findall(data))
    return len(_CONTROL.findall(text))


def _decode_with_bom(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)  # these codecs consume the mark
    except UnicodeDecodeError as exc:
        raise NotText(
            f"broken {codec} text: it starts with a {codec} byte-order mark, but bytes"
            f" {exc.start}-{exc.end - 1} are invalid ({exc.reason})"
        ) from None


def _detect(data: bytes) -> tuple[str, str]:
    best = (
        from_bytes(data, cp_isolation=_LIKELY).best()
        or from_bytes(data, threshold=_OTHER_MAX_CHAOS).best()
    )
    if best is None:
        raise NotText(
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
