"""Delivery from the outbox against a real SMTP server: outages, refusals, dropped connections,
backoff, the last attempt, retries, lapsed leases. One `drain()` is one pass of any sender."""
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.exceptions import NotFound, TransitionNotAllowed
from app.extensions import db
from app.incidents import service
from app.incidents.enums import Status
from app.mail import outbox
from app.mail.delivery import drain, message_id_for
from app.mail.enums import OutboxStatus
from app.mail.outbox import Envelope
from app.models import OutboxMessage, utcnow
from tests import factories
from tests.mail.smtp import mail_app, silent_listener

pytestmark = pytest.mark.smtp


@pytest.fixture
def make_mail(people, smtp, outbox_rows) -> Callable[[], OutboxMessage]:
    """Makes one incident whose creation mail has been delivered; then one resolved-mail row, pending."""

    def make() -> OutboxMessage:
        """The pending resolved-mail row."""
        incident = factories.make_incident(people["reporter"])
        factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
        drain()
        smtp.inbox.messages.clear()
        service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="Replaced the disk.")
        return outbox_rows()[-1]

    return make


def test_a_claim_takes_one_batch_oldest_first_and_never_a_claimed_row(app, people, outbox_rows):
    """claim_due honours its limit (PostgreSQL once ignored it) and skips rows already claimed."""
    for n in range(6):
        factories.make_incident(people["reporter"], title=f"Batch {n}")  # 12 rows
    ids = [m.id for m in outbox_rows()]

    first = outbox.claim_due(worker="a", now=utcnow(), limit=5)
    second = outbox.claim_due(worker="b", now=utcnow(), limit=5)
    rest = outbox.claim_due(worker="c", now=utcnow(), limit=5)

    assert (first, second, rest) == (ids[:5], ids[5:10], ids[10:])
    assert [m.claimed_by for m in outbox_rows()] == ["a"] * 5 + ["b"] * 5 + ["c"] * 2
    assert outbox.claim_due(worker="d", now=utcnow()) == []


def test_an_outage_keeps_mail_waiting_and_delivery_resumes_exactly_once(app, smtp, people, outbox_rows):
    """SMTP down: the changes commit, mail waits with no attempt spent; back up: each sent once."""
    smtp.stop()
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.RESOLVED, incident=incident, admin=people["admin"], technician=people["tech"])
    queued = outbox_rows()
    # Created: the reporter and the admin; then every move mails the watchers (the reporter and, once
    # assigned, the technician) but the one who acted: the admin assigned, the technician started and resolved.
    reporter, admin, tech = (people[who].email for who in ("reporter", "admin", "tech"))
    assert [m.event for m in queued] == ["created_confirmation", "created", "assigned", "assigned", "started",
                                         "resolved"]
    assert sorted((m.event, m.recipient) for m in queued) == sorted([
        ("created_confirmation", reporter), ("created", admin),
        ("assigned", tech), ("assigned", reporter), ("started", reporter), ("resolved", reporter)])

    for _ in range(3):
        result = drain()
        assert result.unreachable and "Connection refused" in result.unreachable
    assert {(m.status, m.attempts) for m in outbox_rows()} == {(OutboxStatus.PENDING, 0)}
    assert all("SMTP server unreachable" in m.last_error for m in outbox_rows())

    smtp.start()
    result = drain()
    assert (result.sent, result.unreachable) == (6, None)
    assert drain().sent == 0

    inbox = smtp.inbox.wait_for(6)
    assert len(inbox) == 6
    assert sorted(smtp.inbox.message_ids()) == sorted(message_id_for(_envelope(m)) for m in queued)
    assert {(m.status, m.attempts) for m in outbox_rows()} == {(OutboxStatus.SENT, 1)}


def test_a_server_that_never_answers_times_out_and_mail_waits(app, people, outbox_rows):
    """A hung server (TCP accepted, no greeting) costs the sender MAIL_TIMEOUT_SECONDS, not forever."""
    factories.make_incident(people["reporter"])
    with silent_listener() as port, mail_app(app, port, MAIL_TIMEOUT_SECONDS=1):
        result = drain()
    assert result.unreachable and "timed out" in result.unreachable
    assert {(m.status, m.attempts) for m in outbox_rows()} == {(OutboxStatus.PENDING, 0)}


