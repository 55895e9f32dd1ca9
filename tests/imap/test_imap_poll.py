"""The IMAP door against a real dovecot on 127.0.0.1: mail appended to the inbox with IMAP APPEND
becomes incidents and comments, each message handled once, then moved to the done folder."""
import hashlib
import re
import threading
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents.enums import EventKind
from app.incidents.references import thread_root
from app.mail.delivery import build_message
from app.mail.enums import InboundOutcome
from app.mail.inbound import imap
from app.mail.outbox import Envelope
from app.models import Attachment, InboundMessage, Incident, IncidentEvent, OutboxMessage
from tests import factories
from tests.imap.conftest import DONE, SENDER, Mailbox, imap_settings
from tests.imap.dovecot import Dovecot

THUNDERBIRD_REPLY = """\
Thanks, the printer prints again.

On 02/12/2026 10:00, Incident Portal wrote:
> Your incident was updated.
>
> Open it: http://portal.test/ui/incidents/1
"""

OUTLOOK_REPLY = """\
Still broken after the restart, see the photo.

-----Original Message-----
From: Incident Portal <incidents@portal.test>
Sent: Wednesday, December 2, 2026 10:00 AM
To: Reporter <reporter@example.test>
Subject: [INC-1] Printer jams

Your incident was updated.
"""


def incidents() -> list[Incident]:
    """Every incident, oldest first, as committed."""
    db.session.rollback()
    return list(db.session.scalars(select(Incident).order_by(Incident.id)))


def comments(incident_id: int) -> list[IncidentEvent]:
    """The incident's comments, oldest first."""
    db.session.rollback()
    return list(db.session.scalars(select(IncidentEvent).where(
        IncidentEvent.incident_id == incident_id, IncidentEvent.kind == EventKind.COMMENTED
    ).order_by(IncidentEvent.id)))


def records() -> list[InboundMessage]:
    """Every inbound record, oldest first."""
    db.session.rollback()
    return list(db.session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def logins(server: Dovecot, user: str) -> list[str]:
    """The server's log lines for `user`'s logins (they say how the connection was protected)."""
    return [line for line in server.log().splitlines() if f"Login: user=<{user}>" in line]


def logouts(server: Dovecot, user: str) -> list[str]:
    """The server's log lines for the end of each of `user`'s sessions (bytes in and out, messages
    flagged deleted and expunged)."""
    return [line for line in server.log().splitlines() if f"imap({user})" in line and "Logged out" in line]


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_a_mail_from_a_user_becomes_an_incident_over_tls_and_starttls(app, people, mailbox, make_mail, dovecot,
                                                                       security):
    """IMAPS and STARTTLS both log in over TLS (dovecot's log says so for every login of the
    account: a plain login would say "secured"), and the subject and text become the incident."""
    mailbox.append(make_mail("Reporter <Reporter@Example.test>", "Printer on floor 2 is on fire",
                             "Smoke comes out of the paper tray.\n"))

    result = imap.poll()

    assert (result.found, dict(result.outcomes), result.moved, result.failed) == (1, {InboundOutcome.CREATED: 1}, 1, 0)
    incident, = incidents()
    assert (incident.title, incident.reporter_id) == ("Printer on floor 2 is on fire", people["reporter"].id)
    assert "Smoke comes out of the paper tray." in incident.description
    created = db.session.scalar(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                                           IncidentEvent.kind == EventKind.CREATED))
    assert created.via == "email"
    lines = logins(dovecot, mailbox.account.user)
    assert len(lines) >= 2 and all(", TLS," in line for line in lines), lines
    assert (mailbox.count("INBOX"), mailbox.count(DONE)) == (0, 1)


def test_a_reply_to_our_mail_becomes_a_comment_by_its_references(app, people, mailbox, make_mail):
    """The reply names the Message-ID of a mail the portal really builds for the incident; the
    subject names no incident, so only References can find it. Thunderbird's quote is dropped."""
    incident = factories.make_incident(people["reporter"], title="Printer jams")
    row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == incident.id,
                                                         OutboxMessage.recipient == people["reporter"].email)).first()
    ours = build_message(Envelope(row.id, row.incident_id, row.recipient, row.subject, row.body_text,
                                  row.body_html, row.created_at))
    assert ours.msgId.startswith(f"<incident-{incident.id}.")
    mailbox.append(make_mail("reporter@example.test", "Re: your printer", THUNDERBIRD_REPLY,
                             In_Reply_To=ours.msgId, References=f"{thread_root(incident.id)} {ours.msgId}"))

    result = imap.poll()

    assert dict(result.outcomes) == {InboundOutcome.COMMENTED: 1}
    comment, = comments(incident.id)
    assert (comment.body, comment.actor_id, comment.via) == ("Thanks, the printer prints again.",
                                                             people["reporter"].id, "email")
    assert len(incidents()) == 1
    assert (mailbox.count("INBOX"), mailbox.count(DONE)) == (0, 1)


