"""Each input format through parse(): the article's text without the page or message around it,
its metadata with where each value came from, sidecars, and the rejection of what is unusable.
The files are real-shaped samples made by the project (tests/data/formats/samples) and files
generated here (PDFs, an MHTML archive, encodings)."""

from __future__ import annotations

import email.message
import io
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from fpdf import FPDF

from newspipe.contract import RawArticle
from services.ingest.parse import Parsed, Rejected, parse

NOW = datetime(2026, 11, 30, tzinfo=UTC)
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "formats" / "samples"


def parsed(name: str, data: bytes | None = None, **kw: object) -> Parsed:
    out = parse(name, SAMPLES.joinpath(name).read_bytes() if data is None else data, NOW, **kw)  # type: ignore[arg-type]
    assert isinstance(out, Parsed), out
    return out


def one(name: str, data: bytes | None = None, **kw: object) -> RawArticle:
    out = parsed(name, data, **kw)
    assert len(out.articles) == 1 and not out.problems, out
    return out.articles[0]


# --- saved web pages -------------------------------------------------------------------------


PAGE_BOILERPLATE = [
    "We use cookies",
    "Monday, 30 November 2026",
    "Business & Economy",
    "Share on Facebook",
    "Photo: JMC media office",
    "Central bank unification talks resume",  # the inline "Read also" teaser
    "Misrata traders prepare",  # related articles and their teasers
    "Lorry owners say",
    "Parliament postpones the vote",  # most read
    "Sign up for our daily briefing",
    "should have started a year ago",  # comments
    "Good news at last",
    "All rights reserved",
    "Tags:",
]


def test_saved_page_gives_the_article_without_the_page_around_it() -> None:
    art = one("sirte-jmc-page.html")
    assert art.body.startswith("The 5+5 Joint Military Commission agreed in Sirte on Wednesday")
    assert art.body.endswith("both military leaderships had approved the plan.")
    assert "Under the plan, engineering teams" in art.body
    assert [b for b in PAGE_BOILERPLATE if b in art.body] == []
    assert art.title == "Joint Military Commission agrees mine-clearing plan for the coastal road"
    assert art.published_at == datetime(2021, 7, 28, tzinfo=UTC)  # not the header's "today"
    src = art.source
    assert (src.outlet, src.author, src.language, src.format) == (
        "Libya Herald",
        "Sami Zaptia",
        "en",
        "html",
    )
    assert src.url == "https://libyaherald.com/2021/07/jmc-mine-clearing-coastal-road/"
    assert set(src.provenance.values()) == {"html-meta"}
    assert src.meta["description"].startswith("The 5+5 commission set out")


def test_the_same_article_as_a_page_and_as_text_is_one_document() -> None:
    page = one("sirte-jmc-page.html")
    text = one("same.txt", f"{page.title}\n\n{page.body.replace(chr(10), chr(10) * 2)}".encode())
    assert text.id == page.id and text.source.format == "txt"


ARABIC_PAGE = """<html dir="rtl"><head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">
<title>اللجنة العسكرية المشتركة تجتمع في سرت</title></head><body>
<nav><a href="/">الرئيسية</a> <a href="/p">سياسة</a> <a href="/e">اقتصاد</a> <a
href="/s">رياضة</a></nav>
<article><h1>اللجنة العسكرية المشتركة تجتمع في سرت</h1>
<p>عقدت اللجنة العسكرية المشتركة 5+5 اجتماعا في مدينة سرت لمناقشة إخراج المرتزقة والقوات
الأجنبية من البلاد، بحضور ممثلين عن البعثة الأممية.</p>
<p>اقرأ أيضا: ارتفاع إنتاج النفط بعد إعادة فتح الموانئ</p>
<p>وأكد أعضاء اللجنة التزامهم بوقف إطلاق النار وفتح الطريق الساحلي بين سرت ومصراتة في أقرب وقت
ممكن.</p>
<p>وقالت البعثة إن الاجتماع كان بناء وإن الطرفين اتفقا على جولة جديدة من المحادثات الشهر
المقبل.</p>
</article><aside><h3>الأكثر قراءة</h3><ul><li>انقطاع الكهرباء في العاصمة مع ارتفاع درجات
الحرارة</li></ul></aside>
<footer>جميع الحقوق محفوظة</footer></body></html>"""


