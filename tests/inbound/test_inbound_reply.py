"""A reply becomes a comment (SPEC "Inbound mail"): found by our Message-IDs in In-Reply-To /
References or by `[INC-<id>]` in the subject; written by the sender, quotes and signature dropped,
files attached; on hold it resumes like a comment on the web. An incident that does not exist, or
that the sender may not comment on, is REFUSED with nothing created and nothing said to the sender
(a reporter must not learn that someone else's incident exists)."""
import hashlib

import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents.enums import EventKind, Status
from app.mail.enums import InboundOutcome
from app.models import Attachment, Incident, IncidentEvent
from tests import factories
from tests.attachment_helpers import PNG
from tests.inbound import messages

ANSWER = "It works again after the restart."


@pytest.fixture
def incident(people):
    """An open incident reported by the reporter."""
    return factories.make_incident(people["reporter"], title="Printer broken")


def _events(incident_id: int) -> list[IncidentEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
                                   .order_by(IncidentEvent.id)))


QUOTED = {
    "thunderbird": messages.THUNDERBIRD_QUOTE,
    "outlook original message": messages.OUTLOOK_QUOTE,
    "outlook header block": messages.OUTLOOK_HEADER_BLOCK,
    "signature": messages.SIGNATURE,
    "signature and quote": messages.SIGNATURE + messages.THUNDERBIRD_QUOTE,
}


@pytest.mark.parametrize("tail", QUOTED.values(), ids=QUOTED.keys())
def test_a_threaded_reply_is_a_comment_without_quotes_or_signature(people, incident, deliver, inbound_rows, tail):
    handled = deliver(messages.reply("reporter@example.test", incident.id, ANSWER + tail.format(id=incident.id)))
    assert (handled.outcome, handled.incident_id) == (InboundOutcome.COMMENTED, incident.id)
    comment = _events(incident.id)[-1]
    assert (comment.kind, comment.body, comment.actor_id, comment.via, comment.internal, comment.id) == (
        EventKind.COMMENTED, ANSWER, people["reporter"].id, "email", False, handled.event_id)
    [row] = inbound_rows()
    assert (row.outcome, row.incident_id, row.event_id) == (InboundOutcome.COMMENTED, incident.id, comment.id)


def test_the_subject_reference_finds_the_incident_without_headers(people, incident, deliver):
    handled = deliver(messages.plain("reporter@example.test", f"Re: [INC-{incident.id}] Assigned: Printer broken",
                                     ANSWER))
    assert (handled.outcome, handled.incident_id) == (InboundOutcome.COMMENTED, incident.id)
    assert _events(incident.id)[-1].body == ANSWER


def test_the_thread_wins_over_the_subject(people, incident, deliver):
    other = factories.make_incident(people["reporter"], title="Other")
    handled = deliver(messages.reply("reporter@example.test", incident.id, ANSWER,
                                     subject=f"Re: [INC-{other.id}] Other"))
    assert handled.incident_id == incident.id


def test_message_ids_of_another_domain_are_not_ours(people, incident, deliver, tally):
    before = tally()["incidents"]
    handled = deliver(messages.plain("reporter@example.test", "Printer broken", ANSWER,
                                     In_Reply_To=f"<incident-{incident.id}.x@elsewhere.example>"))
    assert handled.outcome == InboundOutcome.CREATED and handled.incident_id != incident.id
    assert tally()["incidents"] == before + 1


def test_a_reply_with_files_attaches_them_to_the_incident(people, incident, deliver):
    raw = messages.with_files("reporter@example.test", f"Re: [INC-{incident.id}]", messages.THUNDERBIRD_QUOTE,
                              [("after.png", PNG)])
    handled = deliver(raw)
    assert handled.outcome == InboundOutcome.COMMENTED
    comment = db.session.get(IncidentEvent, handled.event_id)
    assert comment.body.startswith("On 02/12/2026")  # all quote: kept whole rather than lost
    [attachment] = db.session.scalars(select(Attachment).where(Attachment.incident_id == incident.id))
    assert (attachment.filename, attachment.sha256, attachment.uploaded_by_id) == (
        "after.png", hashlib.sha256(PNG).hexdigest(), people["reporter"].id)


def test_a_reply_of_only_files_says_so(people, incident, deliver):
    handled = deliver(messages.with_files("reporter@example.test", f"[INC-{incident.id}]", "", [("a.png", PNG)]))
    assert db.session.get(IncidentEvent, handled.event_id).body == "(attachments only)"


def test_the_reporters_reply_resumes_an_incident_on_hold(people, incident, deliver):
    factories.bring_to(Status.ON_HOLD, incident=incident, admin=people["admin"], technician=people["tech"])
    handled = deliver(messages.reply("reporter@example.test", incident.id, "Here is the serial number: 42."))
    assert handled.outcome == InboundOutcome.COMMENTED
    db.session.rollback()
    assert db.session.get(Incident, incident.id).status == Status.IN_PROGRESS
    assert [e.kind for e in _events(incident.id)[-2:]] == [EventKind.COMMENTED, EventKind.RESUMED]


def test_a_technicians_reply_leaves_it_on_hold(people, incident, deliver):
    factories.bring_to(Status.ON_HOLD, incident=incident, admin=people["admin"], technician=people["tech"])
    handled = deliver(messages.reply("techother@example.test", incident.id, "Vendor called back."))
    assert handled.outcome == InboundOutcome.COMMENTED
    db.session.rollback()
    assert db.session.get(Incident, incident.id).status == Status.ON_HOLD


def test_a_closed_incident_still_takes_a_comment(people, incident, deliver):
    factories.bring_to(Status.CLOSED, incident=incident, admin=people["admin"], technician=people["tech"])
    assert deliver(messages.reply("reporter@example.test", incident.id, ANSWER)).outcome == InboundOutcome.COMMENTED


REFUSED = {
    "no such incident": lambda incident: messages.plain("reporter@example.test", "Re: [INC-999999] Hello", ANSWER),
    "no such incident in the thread": lambda incident: messages.reply("reporter@example.test", 999999, ANSWER),
    "someone else's incident": lambda incident: messages.reply("reporterother@example.test", incident.id, ANSWER),
    "someone else's incident by subject": lambda incident: messages.plain(
        "reporterother@example.test", f"[INC-{incident.id}]", ANSWER),
}


@pytest.mark.parametrize("build", REFUSED.values(), ids=REFUSED.keys())
def test_refused_replies_make_nothing_and_say_nothing(people, incident, deliver, inbound_rows, tally, build):
    before = tally()
    handled = deliver(build(incident))
    assert handled.outcome == InboundOutcome.REFUSED
    after = tally()
    assert after == {**before, "inbound_messages": before["inbound_messages"] + 1}  # no incident, event or mail
    [row] = inbound_rows()
    assert row.outcome == InboundOutcome.REFUSED and row.event_id is None
    # The sender is not answered, so a missing incident and someone else's look the same to them.
    assert handled.event_id is None