def test_a_reply_found_by_its_subject_becomes_a_comment(app, people, mailbox, make_mail):
    """No thread headers (a reply written anew): `[INC-<id>]` in the subject finds the incident;
    Outlook's original-message block is dropped."""
    incident = factories.make_incident(people["reporter"], title="Printer jams")
    mailbox.append(make_mail("reporter@example.test", f"RE: [INC-{incident.id}] Printer jams", OUTLOOK_REPLY))

    assert dict(imap.poll().outcomes) == {InboundOutcome.COMMENTED: 1}
    comment, = comments(incident.id)
    assert comment.body == "Still broken after the restart, see the photo."


def test_the_same_message_twice_makes_one_incident(app, people, mailbox, make_mail):
    """Two copies of one Message-ID (delivered twice, or appended by two rules): one incident,
    both moved away, and a later poll finds nothing."""
    message = make_mail("reporter@example.test", "VPN down")
    mailbox.append(message, message)

    result = imap.poll()

    assert dict(result.outcomes) == {InboundOutcome.CREATED: 1, InboundOutcome.DUPLICATE: 1}
    assert len(incidents()) == 1
    assert [r.outcome for r in records()] == [InboundOutcome.CREATED]
    assert (mailbox.count("INBOX"), mailbox.count(DONE)) == (0, 2)
    assert imap.poll().found == 0


def test_an_auto_reply_is_dropped_and_never_answered(app, people, mailbox, make_mail):
    """An out-of-office answer to our mail (Auto-Submitted: auto-replied) makes nothing and sends
    nothing back: no loop between two robots."""
    incident = factories.make_incident(people["reporter"])
    mail_before = db.session.query(OutboxMessage).count()
    mailbox.append(make_mail("reporter@example.test", f"Automatic reply: [INC-{incident.id}]",
                             "I am out of the office until Monday.", Auto_Submitted="auto-replied"),
                   make_mail("reporter@example.test", "Weekly digest", "News.", Precedence="bulk"))

    result = imap.poll()

    assert dict(result.outcomes) == {InboundOutcome.LOOP: 2}
    assert comments(incident.id) == [] and len(incidents()) == 1
    assert db.session.query(OutboxMessage).count() == mail_before
    assert (mailbox.count("INBOX"), mailbox.count(DONE)) == (0, 2)


def test_an_unknown_sender_creates_nothing(app, people, mailbox, make_mail):
    """A stranger's mail is recorded and moved; no incident; at most one answer saying why."""
    mailbox.append(make_mail("stranger@elsewhere.test", "Please fix my laptop"),
                   make_mail("stranger@elsewhere.test", "Hello again?"))

    result = imap.poll()

    assert dict(result.outcomes) == {InboundOutcome.UNKNOWN_SENDER: 2}
    assert incidents() == []
    assert [r.sender for r in records()] == ["stranger@elsewhere.test"] * 2
    assert db.session.query(OutboxMessage).filter_by(recipient="stranger@elsewhere.test").count() == 1
    assert (mailbox.count("INBOX"), mailbox.count(DONE)) == (0, 2)


def test_an_attachment_is_kept_byte_for_byte(app, people, mailbox, make_mail):
    """A file attached to the mail becomes the incident's attachment with the same sha256."""
    photo = bytes(range(256)) * 200 + b"\x89PNG tail"
    message = make_mail("reporter@example.test", "Broken screen", "Photo attached.")
    message.add_attachment(photo, maintype="application", subtype="octet-stream", filename="screen.bin")
    mailbox.append(message)

    assert dict(imap.poll().outcomes) == {InboundOutcome.CREATED: 1}
    incident, = incidents()
    attachment, = db.session.scalars(select(Attachment).where(Attachment.incident_id == incident.id))
    assert (attachment.filename, attachment.size) == ("screen.bin", len(photo))
    assert attachment.sha256 == hashlib.sha256(photo).hexdigest()


def test_every_handled_message_is_moved_and_the_inbox_ends_empty(app, people, mailbox, make_mail, dovecot):
    """Whatever became of each message (created, loop, unknown, malformed), it leaves the inbox;
    the done folder is created when missing and holds exactly what was read."""
    messages = [make_mail("reporter@example.test", f"Problem {n}") for n in range(3)]
    messages.append(make_mail("stranger@elsewhere.test", "Spam"))
    messages.append(make_mail("reporter@example.test", "Out of office", Auto_Submitted="auto-replied"))
    no_sender = EmailMessage()
    no_sender["Subject"] = "Nobody sent this"
    no_sender["Message-ID"] = "<no-sender@client.example>"
    no_sender.set_content("?")
    messages.append(no_sender)
    assert mailbox.count(DONE) is None
    mailbox.append(*messages)

    result = imap.poll()

    assert dict(result.outcomes) == {InboundOutcome.CREATED: 3, InboundOutcome.UNKNOWN_SENDER: 1,
                                     InboundOutcome.LOOP: 1, InboundOutcome.MALFORMED: 1}
    assert (mailbox.count("INBOX"), mailbox.count(DONE)) == (0, 6)
    # UID MOVE: nothing flagged \Deleted or expunged by hand (the fallback would show deleted=6).
    assert any("deleted=0 expunged=0" in line and "body_count=6" in line
               for line in logouts(dovecot, mailbox.account.user))
    assert mailbox.message_ids(DONE) == sorted(m["Message-ID"] for m in messages)
    assert imap.poll().found == 0


