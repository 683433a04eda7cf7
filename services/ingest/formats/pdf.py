"""PDF files (.pdf): the text layer, read by pypdf; a PDF without one (a scan) is refused.

pypdf gives the text with a line break where the PDF placed each line. Lines are joined back into
paragraphs: a hyphen at a line's end joins without a space; a paragraph ends at a blank line, or
at a line that ends a sentence while stopping well short of the page's usual line length. The
info dictionary's Title (unless it is a file name or a generator's placeholder), Author and
CreationDate are kept as weak metadata: a dateline in the text says more than the file's date.
"""

from __future__ import annotations

import io
import re
import statistics

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from services.ingest.decode import NotText
from services.ingest.draft import Draft

# A page with a text layer has words on it; a scanned page yields none or a few stray characters.
MIN_LETTERS_PER_PAGE = 20
# A line shorter than this share of the typical line, ending a sentence, ends its paragraph.
SHORT_LINE_SHARE = 0.75
_SENTENCE_END = re.compile(r"[.!?؟:\"”»)]\s*$")
_PLACEHOLDER_TITLE = re.compile(
    r"(?i)^(?:untitled|microsoft word|document\d*)|\.(?:docx?|pdf|odt)$"
)


def read_pdf(data: bytes) -> list[Draft]:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise NotText("encrypted PDF: it needs a password to be read")
        pages = [page.extract_text() or "" for page in reader.pages]
        info: dict[str, object] = dict(reader.metadata or {})
    except PdfReadError as exc:
        raise NotText(f"unreadable PDF: {exc}") from None
    letters = sum(ch.isalpha() for text in pages for ch in text)
    if letters < MIN_LETTERS_PER_PAGE * max(1, len(pages)):
        raise NotText(
            f"PDF without a text layer ({letters} letters on {len(pages)} page"
            f"{'s' if len(pages) != 1 else ''}): a scanned document; run OCR on it first"
        )
    draft = Draft("pdf", paragraphs("\n".join(pages)))
    title = str(info.get("/Title") or "").strip()
    if title and not _PLACEHOLDER_TITLE.search(title):
        draft.give("title", title, "pdf-meta")
    draft.give("author", str(info.get("/Author") or "").strip(), "pdf-meta")
    draft.give("published", str(info.get("/CreationDate") or "").strip(), "pdf-meta")
    return [draft]


def paragraphs(text: str) -> str:
    """Layout lines joined into paragraphs (one per line in the result)."""
    lines = [line.strip() for line in text.splitlines()]
    lengths = [len(line) for line in lines if len(line) > 20]
    typical = statistics.median(lengths) if lengths else 0
    out: list[str] = []
    current = ""
    for line in lines:
        if not line:
            out.append(current)
            current = ""
            continue
        if current.endswith("-") and not current.endswith(" -"):
            current = current[:-1] + line
        else:
            current = f"{current} {line}" if current else line
        if _SENTENCE_END.search(line) and len(line) < SHORT_LINE_SHARE * typical:
            out.append(current)
            current = ""
    out.append(current)
    return "\n".join(p for p in out if p)
