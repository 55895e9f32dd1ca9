"""Who may write in, and the mail that must never be acted on (SPEC "Inbound mail": never loops,
never duplicates): the same Message-ID is handled once; automatic mail (Auto-Submitted, Precedence,
bounces, our own address) is a LOOP; unknown and inactive senders get nothing created and at most one
answer a day, through the outbox."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.roles import Role
from app.auth.service import update_user
from app.extensions import db
from app.mail.enums import InboundOutcome
from app.mail.inbound.service import REPLY_EVENT
from app.models import OutboxMessage, utcnow
from tests import factories
from tests.inbound import messages


def _replies() -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.event == REPLY_EVENT)
                                   .order_by(OutboxMessage.id)))


def test_the_same_message_id_twice_is_handled_once(people, deliver, tally, inbound_rows):
    raw = messages.plain("reporter@example.test", "Printer broken", "Help.")
    first = deliver(raw)
    after_first = tally()
    second = deliver(raw)
    assert (first.outcome, second.outcome) == (InboundOutcome.CREATED, InboundOutcome.DUPLICATE)
    assert tally() == after_first
    assert len(inbound_rows()) == 1


def test_a_resent_copy_with_other_bytes_but_the_same_message_id_is_a_duplicate(people, deliver, tally):
    msgid = messages.new_id()
    deliver(messages.plain("reporter@example.test", "Printer broken", "Help.", msgid=msgid))
    before = tally()
    again = deliver(messages.plain("reporter@example.test", "Printer broken", "Help, resent.", msgid=msgid))
    assert again.outcome == InboundOutcome.DUPLICATE and tally() == before


def test_a_duplicate_reply_adds_no_second_comment(people, deliver, tally):
    incident = factories.make_incident(people["reporter"])
    raw = messages.reply("reporter@example.test", incident.id, "Thanks.")
    assert deliver(raw).outcome == InboundOutcome.COMMENTED
    before = tally()
    assert deliver(raw).outcome == InboundOutcome.DUPLICATE
    assert tally() == before


def test_without_message_id_the_bytes_identify_the_message(people, deliver, tally):
    mail = messages.headers("reporter@example.test", "No id")
    del mail["Message-ID"]
    mail.set_content("Same bytes twice.")
    raw = mail.as_bytes()
    assert deliver(raw).outcome == InboundOutcome.CREATED
    before = tally()
    assert deliver(raw).outcome == InboundOutcome.DUPLICATE
    assert tally() == before


LOOPS = {
    "auto-replied": {"Auto_Submitted": "auto-replied"},
    "auto-generated with parameters": {"Auto_Submitted": "Auto-Generated; owner-email=x@example.test"},
    "precedence bulk": {"Precedence": "bulk"},
    "precedence list": {"Precedence": "List"},
    "precedence junk": {"Precedence": "junk"},
    "out of office robot": {"X_Autoreply": "yes"},
    "bounce (empty return path)": {"Return_Path": "<>"},
}


@pytest.mark.parametrize("extra", LOOPS.values(), ids=LOOPS.keys())
def test_automatic_mail_is_a_loop_and_makes_nothing(people, deliver, tally, inbound_rows, extra):
    before = tally()
    handled = deliver(messages.plain("reporter@example.test", "Out of office", "I am away.", **extra))
    assert handled.outcome == InboundOutcome.LOOP
    assert tally() == {**before, "inbound_messages": 1}
    assert inbound_rows()[0].outcome == InboundOutcome.LOOP


def test_a_delivery_report_is_a_loop(people, deliver, tally):
    mail = messages.headers("MAILER-DAEMON@example.test", "Undelivered Mail Returned to Sender")
    mail.set_content("The mail could not be delivered.")
    mail.add_attachment("Reporting-MTA: dns; mx.example.test\n", subtype="delivery-status")
    mail.replace_header("Content-Type", mail["Content-Type"].replace("multipart/mixed", "multipart/report"))
    assert deliver(mail.as_bytes()).outcome == InboundOutcome.LOOP
    assert _replies() == []


def test_auto_submitted_no_is_a_person(people, deliver):
    handled = deliver(messages.plain("reporter@example.test", "Real", "Typed by hand.", Auto_Submitted="no"))
    assert handled.outcome == InboundOutcome.CREATED


def test_our_own_sender_address_is_a_loop_even_when_it_is_a_user(app, people, deliver, tally):
    app.config["MAIL_DEFAULT_SENDER"] = "Incident portal <incidents@portal.example.test>"
    update_user(user=factories.make_user(Role.ADMIN, username="robot"), email="incidents@portal.example.test")
    before = tally()
    handled = deliver(messages.plain("INCIDENTS@portal.example.test", "[INC-1] Created: x", "Our own mail."))
    assert handled.outcome == InboundOutcome.LOOP
    assert tally() == {**before, "inbound_messages": before["inbound_messages"] + 1}


SENDERS = {
    "unknown": "stranger@example.test",
    "inactive": "gone@example.test",
}


@pytest.mark.parametrize("sender", SENDERS.values(), ids=SENDERS.keys())
def test_unknown_or_inactive_senders_make_nothing_and_are_told_once(people, deliver, tally, inbound_rows, sender):
    factories.make_user(Role.REPORTER, username="gone", active=False)
    before = tally()
    first = deliver(messages.plain(sender.upper(), "Help", "Printer broken."))
    assert first.outcome == InboundOutcome.UNKNOWN_SENDER
    second = deliver(messages.plain(sender, "Help again", "Still broken."))
    assert second.outcome == InboundOutcome.UNKNOWN_SENDER
    after = tally()
    assert (after["incidents"], after["incident_events"]) == (before["incidents"], before["incident_events"])
    [reply] = _replies()
    assert (reply.recipient, reply.incident_id) == (sender, None)
    assert sender in reply.body_text and "not accepted" in reply.subject
    assert [row.replied for row in inbound_rows()] == [True, False]


def test_an_unknown_sender_is_told_again_after_a_day(people, deliver):
    now = utcnow()
    deliver(messages.plain("stranger@example.test", "Help", "x"), now=now)
    deliver(messages.plain("stranger@example.test", "Help", "x"), now=now + timedelta(hours=23))
    assert len(_replies()) == 1
    deliver(messages.plain("stranger@example.test", "Help", "x"), now=now + timedelta(hours=24, seconds=1))
    assert len(_replies()) == 2


def test_robot_mailboxes_are_never_answered(people, deliver, inbound_rows):
    assert deliver(messages.plain("no-reply@example.test", "Newsletter", "x")).outcome == \
        InboundOutcome.UNKNOWN_SENDER
    assert _replies() == [] and inbound_rows()[0].replied is False


def test_the_address_matches_whatever_its_case(people, deliver):
    assert deliver(messages.plain("Reporter@EXAMPLE.test", "Case", "x")).outcome == InboundOutcome.CREATED


def test_an_address_shared_by_two_active_users_is_refused(people, deliver, tally):
    update_user(user=people["reporter_other"], email="reporter@example.test")
    before = tally()
    handled = deliver(messages.plain("reporter@example.test", "Whose?", "x"))
    assert handled.outcome == InboundOutcome.REFUSED and "2 active users" in handled.detail
    assert tally()["incidents"] == before["incidents"]
