"""E-mail messages (.eml): the subject is the title (without Fwd:/Re:/TR: marks), the plain text
part the body (the HTML part, through the page reader, when there is no plain one), the Date
header the publication date, the sender's domain the outlet when it is a known outlet's.

In a forwarded message the article is what was forwarded: the forwarder's note and the forwarded
header block ("---------- Forwarded message ---------", From/Date/Subject/To lines) go under
source.meta, the forwarded Date (the original's) is the publication date; the signature after
"-- " is cut.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr

from services.ingest.credits import outlets
from services.ingest.decode import NotText, decode
from services.ingest.draft import Draft, parse_date
from services.ingest.formats.html import read_html

_REPLY_MARKS = re.compile(r"^(?:\s*(?:re|fwd?|tr|aw|wg|rv|enc)\s*:\s*)+", re.I)
_FORWARD_LINE = re.compile(
    r"^\s*(?:-{3,}\s*(?:Forwarded message|Original Message|Message transféré|Message d'origine)"
    r".*|Begin forwarded message:|-{5,}.*)$",
    re.I,
)
_HEADER_LINE = re.compile(r"^\s*(?:From|De|Date|Sent|Envoyé|Subject|Objet|To|À|Cc)\s*:.*$", re.I)
_SIGNATURE = re.compile(r"\n-- \n.*\Z", re.S)


def read_email(data: bytes, now: datetime) -> list[Draft]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not (message["From"] or message["Subject"]):
        raise NotText("not an e-mail message: no From or Subject header")
    draft = _body(message, now)
    subject = _REPLY_MARKS.sub("", str(message["Subject"] or "")).strip()
    draft.found.pop("title", None)  # the subject is the title, not the HTML part's <title>
    draft.give("title", subject, "email")
    draft.give("published", str(message["Date"] or ""), "email")
    sender = parseaddr(str(message["From"] or ""))
    domain = sender[1].rpartition("@")[2]
    known = outlets().from_url(f"https://{domain}") if domain else None
    if known and known in outlets().by_domain.values():
        draft.give("outlet", known, "email")
    draft.meta["from"] = str(message["From"] or "")
    draft.give("language", str(message["Content-Language"] or ""), "email")
    return [draft]


def _body(message: EmailMessage, now: datetime) -> Draft:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        raise NotText("e-mail without a text or HTML body")
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise NotText("e-mail body could not be decoded")
    if part.get_content_type() == "text/html":
        draft = read_html(payload, now, fmt="eml")[0]
        draft.found.pop("published", None)  # the Date header speaks for the message
        return draft
    text, encoding = decode(payload, part.get_content_charset())
    body, forwarded = _article_text(text)
    draft = Draft("eml", body, encoding=encoding)
    # The forwarded message's own date is nearer the article's than the forward's.
    sent = (
        forwarded.pop("date", None) or forwarded.pop("envoyé", None) or forwarded.pop("sent", None)
    )
    if sent and (when := parse_date(re.sub(r"\s(?:at|à)\s", " ", sent))) is not None:
        draft.give("published", when, "email")
    draft.meta.update({f"forwarded_{k}" if k != "note" else k: v for k, v in forwarded.items()})
    return draft


def _article_text(text: str) -> tuple[str, dict[str, str]]:
    """The text without the signature and quoted-reply marks; for a forwarded message, only what
    was forwarded, with its header lines (From, Date, Subject) returned apart and the forwarder's
    own note under "note"."""
    text = _SIGNATURE.sub("", text.replace("\r\n", "\n"))
    lines = [re.sub(r"^>\s?", "", line) for line in text.split("\n")]
    start = next((i for i, line in enumerate(lines) if _FORWARD_LINE.match(line)), None)
    if start is None:
        return "\n".join(lines).strip(), {}
    forwarded: dict[str, str] = {}
    note = "\n".join(lines[:start]).strip()
    i = start + 1
    while i < len(lines) and (_HEADER_LINE.match(lines[i]) or not lines[i].strip()):
        if match := _HEADER_LINE.match(lines[i]):
            key, _, value = match.group(0).partition(":")
            forwarded[key.strip().lower()] = value.strip()
        elif forwarded:  # the blank line after the header block
            break
        i += 1
    if note:
        forwarded["note"] = note
    return "\n".join(lines[i:]).strip(), forwarded