def test_a_page_in_its_declared_windows_1256_is_read_in_it() -> None:
    art = one("wasat.html", ARABIC_PAGE.encode("cp1256"))
    assert art.source.encoding == "cp1256"
    assert art.body.startswith("عقدت اللجنة العسكرية المشتركة 5+5")
    assert "اقرأ أيضا" not in art.body and "الأكثر قراءة" not in art.body
    assert "انقطاع الكهرباء" not in art.body and "جميع الحقوق" not in art.body


def test_a_page_saved_as_a_single_file_archive() -> None:
    message = email.message.EmailMessage()
    message["Snapshot-Content-Location"] = "https://www.alwasat.ly/news/libya/1"
    message["Subject"] = "saved page"
    message.set_content(ARABIC_PAGE, subtype="html", charset="utf-8")
    art = one("page.mhtml", message.as_bytes())
    assert art.source.format == "mhtml" and art.source.url == "https://www.alwasat.ly/news/libya/1"
    assert art.source.outlet == "Al Wasat"  # from the URL's domain
    assert art.source.provenance["outlet"] == "url"
    assert art.body.startswith("عقدت اللجنة")


def test_a_page_without_article_text_is_rejected() -> None:
    out = parse("empty.html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>", NOW)
    assert isinstance(out, Rejected) and "no article text found in the page" in out.reason


# --- exports -----------------------------------------------------------------------------------


def test_a_scraper_export_keeps_its_good_lines_and_names_the_bad_ones() -> None:
    out = parsed("scraper-export.jsonl")
    assert [a.source.record for a in out.articles] == [1, 2, 5]
    assert [a.source.language for a in out.articles] == ["en", "ar", "fr"]
    first = out.articles[0]
    assert first.source.outlet == "Libya Observer"  # "source_domain": libyaobserver.ly
    assert first.published_at == datetime(2021, 11, 1, 14, 20, tzinfo=UTC)
    assert first.source.author == "Libya Observer staff"
    assert first.source.meta == {
        "image_url": "https://www.libyaobserver.ly/img/cairo.jpg",
        "category": "security",
    }
    assert first.source.provenance["published"] == "json"
    assert [(p.record, p.reason.split(":")[0]) for p in out.problems] == [
        (3, "line 3"),
        (4, "line 4"),
    ]
    assert "not JSON" in out.problems[0].reason and out.problems[0].raw is not None
    assert out.problems[0].raw.startswith('{"url": "https://example.org/broken"')
    assert "no article text" in out.problems[1].reason


def test_the_records_of_an_export_are_seen_in_file_order() -> None:
    """Each record its own ingestion instant, in file order, so that the link stage takes the
    first record of a group as its original instead of re-deciding earlier records by id: an
    export of an original and two copies gives no correction."""
    from services.enrich.core import Enricher
    from services.enrich.link import Linker

    body = (
        "The 5+5 Joint Military Commission met in Sirte on Monday to review the ceasefire. "
        "Its members agreed to open the coastal road and to exchange lists of detainees. "
        "The United Nations mission said the talks would resume in Geneva next month."
    )
    lines = [
        {"title": f"Copy {i}", "text": body + f" Reported by outlet number {i} of the region."}
        for i in range(3)
    ]
    out = parsed("export.jsonl", b"\n".join(orjson.dumps(x) for x in lines))
    seen = [a.ingested_at for a in out.articles]
    assert seen[0] == NOW and seen == sorted(seen) and len(set(seen)) == 3
    enricher, linker = Enricher(), Linker({})
    decided = [linker.observe(enricher.enrich(a, NOW)) for a in reversed(out.articles)]
    assert any(updates for _, updates in decided)  # seen in reverse: earlier ones corrected
    enricher, linker = Enricher(), Linker({})
    decided = [linker.observe(enricher.enrich(a, NOW)) for a in out.articles]
    assert not any(updates for _, updates in decided)
    first = out.articles[0].id
    assert [d.dedup.duplicate_of for d, _ in decided] == [None, first, first]


