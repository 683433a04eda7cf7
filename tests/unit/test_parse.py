"""Parsing .txt files into RawArticle, and the clear rejections."""

import codecs
import io
import random
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

import services.ingest.decode as decode_module
from newspipe.contract import RawArticle, doc_id
from services.ingest.parse import MIN_BODY_CHARS, Parsed, Rejected, looks_like_title
from services.ingest.parse import parse as parse_file

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SEEDS = Path(__file__).resolve().parents[2] / "seeds"

# Realistic article text: a lead paragraph first (it ends with a full stop, so it is no title) and
# the body comes back exactly as written.
ARABIC = (
    "عقدت اللجنة العسكرية المشتركة 5+5 اجتماعها في مدينة سرت، بحضور ممثلين عن البعثة الأممية، "
    "لمناقشة تثبيت وقف إطلاق النار وفتح الطريق الساحلي بين الشرق والغرب.\n\n"
    "وأكد أعضاء اللجنة التزامهم بإخراج المرتزقة والقوات الأجنبية من الأراضي الليبية، "
    "وتبادل المحتجزين، وتوحيد المؤسسة العسكرية تحت قيادة واحدة.\n\n"
    "وقالت البعثة الأممية للدعم في ليبيا إن الاجتماع كان بنّاءً، وإن الطرفين اتفقا على "
    "عقد جولة جديدة من المحادثات في جنيف الشهر المقبل."
)
FRENCH_CP1252 = (
    "La Commission militaire conjointe « 5+5 » s’est réunie à Syrte, où les délégués ont "
    "réaffirmé leur attachement au cessez-le-feu signé à Genève en octobre 2020.\n\n"
    "Selon l’envoyé spécial des Nations unies, les discussions ont porté sur le retrait des "
    "mercenaires et des forces étrangères, au cœur de l’accord, ainsi que sur l’échange de "
    "prisonniers. « C’est une étape décisive », a déclaré un officier présent à la réunion.\n\n"
    "La réouverture de la route côtière reste suspendue à des garanties de sécurité."
)
FRENCH_LATIN1 = (  # no smart quotes, no œ: what an old Latin-1 editor writes
    "La Commission militaire conjointe « 5+5 » s'est réunie à Syrte, où les délégués ont "
    "réaffirmé leur attachement au cessez-le-feu signé à Genève en octobre 2020.\n\n"
    "Selon l'envoyé spécial des Nations unies, les discussions ont porté sur le retrait des "
    "mercenaires et des forces étrangères, ainsi que sur l'échange de prisonniers."
)
FRENCH_LATIN9 = FRENCH_LATIN1.replace(  # œ and € exist in ISO-8859-15, not in ISO-8859-1
    "prisonniers.",
    "prisonniers, au cœur d'une œuvre de réconciliation chiffrée à 20 millions d'€.",
)
ENGLISH_CP1252 = (
    "Libya’s “5+5” Joint Military Commission met in Sirte on Tuesday, the UN mission said.\n\n"
    "The commission’s members agreed to reopen the coastal road and to ask foreign fighters "
    "to leave the country within ninety days — a step diplomats called “encouraging”."
)


def parse(name: str, data: bytes, now: datetime, max_bytes: int | None = None) -> object:
    """A single-article file's one article, or its rejection."""
    out = parse_file(name, data, now, max_bytes)
    if isinstance(out, Parsed):
        assert len(out.articles) == 1 and not out.problems, out
        return out.articles[0]
    return out


def test_title_line_is_split_from_body() -> None:
    art = parse(
        "a.txt",
        b"Opposing Libya military leaders meet in Tripoli\nLibya's military leaders "
        b"are trying to have a united front.",
        NOW,
    )
    assert isinstance(art, RawArticle)
    assert art.title == "Opposing Libya military leaders meet in Tripoli"
    assert art.body.startswith("Libya's military leaders")
    assert art.id == doc_id(art.body)
    assert art.source.encoding == "utf-8"


