"""Hostile and broken mail (SPEC "Inbound mail": oversized or malformed messages are logged and
skipped, never crash): each case is handled (never an exception), writes exactly one inbound_messages
row, and makes either nothing (MALFORMED) or one incident with what could be read."""
import hashlib
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents import attachments
from app.incidents.lifecycle import DESCRIPTION_MAX, TITLE_MAX
from app.mail.enums import InboundOutcome
from app.mail.inbound.parse import MAX_PARTS
from app.models import Attachment, Incident
from tests.attachment_helpers import PNG
from tests.inbound import messages

SENDER = "reporter@example.test"


def _incident(handled) -> Incident:
    db.session.rollback()
    return db.session.get(Incident, handled.incident_id)


def _files(incident_id: int) -> list[Attachment]:
    return list(db.session.scalars(select(Attachment).where(Attachment.incident_id == incident_id)
                                   .order_by(Attachment.id)))


def _multipart(parts: list[bytes], *, subject: str = "Many parts", boundary: str = "b0") -> bytes:
    head = (f"From: {SENDER}\r\nSubject: {subject}\r\nMessage-ID: {messages.new_id()}\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n').encode()
    body = b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts)
    return head + body + f"--{boundary}--\r\n".encode()


MALFORMED = {
    "not mail at all": b"\x00\xff\xfe this is not a message\r\n\r\n\x00",
    "no From": b"Subject: Who am I?\r\nMessage-ID: <nofrom@x.example.test>\r\n\r\nNo sender.\r\n",
    "From without an address": b"From: Just A Name\r\nSubject: x\r\nMessage-ID: <noaddr@x.example.test>\r\n\r\nx\r\n",
    "From of garbage": b"From: <<<@>>> ,,;; \"\r\nSubject: x\r\nMessage-ID: <junk@x.example.test>\r\n\r\nx\r\n",
    "empty": b"",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_unusable_messages_are_malformed_and_make_nothing(people, deliver, tally, inbound_rows, raw):
    before = tally()
    handled = deliver(raw)
    assert handled.outcome == InboundOutcome.MALFORMED
    assert tally() == {**before, "inbound_messages": 1}
    [row] = inbound_rows()
    assert row.outcome == InboundOutcome.MALFORMED and row.detail
    assert deliver(raw).outcome == InboundOutcome.DUPLICATE  # read again (a poller's retry): once only
    assert len(inbound_rows()) == 1


def test_a_30_mib_message_is_refused_before_its_body_is_read(people, deliver, tally, inbound_rows):
    msgid = messages.new_id()
    head = f"From: {SENDER}\r\nSubject: Huge\r\nMessage-ID: {msgid}\r\n\r\n".encode()
    raw = head + b"x" * (30 * 1024 * 1024)
    before = tally()
    handled = deliver(raw)
    assert handled.outcome == InboundOutcome.MALFORMED and "too large" in handled.detail
    assert tally() == {**before, "inbound_messages": 1}
    [row] = inbound_rows()
    assert (row.message_id, row.sender, row.subject) == (msgid, SENDER, "Huge")  # the header block was read
    assert deliver(raw).outcome == InboundOutcome.DUPLICATE


def test_an_oversized_message_handed_over_as_its_header_block_alone(people, deliver, inbound_rows):
    head = f"From: {SENDER}\r\nSubject: Huge\r\nMessage-ID: <big@x.example.test>\r\n\r\n".encode()
    handled = deliver(head, declared_size=30 * 1024 * 1024)  # an IMAP poller that read RFC822.SIZE
    assert handled.outcome == InboundOutcome.MALFORMED and "too large" in handled.detail
    assert inbound_rows()[0].message_id == "<big@x.example.test>"


def test_a_thousand_parts_are_read_up_to_the_limit(people, deliver):
    parts = [f"Content-Type: text/plain\r\n\r\npart {n:04d}".encode() for n in range(1000)]
    handled = deliver(_multipart(parts))
    assert handled.outcome == InboundOutcome.CREATED
    assert f"beyond the first {MAX_PARTS} were ignored" in handled.detail
    description = _incident(handled).description
    assert "part 0000" in description and "part 0098" in description  # the container is one of the 100
    assert "part 0099" not in description and "part 0999" not in description


def test_deep_nesting_is_cut_not_crashed_on(people, deliver):
    inner = b"Content-Type: text/plain\r\n\r\ndeep text"
    for depth in range(300):
        inner = (f'Content-Type: multipart/mixed; boundary="n{depth}"\r\n\r\n--n{depth}\r\n'.encode()
                 + inner + f"\r\n--n{depth}--".encode())
    raw = f"From: {SENDER}\r\nSubject: Deep\r\nMessage-ID: {messages.new_id()}\r\n".encode() + inner
    handled = deliver(raw)
    assert handled.outcome == InboundOutcome.CREATED
    assert "nested deeper than 20 levels were ignored" in handled.detail


def test_a_charset_that_does_not_exist_reads_as_utf8(people, deliver):
    raw = (f"From: {SENDER}\r\nSubject: =?x-no-such-charset?q?Caf=C3=A9?= down\r\n"
           f"Message-ID: {messages.new_id()}\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=x-no-such-charset\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "Caf\u00e9 machine is broken \u2615\r\n").encode()
    handled = deliver(raw)
    assert handled.outcome == InboundOutcome.CREATED and "unknown charset" in handled.detail
    incident = _incident(handled)
    assert incident.description == "Caf\u00e9 machine is broken \u2615"
    assert incident.title.endswith("down")


def test_bytes_that_are_not_the_declared_charset_are_replaced(people, deliver):
    raw = (f"From: {SENDER}\r\nSubject: Bytes\r\nMessage-ID: {messages.new_id()}\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() \
        + b"bad \xff\xfe bytes \x00 and a NUL\r\n"
    incident = _incident(deliver(raw))
    assert incident.description == "bad \ufffd\ufffd bytes  and a NUL"


def test_a_10000_character_subject_is_cut_to_a_title(people, deliver, inbound_rows):
    handled = deliver(messages.plain(SENDER, "Broken " * 1500, "x"))
    title = _incident(handled).title
    assert len(title) == TITLE_MAX and title.endswith("…") and title.startswith("Broken Broken")
    assert len(inbound_rows()[0].subject) == 300


def test_a_text_over_the_description_limit_is_cut_and_said(people, deliver):
    handled = deliver(messages.plain(SENDER, "Long", "word " * 5000))
    description = _incident(handled).description
    assert len(description) <= DESCRIPTION_MAX and description.endswith("(The mail was longer; the rest was cut.)")
    assert "cut to" in handled.detail


def test_a_forwarded_message_is_attached_not_read_as_the_senders_text(people, deliver):
    inner = messages.headers("someone@elsewhere.example", "Original problem")
    inner.set_content("The inner text, written by someone else.")
    outer = messages.headers(SENDER, "Fwd: Original problem")
    outer.set_content("See the forwarded mail.")
    outer.add_attachment(inner)
    handled = deliver(outer.as_bytes())
    incident = _incident(handled)
    assert incident.description == "See the forwarded mail."
    [attached] = _files(incident.id)
    assert attached.filename == "Original problem.eml"
    data = attachments.path_of(attached).read_bytes()
    assert b"The inner text, written by someone else." in data


def test_hostile_file_names_are_sanitized(people, deliver):
    name = "../../etc/\x07pass\x1bwd\u202egpj.exe"
    handled = deliver(messages.with_files(SENDER, "Names", "x", [(name, b"data")]))
    [attached] = _files(handled.incident_id)
    assert attached.filename == "passwdgpj.exe"
    assert attached.sha256 == hashlib.sha256(b"data").hexdigest()


def test_more_files_than_one_upload_takes_are_left_out_and_said(people, deliver):
    files = [(f"f{n:02d}.txt", f"file {n}".encode()) for n in range(25)]
    handled = deliver(messages.with_files(SENDER, "Many files", "x", files))
    assert handled.outcome == InboundOutcome.CREATED
    kept = _files(handled.incident_id)
    assert [row.filename for row in kept] == [f"f{n:02d}.txt" for n in range(attachments.FILES_PER_REQUEST)]
    assert "15 attachment(s) left out" in handled.detail


def test_a_file_over_the_attachment_limit_is_left_out_not_the_mail(app, people, deliver):
    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    handled = deliver(messages.with_files(SENDER, "Big file", "Text stays.", [("big.bin", b"x" * 2048),
                                                                              ("small.png", PNG)]))
    assert handled.outcome == InboundOutcome.CREATED and "big.bin was left out" in handled.detail
    assert [row.filename for row in _files(handled.incident_id)] == ["small.png"]


def test_broken_base64_and_an_unclosed_boundary_still_give_a_report(people, deliver):
    parts = [b"Content-Type: text/plain\r\n\r\nThe words.",
             b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="x.bin"\r\n'
             b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64@@@"]
    raw = _multipart(parts).rsplit(b"--b0--", 1)[0]  # never closed
    handled = deliver(raw)
    assert handled.outcome == InboundOutcome.CREATED
    assert _incident(handled).description == "The words."


def test_headers_of_every_kind_of_broken_do_not_crash(people, deliver):
    raw = (f"From: {SENDER}\r\nSubject: =?utf-8?b?!!!?= =?utf-8?q?=FF=FE?=\r\nMessage-ID: {messages.new_id()}\r\n"
           "Date: not a date\r\nIn-Reply-To: <<<>>>\r\nReferences: \x00\x01\r\nContent-Type: text/plain; "
           "charset=\"\r\n\r\nbody\r\n").encode()
    assert deliver(raw).outcome == InboundOutcome.CREATED


def test_an_encoded_mail_builder_round_trip(people, deliver):
    mail = EmailMessage()
    mail["From"] = "=?utf-8?q?Ren=C3=A9e?= <reporter@example.test>"
    mail["Subject"] = "Ünïcödé ☃ subject"
    mail["Message-ID"] = messages.new_id()
    mail.set_content("Grüße ☃")
    incident = _incident(deliver(mail.as_bytes()))
    assert (incident.title, incident.description) == ("Ünïcödé ☃ subject", "Grüße ☃")