def test_a_newsapi_response_and_its_cut_content() -> None:
    out = parsed("newsapi-export.json")
    (art,) = out.articles
    assert (art.source.outlet, art.source.author) == ("Asharq Al-Awsat", "Kamal Abdallah")
    assert art.published_at == datetime(2022, 2, 9, 18, 30, tzinfo=UTC)
    assert art.source.meta == {"description": "The 5+5 committee met in Tripoli."}
    (problem,) = out.problems
    assert problem.record == 2 and "cut short ('[+2331 chars]')" in problem.reason


def test_an_elasticsearch_export_and_a_single_object() -> None:
    hit = {"title": "T", "body": "An article from an Elasticsearch export of ours.", "x": 1}
    export = {"hits": {"hits": [{"_id": "a", "_source": hit}]}}
    art = one("es.json", orjson.dumps(export))
    assert (art.title, art.source.record, art.source.meta) == ("T", 1, {"x": 1})
    single = one("one.json", orjson.dumps(hit))
    assert single.id == art.id and single.source.record is None


def test_an_export_without_any_usable_record_is_rejected_with_every_reason() -> None:
    data = b'{"title": "no text"}\n[1, 2]\n'
    out = parse("bad.jsonl", data, NOW)
    assert isinstance(out, Rejected)
    assert out.reason.startswith("no usable article in the export: line 1: no article text")
    assert "line 2: not an article object but a JSON list" in out.reason


def test_one_article_over_the_limit_in_an_export_is_one_problem() -> None:
    small = {"title": "ok", "text": "A short article that fits within the limit."}
    big = {"title": "big", "text": "word " * 400}
    out = parsed("x.jsonl", orjson.dumps(small) + b"\n" + orjson.dumps(big) + b"\n", max_bytes=1000)
    assert [a.title for a in out.articles] == ["ok"]
    assert out.problems[0].record == 2 and "too large" in out.problems[0].reason


# --- PDF ---------------------------------------------------------------------------------------

PDF_TEXT = (
    "GENEVA, 23 October 2020 - The Joint Military Commission signed a permanent ceasefire "
    "agreement in Geneva today, under which all foreign fighters and mercenaries are to leave "
    "Libya within three months. The commission also agreed to open the roads between the "
    "east and the west of the country and to resume domestic flights to the south."
)


def pdf(text: str | None, title: str = "", pages: int = 1) -> bytes:
    doc = FPDF()
    doc.set_title(title)
    doc.set_creation_date(datetime(2020, 10, 25, 9, 0, tzinfo=UTC))
    doc.set_font("Helvetica", size=11)
    for _ in range(pages):
        doc.add_page()
        if text is None:
            doc.rect(20, 20, 150, 200, style="F")  # a scan: an image, no text
        else:
            doc.multi_cell(0, 5, text)
    out = io.BytesIO()
    doc.output(out)
    return out.getvalue()


def test_a_pdf_bulletin_is_read_from_its_text_layer() -> None:
    art = one("bulletin.pdf", pdf(PDF_TEXT, title="JMC signs ceasefire in Geneva"))
    assert art.source.format == "pdf" and art.title == "JMC signs ceasefire in Geneva"
    assert " ".join(art.body.split()) == PDF_TEXT  # the layout's line breaks joined back
    # The dateline says more than the file's creation date (two days later).
    assert art.published_at == datetime(2020, 10, 23, tzinfo=UTC)
    assert art.source.provenance["published"] == "dateline"


def test_a_pdf_without_a_dateline_takes_its_creation_date_and_a_named_pdf_is_read_as_one() -> None:
    text = "The commission met again to review the ceasefire and the exchange of prisoners."
    art = one("bulletin.txt", pdf(text, title="Microsoft Word - bulletin.docx"))
    assert art.source.format == "pdf" and art.title is None  # a placeholder title is no title
    assert art.published_at == datetime(2020, 10, 25, 9, 0, tzinfo=UTC)
    assert art.source.provenance["published"] == "pdf-meta"


def test_a_scanned_pdf_is_rejected_with_that_reason() -> None:
    out = parse("scan.pdf", pdf(None, pages=2), NOW)
    assert isinstance(out, Rejected)
    assert out.reason == (
        "PDF without a text layer (0 letters on 2 pages): a scanned document; run OCR on it first"
    )


# --- e-mail, Markdown, text ----------------------------------------------------------------------