def test_a_message_over_the_limit_is_skipped_without_downloading_it(app, people, mailbox, make_mail, dovecot):
    """A 30 MiB message (over INBOUND_MAX_BYTES, 25 MiB) is recorded from its headers as malformed
    and moved; its body never crosses the wire (dovecot counts the bytes it sent); the small
    messages around it are handled."""
    big = make_mail("reporter@example.test", "Huge scan", "See the scan.")
    big.add_attachment(b"\0" * (30 * 1024 * 1024), maintype="application", subtype="octet-stream",
                       filename="scan.bin")
    mailbox.append(make_mail("reporter@example.test", "Before"), big, make_mail("reporter@example.test", "After"))

    result = imap.poll()

    assert (dict(result.outcomes), result.too_large) == ({InboundOutcome.CREATED: 2, InboundOutcome.MALFORMED: 1}, 1)
    assert [i.title for i in incidents()] == ["Before", "After"]
    malformed, = [r for r in records() if r.outcome == InboundOutcome.MALFORMED]
    assert (malformed.subject, malformed.message_id) == ("Huge scan", big["Message-ID"])
    assert "too large" in malformed.detail
    assert (mailbox.count("INBOX"), mailbox.count(DONE)) == (0, 3)
    sessions = logouts(dovecot, mailbox.account.user)
    poller = [line for line in sessions if "body_count=2 " in line]  # it downloaded 2 of the 3
    assert len(poller) == 1, sessions
    assert int(re.search(r" out=(\d+)", poller[0]).group(1)) < 1024 * 1024, poller  # far less than 30 MiB


def test_without_move_the_poller_copies_flags_and_expunges(app, people, own_dovecot, make_mail):
    """A server without the MOVE extension: COPY, \\Deleted, UID EXPUNGE, with the same result
    (dovecot counts the messages flagged deleted and expunged in the session)."""
    server = own_dovecot(capabilities="IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS")
    account = server.add_account()
    box = Mailbox(server, account)
    box.append(make_mail("reporter@example.test", "One"), make_mail("reporter@example.test", "Two"))
    app.config.update(imap_settings(server, account))

    result = imap.poll()

    assert (dict(result.outcomes), result.moved) == ({InboundOutcome.CREATED: 2}, 2)
    assert (box.count("INBOX"), box.count(DONE)) == (0, 2)
    assert any("deleted=2 expunged=2" in line for line in logouts(server, account.user)), server.log()


def test_a_message_from_our_own_address_is_a_loop(app, people, mailbox, make_mail):
    """Our own notification bounced back into the inbox is not a new incident."""
    mailbox.append(make_mail(f"Incident Portal <{SENDER}>", "[INC-1] Created"))
    assert dict(imap.poll().outcomes) == {InboundOutcome.LOOP: 1}
    assert incidents() == []


def test_two_pollers_at_once_handle_each_message_once(app, people, mailbox, make_mail, counts):
    """Two loops reading one mailbox at the same time (the single box's two gunicorn processes):
    a message both read is made once (the other sees a DUPLICATE), both moves are harmless; a
    later pass finds the inbox empty."""
    messages = [make_mail("reporter@example.test", f"Race {n}") for n in range(12)]
    mailbox_ids = [m["Message-ID"] for m in messages]
    mailbox.append(*messages)
    results, errors = [], []

    def run() -> None:
        with app.app_context():
            try:
                results.append(imap.poll())
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == [] and len(results) == 2
    assert sum(r.outcomes[InboundOutcome.CREATED] for r in results) == 12
    assert counts() == (12, 12)
    assert sorted(i.title for i in incidents()) == sorted(f"Race {n}" for n in range(12))
    assert all(r.failed == 0 for r in results)
    assert mailbox.count("INBOX") == 0
    # Both may have moved one message: dovecot's MOVE copies first, so the loser's copy can land
    # in the done folder before it learns the message is gone (EXPUNGEISSUED). Only an archive copy.
    assert set(mailbox.message_ids(DONE)) == set(mailbox_ids)
    assert imap.poll().found == 0