@pytest.mark.parametrize("reply", ["550 5.1.1 No such user here", "451 4.3.0 Mailbox busy, try later"])
def test_a_refused_recipient_is_retried_until_accepted(app, smtp, people, reply, make_mail, outbox_rows):
    """Permanent (5xx) and transient (4xx) refusals alike: attempt counted, error kept, retried."""
    message = make_mail()
    smtp.inbox.refuse(message.recipient, reply, reply)

    assert drain().retrying == 1
    assert (outbox_rows()[-1].status, outbox_rows()[-1].attempts) == (OutboxStatus.PENDING, 1)
    assert reply.split()[0] in outbox_rows()[-1].last_error
    assert drain().retrying == 1
    assert drain().sent == 1

    assert (outbox_rows()[-1].status, outbox_rows()[-1].attempts) == (OutboxStatus.SENT, 3)
    assert [m.mail["Subject"] for m in smtp.inbox.wait_for(1)] == [message.subject]


def test_a_refusal_does_not_hold_up_the_other_messages_of_the_pass(app, smtp, people):
    """One refused recipient; everyone else in the same pass is delivered."""
    smtp.inbox.refuse(people["admin"].email, "550 5.1.1 No such user here")
    factories.make_incident(people["reporter"])

    result = drain()

    assert (result.sent, result.retrying) == (1, 1)
    assert [m.rcpt_tos for m in smtp.inbox.wait_for(1)] == [(people["reporter"].email,)]


def test_a_connection_dropped_mid_send_is_retried_and_the_pass_goes_on(app, smtp, people, outbox_rows):
    """The server hangs up during DATA: that message is retried; the next one gets a new connection."""
    smtp.inbox.hang_up_on_data()
    factories.make_incident(people["reporter"])

    first = drain()
    assert (first.sent, first.retrying) == (1, 1)
    dropped = next(m for m in outbox_rows() if m.status == OutboxStatus.PENDING)
    assert "SMTPServerDisconnected" in dropped.last_error
    assert drain().sent == 1

    inbox = smtp.inbox.wait_for(2)
    assert sorted(m.rcpt_tos[0] for m in inbox) == sorted([people["reporter"].email, people["admin"].email])
    assert len(set(smtp.inbox.message_ids())) == 2


def test_a_message_that_cannot_be_built_fails_alone(app, smtp, people, outbox_rows):
    """A row Flask-Mail refuses (a header injection attempt) counts a failed attempt; the pass
    goes on and the rest is delivered."""
    factories.make_incident(people["reporter"])
    broken = outbox_rows()[0]
    _set(broken.id, recipient="victim@example.test\nBcc: everyone@example.test")

    result = drain()

    assert (result.sent, result.retrying) == (1, 1)
    assert "BadHeaderError" in outbox_rows()[0].last_error
    assert [m.rcpt_tos for m in smtp.inbox.wait_for(1)] == [(people["admin"].email,)]


def test_failed_attempts_back_off_exponentially(app, smtp, people, make_mail, outbox_rows):
    """After attempt n the next one waits OUTBOX_BACKOFF_SECONDS * 2**(n-1); early passes skip it."""
    app.config["OUTBOX_BACKOFF_SECONDS"] = 30
    message = make_mail()
    smtp.inbox.refuse(message.recipient, *["451 4.3.0 Try later"] * 3)

    # The wait runs from the moment the attempt failed, somewhere between `before` and `after`.
    for expected in (30, 60, 120):
        before = utcnow()
        assert drain().retrying == 1
        after = utcnow()
        next_attempt_at = outbox_rows()[-1].next_attempt_at
        assert next_attempt_at - after <= timedelta(seconds=expected) <= next_attempt_at - before
        assert drain().retrying == 0, "not due yet, so not attempted"
        _make_due(outbox_rows()[-1].id)


def test_the_last_attempt_fails_the_message_and_a_retry_delivers_it(app, smtp, people, make_mail, outbox_rows):
    """At OUTBOX_MAX_ATTEMPTS the row is `failed` and left alone; a retry starts it over."""
    app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    message = make_mail()
    smtp.inbox.refuse(message.recipient, *["550 5.2.1 Mailbox disabled"] * 3)

    results = [drain() for _ in range(4)]

    assert [(r.retrying, r.failed) for r in results] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    failed = outbox_rows()[-1]
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 3)
    assert "550 5.2.1 Mailbox disabled" in failed.last_error

    outbox.retry_message(message_id=failed.id, actor="test")
    assert (outbox_rows()[-1].status, outbox_rows()[-1].attempts) == (OutboxStatus.PENDING, 0)
    assert drain().sent == 1
    assert [m.mail["Subject"] for m in smtp.inbox.wait_for(1)] == [message.subject]