def test_a_forwarded_email_is_the_forwarded_article() -> None:
    art = one("forwarded-bulletin.eml")
    assert art.title == "UNSMIL welcomes JMC agreement on ceasefire monitors"  # "Fwd:" dropped
    assert art.body.startswith("The United Nations Support Mission in Libya welcomes")
    assert art.body.endswith("foreign fighters and foreign forces.")  # no signature
    assert art.published_at == datetime(2021, 10, 29, 17, 5, tzinfo=UTC)  # the original's date
    assert art.source.meta["note"] == "For the security file."
    assert art.source.meta["forwarded_from"] == "UNSMIL Press <press@example.org>"
    assert art.source.provenance == {"title": "email", "published": "email"}


def test_an_email_date_header_is_the_publication_date() -> None:
    data = (
        b"From: Libya Herald <news@libyaherald.com>\r\nSubject: Daily security brief\r\n"
        b"Date: Tue, 14 Jun 2022 07:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"\r\nThe joint commission met border officials from Niger and Chad in Tripoli.\r\n"
    )
    art = one("brief.eml", data)
    assert art.published_at == datetime(2022, 6, 14, 7, tzinfo=UTC)
    assert art.source.outlet == "Libya Herald"  # the sender's domain is a known outlet's
    assert art.source.provenance["outlet"] == "email"


def test_markdown_with_front_matter() -> None:
    art = one("desk-brief.md")
    assert art.title == "Border security talks with Niger and Chad"
    assert art.published_at == datetime(2022, 6, 14, tzinfo=UTC)
    assert (art.source.outlet, art.source.author) == ("Monitoring desk brief", "Desk analyst")
    assert art.source.meta == {"priority": "high"}
    assert "**" not in art.body and "](" not in art.body and "A joint operations room" in art.body
    assert not art.body.startswith("Border security talks")  # the heading repeats the title


def test_a_wire_text_is_dated_and_credited_by_its_dateline() -> None:
    art = one("wire-story.txt")
    assert art.published_at == datetime(2021, 12, 11, tzinfo=UTC)
    assert art.source.outlet == "Reuters"
    assert art.source.provenance == {
        "title": "first-line",
        "outlet": "dateline",
        "published": "dateline",
    }


# --- sidecars ----------------------------------------------------------------------------------


def test_a_sidecar_supplies_and_overrides_metadata() -> None:
    sidecar = SAMPLES.joinpath("desk-note.txt.meta.json").read_bytes()
    art = one("desk-note.txt", sidecar=sidecar)
    assert (art.source.outlet, art.source.url, art.source.language) == (
        "Libya Review",
        "https://libyareview.com/tripoli-clashes",
        "en",
    )
    assert art.published_at == datetime(2022, 8, 27, 7, 30, tzinfo=UTC)
    assert art.source.meta == {"desk": "security", "analyst": "F.B."}
    assert art.source.provenance["outlet"] == "sidecar"
    over = one("wire-story.txt", sidecar=b'{"outlet": "Libya Herald", "title": "Chiefs meet"}')
    assert (over.source.outlet, over.title) == ("Libya Herald", "Chiefs meet")
    assert over.published_at == datetime(2021, 12, 11, tzinfo=UTC)  # still the dateline's


def test_a_sidecar_gives_an_export_defaults_only() -> None:
    out = parsed("scraper-export.jsonl", sidecar=b'{"outlet": "Desk feed", "language": "xx"}')
    assert [a.source.outlet for a in out.articles] == ["Libya Observer", "Al Wasat", "RFI"]
    assert [a.source.language for a in out.articles] == ["en", "ar", "fr"]


@pytest.mark.parametrize(
    "sidecar,reason",
    [
        (b"{not json", "its sidecar .meta.json file is not JSON"),
        (b"[1]", "its sidecar .meta.json file is not a JSON object"),
    ],
)
def test_a_bad_sidecar_rejects_its_article_with_the_reason(sidecar: bytes, reason: str) -> None:
    out = parse("desk-note.txt", SAMPLES.joinpath("desk-note.txt").read_bytes(), NOW, None, sidecar)
    assert isinstance(out, Rejected) and out.reason.startswith(reason)


def test_a_future_date_is_not_trusted() -> None:
    art = one("a.txt", b"Title: T\nPublished: 2031-01-01\n\nThe commission met in Sirte today.")
    assert art.published_at is None and "published" not in art.source.provenance
