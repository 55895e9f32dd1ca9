"""Real inbound messages, built with Python's `email` package the way mail clients write them:
plain, HTML-only, multipart/alternative, with attachments, replies quoted Thunderbird-style
("On <date>, <name> wrote:") and Outlook-style ("-----Original Message-----", "From: ... Sent: ..."),
signatures after "-- ". Each builder returns the message's bytes, as an MTA hands them over."""
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from itertools import count

from app.incidents.references import message_id, thread_root

_seq = count(1)

THUNDERBIRD_QUOTE = ("\n\nOn 02/12/2026 14:58, Incident portal wrote:\n"
                     "> INC-{id} · Assigned: Printer broken\n> \n> Hello Ann,\n")
OUTLOOK_QUOTE = ("\n\n-----Original Message-----\nFrom: Incident portal <portal@example.com>\n"
                 "Sent: Wednesday, December 2, 2026 2:58 PM\nTo: Ann <ann@example.test>\n"
                 "Subject: [INC-{id}] Assigned: Printer broken\n\nHello Ann,\n")
OUTLOOK_HEADER_BLOCK = ("\n\n________________________________\nFrom: Incident portal <portal@example.com>\n"
                        "Sent: Wednesday, December 2, 2026 2:58 PM\nTo: Ann\nSubject: RE: [INC-{id}]\n\n"
                        "Hello Ann, the portal's text.\n")
SIGNATURE = "\n\n-- \nAnn Example\nFinance, 3rd floor\n"


def new_id() -> str:
    """A fresh Message-ID on the sender's domain."""
    return make_msgid(idstring=f"t{next(_seq)}", domain="client.example.test")


def headers(sender: str, subject: str | None, *, msgid: str | None = None, **extra: str) -> EmailMessage:
    """A message with the usual headers; `extra` adds more (underscores in names become dashes)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "Incident portal <portal@example.com>"
    if subject is not None:
        mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    mail["Message-ID"] = msgid or new_id()
    for name, value in extra.items():
        mail[name.replace("_", "-")] = value
    return mail


def plain(sender: str, subject: str | None, text: str, **extra) -> bytes:
    """A text/plain message."""
    mail = headers(sender, subject, **extra)
    mail.set_content(text)
    return mail.as_bytes()


def html_only(sender: str, subject: str, html: str, **extra) -> bytes:
    """A text/html message with no plain part."""
    mail = headers(sender, subject, **extra)
    mail.set_content(html, subtype="html")
    return mail.as_bytes()


def alternative(sender: str, subject: str, text: str, html: str, **extra) -> bytes:
    """multipart/alternative: plain and HTML versions of the same words."""
    mail = headers(sender, subject, **extra)
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail.as_bytes()


def with_files(sender: str, subject: str, text: str, files: list[tuple[str, bytes]], *, html: str | None = None,
               **extra) -> bytes:
    """multipart/mixed: the text (and HTML alternative) and each (filename, bytes) attached."""
    mail = headers(sender, subject, **extra)
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    for filename, content in files:
        mail.add_attachment(content, maintype="application", subtype="octet-stream", filename=filename)
    return mail.as_bytes()


def reply_headers(incident_id: int) -> dict[str, str]:
    """In-Reply-To and References as a mail client writes them answering our mail about the incident
    (delivery.py gives each outgoing mail message_id(id, unique) and thread_root(id) as references)."""
    ours = message_id(incident_id, "outbox-7.20261202145824")
    return {"In_Reply_To": ours, "References": f"{thread_root(incident_id)} {ours}"}


def reply(sender: str, incident_id: int, text: str, *, subject: str = "Re: Printer broken", **extra) -> bytes:
    """A reply threaded by In-Reply-To / References to our mail (no reference in the subject)."""
    return plain(sender, subject, text, **{**reply_headers(incident_id), **extra})