def test_retry_refuses_a_message_that_has_not_failed(app, smtp, people, make_mail, outbox_rows):
    """Only failed rows go back to the queue; a sent one stays sent."""
    message = make_mail()
    drain()
    with pytest.raises(TransitionNotAllowed, match="only failed messages"):
        outbox.retry_message(message_id=message.id, actor="test")
    with pytest.raises(NotFound):
        outbox.retry_message(message_id=10_000, actor="test")
    assert outbox_rows()[-1].status == OutboxStatus.SENT


def test_a_lapsed_lease_is_taken_over_and_delivered(app, smtp, people, make_mail, outbox_rows):
    """A sender that died mid-claim: its row is taken back (no attempt counted) and sent once.
    A lease its live sender renewed is left alone."""
    message = make_mail()
    factories.make_incident(people["reporter_other"])
    live_row = outbox_rows()[-1]
    _set(message.id, status=OutboxStatus.SENDING, claimed_by="dead-host:1:outbox-sender",
         claimed_at=utcnow() - outbox.lease() - timedelta(seconds=1))
    _set(live_row.id, status=OutboxStatus.SENDING, claimed_by="live-host:2:outbox-sender", claimed_at=utcnow())

    result = drain()

    by_id = {m.id: m for m in outbox_rows()}
    assert (by_id[message.id].status, by_id[message.id].attempts) == (OutboxStatus.SENT, 1)
    assert "lapsed" in by_id[message.id].last_error
    assert (by_id[live_row.id].status, by_id[live_row.id].claimed_by) == (OutboxStatus.SENDING,
                                                                          "live-host:2:outbox-sender")
    assert message.id in result.sent_ids and live_row.id not in result.sent_ids
    assert [m.mail["Subject"] for m in smtp.inbox.messages if m.rcpt_tos == (message.recipient,)] == [
        message.subject]


def test_a_stopping_sender_finishes_its_message_and_hands_the_rest_back(app, smtp, people, monkeypatch, outbox_rows):
    """Shutdown mid-batch: the message in hand is sent, the others go back untried (no attempt
    counted, no claim left to go stale)."""
    factories.make_incident(people["reporter"])
    factories.make_incident(people["reporter_other"])
    stop = threading.Event()
    real_mark_sent = outbox.mark_sent

    def mark_sent_then_stop(**kwargs):
        stop.set()  # the shutdown request arrives while the first message is being sent
        return real_mark_sent(**kwargs)

    monkeypatch.setattr(outbox, "mark_sent", mark_sent_then_stop)
    result = drain(stop=stop)

    assert (result.sent, result.released) == (1, 3)
    assert [(m.status, m.attempts, m.claimed_by) for m in outbox_rows()] == [(OutboxStatus.SENT, 1, None)] + [
        (OutboxStatus.PENDING, 0, None)] * 3
    assert len(smtp.inbox.wait_for(1)) == 1


def test_every_mail_carries_a_message_id_that_survives_retries(app, smtp, people, make_mail):
    """The Message-ID is derived from the row, so a retried (or repeated) mail is recognisable."""
    message = make_mail()
    smtp.inbox.hang_up_on_data()
    drain()
    drain()

    received, = smtp.inbox.wait_for(1)
    assert received.mail["Message-ID"] == message_id_for(_envelope(message))
    assert received.mail["Message-ID"].endswith("@portal.test>")
    assert received.mail["Auto-Submitted"] == "auto-generated"
    assert received.mail["X-Incident"] == f"INC-{message.incident_id}"



def _envelope(message: OutboxMessage) -> Envelope:
    return Envelope(message.id, message.incident_id, message.recipient, message.subject,
                    message.body_text, message.body_html, message.created_at)


def _set(message_id: int, **values) -> None:
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))
    db.session.commit()


def _make_due(message_id: int) -> None:
    _set(message_id, next_attempt_at=utcnow())