def test_lead_paragraph_is_not_a_title() -> None:
    seed = (SEEDS / "001_7a46a5f02b118931.txt").read_bytes()
    art = parse("001.txt", seed, NOW)
    assert isinstance(art, RawArticle)
    assert art.title is None
    assert art.body.startswith("Libya’s 5+5 Joint Military Committee")


@pytest.mark.parametrize(
    "line,expected",
    [
        ("5+5 paris", True),
        ("Opposing Libya military leaders meet in Tripoli", True),
        ("The meeting was attended by the chiefs of staff.", False),
        (" ".join(["word"] * 30), False),
    ],
)
def test_looks_like_title(line: str, expected: bool) -> None:
    assert looks_like_title(line) is expected


def test_header_block_gives_outlet_url_and_date() -> None:
    data = (
        "Title: JMC meets in Sirte\nOutlet: Libya Herald\nURL: https://example.org/a\n"
        "Published: 2020-11-03T10:00:00Z\n\nThe 5+5 Joint Military Commission met in Sirte."
    )
    art = parse("h.txt", data.encode(), NOW)
    assert isinstance(art, RawArticle)
    assert (art.title, art.source.outlet, art.source.url) == (
        "JMC meets in Sirte",
        "Libya Herald",
        "https://example.org/a",
    )
    assert art.published_at == datetime(2020, 11, 3, 10, tzinfo=UTC)


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data,text,encoding",
    [
        pytest.param(ARABIC.encode("utf-8"), ARABIC, "utf-8", id="utf-8-arabic"),
        pytest.param(codecs.BOM_UTF8 + FRENCH_CP1252.encode(), FRENCH_CP1252, "utf-8-sig"),
        pytest.param(codecs.BOM_UTF16_LE + ARABIC.encode("utf-16-le"), ARABIC, "utf-16"),
        pytest.param(codecs.BOM_UTF16_BE + ARABIC.encode("utf-16-be"), ARABIC, "utf-16"),
        pytest.param(
            codecs.BOM_UTF32_LE + FRENCH_CP1252.encode("utf-32-le"), FRENCH_CP1252, "utf-32"
        ),
        pytest.param(codecs.BOM_UTF32_BE + ARABIC.encode("utf-32-be"), ARABIC, "utf-32"),
        pytest.param(ARABIC.encode("cp1256"), ARABIC, "cp1256", id="cp1256-arabic"),
        pytest.param(ARABIC.encode("iso8859-6"), ARABIC, "iso8859-6", id="iso8859-6-arabic"),
        pytest.param(FRENCH_CP1252.encode("cp1252"), FRENCH_CP1252, "cp1252", id="cp1252-french"),
        pytest.param(
            FRENCH_LATIN1.encode("latin-1"), FRENCH_LATIN1, "latin-1", id="latin-1-french"
        ),
        pytest.param(FRENCH_LATIN9.encode("iso8859-15"), FRENCH_LATIN9, "iso8859-15", id="latin-9"),
        pytest.param(
            ENGLISH_CP1252.encode("cp1252"), ENGLISH_CP1252, "cp1252", id="cp1252-english"
        ),
    ],
)
def test_encodings_round_trip_to_the_exact_text(data: bytes, text: str, encoding: str) -> None:
    art = parse("a.txt", data, NOW)
    assert isinstance(art, RawArticle), art
    assert (art.title, art.body, art.source.encoding) == (None, text, encoding)
    assert art.id == doc_id(text)


def test_utf32_bom_is_not_read_as_utf16() -> None:
    # FF FE 00 00 starts with the UTF-16-LE mark FF FE; read as UTF-16 the text would gain a NUL.
    data = codecs.BOM_UTF32_LE + ENGLISH_CP1252.encode("utf-32-le")
    assert data.startswith(codecs.BOM_UTF16_LE)
    art = parse("a.txt", data, NOW)
    assert isinstance(art, RawArticle)
    assert (art.body, art.source.encoding) == (ENGLISH_CP1252, "utf-32")


def test_cp1256_title_and_body() -> None:
    title = "اجتماع اللجنة العسكرية المشتركة في سرت"
    art = parse("ar.txt", f"{title}\n{ARABIC}".encode("cp1256"), NOW)
    assert isinstance(art, RawArticle)
    assert (art.title, art.body, art.source.encoding) == (title, ARABIC, "cp1256")


def test_short_arabic_in_english_prefers_cp1256() -> None:
    # Four Arabic letters give the detector nothing to go on; it would say cp1252 ("ÌäíÝ").
    text = "The commission met in Geneva (جنيف) on Tuesday."
    art = parse("a.txt", text.encode("cp1256"), NOW)
    assert isinstance(art, RawArticle)
    assert (art.body, art.source.encoding) == (text, "cp1256")


def test_arabic_with_an_attached_latin_word_stays_cp1256() -> None:
    # "وCNN" (and CNN) mixes scripts inside a word; one such word in an article is tolerated.
    text = ARABIC.replace("وقالت البعثة", "وقالت وCNN والبعثة")
    art = parse("a.txt", text.encode("cp1256"), NOW)
    assert isinstance(art, RawArticle)
    assert (art.body, art.source.encoding) == (text, "cp1256")


def test_french_capitals_stay_cp1252() -> None:
    # In cp1256 É and Ç are Arabic letters, "CRÉÉ" even an Arabic "word" ("CRةة"), but inside Latin
    # words: the tie-break keeps cp1252.
    text = "UN COMITÉ CRÉÉ À SYRTE : LA COMMISSION S’EST RÉUNIE. ÇA AVANCE."
    art = parse("a.txt", text.encode("cp1252"), NOW)
    assert isinstance(art, RawArticle)
    assert (art.body, art.source.encoding) == (text, "cp1252")


def test_utf8_fast_path_never_calls_the_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_detector(*_: object, **__: object) -> None:
        raise AssertionError("charset-normalizer called for a UTF-8 file")

    monkeypatch.setattr(decode_module, "from_bytes", no_detector)
    art = parse("a.txt", ARABIC.encode(), NOW)
    assert isinstance(art, RawArticle) and art.body == ARABIC


# --- binary content ------------------------------------------------------------------------------

PNG_1X1 = (  # a complete 1x1 RGBA PNG
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\x0bIDATx\x9cc`\x00\x02\x00\x00\x05\x00\x01z^\xab?\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("article.txt", ENGLISH_CP1252)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data,kind",
    [
        (PNG_1X1, "a PNG image"),
        (_zip_bytes(), "a ZIP archive (or a .docx/.xlsx/.odt file)"),
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04", "a GIF image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", "a JPEG image"),
    ],
)
def test_known_binary_formats_are_named(data: bytes, kind: str) -> None:
    out = parse("scan.txt", data, NOW)
    assert out == Rejected(
        "scan.txt", f"binary content (looks like {kind}); not an article format read here"
    )


def test_nul_bytes_are_counted() -> None:
    out = parse("x.txt", b"\x00\x01\x02 some text that is long enough here", NOW)
    assert out == Rejected(
        "x.txt",
        "binary content: 1 NUL byte (text has none; UTF-16 or UTF-32 text needs a byte-order mark)",
    )


def test_utf16_without_bom_is_binary() -> None:
    data = ENGLISH_CP1252.encode("utf-16-le")
    out = parse("x.txt", data, NOW)
    assert isinstance(out, Rejected)
    ascii_chars = sum(ch.isascii() for ch in ENGLISH_CP1252)  # each has a NUL high byte
    assert out == Rejected(
        "x.txt",
        f"binary content: {ascii_chars} NUL bytes (text has none;"
        " UTF-16 or UTF-32 text needs a byte-order mark)",
    )


def test_random_bytes_are_binary() -> None:
    data = random.Random(20250101).randbytes(4096)
    nuls = data.count(0)
    assert nuls > 1
    out = parse("r.txt", data, NOW)
    assert isinstance(out, Rejected)
    assert out.reason.startswith(f"binary content: {nuls} NUL bytes")


def test_random_bytes_without_nul_fit_no_encoding() -> None:
    data = random.Random(7).randbytes(4096).replace(b"\x00", b"")
    out = parse("r.txt", data, NOW)
    assert isinstance(out, Rejected)
    assert out.reason.startswith("binary content: no text encoding fits")


def test_control_characters_mark_binary() -> None:
    # Valid UTF-8 (it is ASCII) but a tenth of it is control codes: a binary record format.
    data = b"record header " * 40 + bytes(range(1, 9)) * 8
    out = parse("c.txt", data, NOW)
    assert out == Rejected(
        "c.txt",
        f"binary content: 64 of {len(data):,} characters are control codes (10%)"
        " after decoding as utf-8",
    )


@pytest.mark.parametrize(
    "data,codec",
    [
        # C1 controls are two bytes in UTF-8 (C2 80-9F), counted apart from the C0 ones.
        (("Sirte \x85\x86\x87\x90 " * 30).encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF16_LE + ("Sirte \x01\x02\x1b\x7f " * 30).encode("utf-16-le"), "utf-16"),
    ],
)
def test_control_characters_are_counted_in_every_encoding(data: bytes, codec: str) -> None:
    out = parse("c.txt", data, NOW)
    assert out == Rejected(
        "c.txt",
        f"binary content: 120 of 330 characters are control codes (36%) after decoding as {codec}",
    )


def test_a_few_control_characters_are_tolerated() -> None:
    text = "The commission met in Sirte.\x0bIt agreed to reopen the coastal road."  # Word's \v
    art = parse("v.txt", text.encode(), NOW)
    assert isinstance(art, RawArticle) and art.body == text


def test_broken_text_after_a_bom_is_rejected() -> None:
    # A lone high surrogate (00 D8) after 2 + 36 bytes: the mark says UTF-16, the bytes disagree.
    lone = b"\x00\xd8"
    data = codecs.BOM_UTF16_LE + "Ceasefire in Sirte".encode("utf-16-le") + lone + b" \x00"
    out = parse("b.txt", data, NOW)
    assert out == Rejected(
        "b.txt",
        "broken utf-16 text: it starts with a utf-16 byte-order mark,"
        " but bytes 38-39 are invalid (illegal UTF-16 surrogate)",
    )


# --- size limit ----------------------------------------------------------------------------------


def test_too_large_reason_names_the_limit_and_the_setting() -> None:
    out = parse("big.txt", b"a" * (5 * 2**20), NOW, max_bytes=4 * 2**20)
    assert out == Rejected(
        "big.txt",
        "too large: 5,242,880 bytes (5.0 MB) > limit 4,194,304 bytes (4.0 MB);"
        " raise NEWSPIPE_INGEST__MAX_BYTES to accept it",
    )


def test_raw_size_at_the_limit_passes_one_byte_over_fails() -> None:
    data = ENGLISH_CP1252.encode("utf-8")
    assert isinstance(parse("a.txt", data, NOW, max_bytes=len(data)), RawArticle)
    out = parse("a.txt", data, NOW, max_bytes=len(data) - 1)
    assert isinstance(out, Rejected)
    assert out.reason.startswith(
        f"too large: {len(data):,} bytes (0.0 MB) > limit {len(data) - 1:,}"
    )


def test_utf8_expansion_counts_against_the_limit() -> None:
    data = ARABIC.encode("cp1256")
    utf8_size = len(ARABIC.encode("utf-8"))
    assert utf8_size > 1.5 * len(data)  # Arabic letters: 1 byte in cp1256, 2 in UTF-8
    assert isinstance(parse("ar.txt", data, NOW, max_bytes=utf8_size), RawArticle)
    out = parse("ar.txt", data, NOW, max_bytes=utf8_size - 1)
    assert out == Rejected(
        "ar.txt",
        f"too large: {utf8_size:,} bytes (0.0 MB) as UTF-8 text (the file is {len(data):,} bytes"
        f" of cp1256) > limit {utf8_size - 1:,} bytes (0.0 MB);"
        " raise NEWSPIPE_INGEST__MAX_BYTES to accept it",
    )


# --- title-only files ----------------------------------------------------------------------------


def test_lone_headline_is_indexed_as_its_own_body() -> None:
    headline = "Ceasefire holds in Sirte after JMC talks"
    art = parse("t.txt", f"\n{headline}\n\n".encode(), NOW)
    assert isinstance(art, RawArticle)
    assert (art.title, art.body, art.id) == (headline, headline, doc_id(headline))
    assert RawArticle.model_validate(art.model_dump()) == art


def test_short_lone_headline_is_rejected() -> None:
    out = parse("e.txt", b"Title only\n", NOW)
    assert out == Rejected(
        "e.txt",
        f"no article body: the file holds only the title 'Title only' (10 characters);"
        f" a title alone is indexed from {MIN_BODY_CHARS} characters",
    )


@pytest.mark.parametrize("ending", ["\n\n", "\n", ""])
def test_header_title_with_nothing_after_is_the_body(ending: str) -> None:
    data = f"Title: JMC meets in Sirte to discuss the road\nOutlet: Libya Herald{ending}"
    art = parse("h.txt", data.encode(), NOW)
    assert isinstance(art, RawArticle)
    assert (art.title, art.body, art.source.outlet) == (
        "JMC meets in Sirte to discuss the road",
        "JMC meets in Sirte to discuss the road",
        "Libya Herald",
    )


def test_short_header_title_with_nothing_after_is_rejected() -> None:
    out = parse("h.txt", b"Title: JMC meets\nOutlet: Libya Herald\n\n", NOW)
    assert isinstance(out, Rejected)
    assert out.reason.startswith("no article body: the file holds only the title 'JMC meets'")


def test_header_without_title_or_body_is_rejected() -> None:
    out = parse("h.txt", b"Outlet: Libya Herald\nURL: https://example.org/a\n\n", NOW)
    assert out == Rejected("h.txt", "no article body: fewer than 20 characters of text")


def test_one_line_source_sentence_is_prose_not_a_header() -> None:
    line = "Source: the UN mission said the ceasefire holds across the country."
    art = parse("s.txt", line.encode(), NOW)
    assert isinstance(art, RawArticle)
    assert (art.title, art.body, art.source.outlet) == (None, line, None)


def test_unsupported_suffix_and_empty_file() -> None:
    out = parse("a.docx", b"text", NOW)
    assert isinstance(out, Rejected) and out.reason.startswith(
        "unsupported file type: expected one of ('.txt', '.text', '.md',"
    )
    assert parse("e.txt", b"  \n\n ", NOW) == Rejected(
        "e.txt", "no article body: fewer than 20 characters of text"
    )


# --- line endings, paths, ids --------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_crlf_becomes_lf(encoding: str) -> None:
    text = "Réunion à Syrte\r\nLa commission s’est réunie mardi.\r\nElle a rouvert la route.\r\n"
    art = parse("a.txt", text.encode(encoding), NOW)
    assert isinstance(art, RawArticle)
    assert (art.title, art.body, art.source.encoding) == (
        "Réunion à Syrte",
        "La commission s’est réunie mardi.\nElle a rouvert la route.",
        encoding,
    )


def test_sub_folder_name_is_kept_in_source_path() -> None:
    art = parse("outlet-x/2025/a.txt", ENGLISH_CP1252.encode(), NOW)
    assert isinstance(art, RawArticle)
    assert art.source.path == "outlet-x/2025/a.txt"


def test_id_ignores_whitespace_case_quotes_and_unicode_form() -> None:
    a = "Libya’s  5+5 “Joint” Military\nCommittee"
    b = 'libya\'s 5+5 "joint" military committee'
    assert doc_id(a) == doc_id(b)
    assert doc_id("Cafe\u0301") == doc_id("café")
    assert doc_id(a) != doc_id(a + " met")
