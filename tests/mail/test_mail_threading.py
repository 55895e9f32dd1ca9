"""Mail threading on the wire (SPEC "Inbound mail"): every mail about an incident, as the real SMTP
server receives it, has a Message-ID naming the incident and In-Reply-To / References naming the
incident's thread root, so a mail client shows one thread per incident and a reply finds it."""
import re

import pytest
from sqlalchemy import select

from app.auth import recovery
from app.extensions import db
from app.incidents import service
from app.incidents.enums import Status
from app.incidents.references import incident_in_thread, thread_root
from app.mail.delivery import drain
from app.models import OutboxMessage
from tests import factories

pytestmark = pytest.mark.smtp


def test_every_mail_about_an_incident_names_it_and_its_thread(app, smtp, people):
    """A whole lifecycle of two incidents (created, assigned, started, a comment, resolved): each
    mail's Message-ID is `<incident-<id>.outbox-<row>.<time>@portal.test>`, unique, and its
    In-Reply-To and References are the thread root `<incident-<id>@portal.test>`."""
    incidents = [factories.make_incident(people["reporter"]) for _ in range(2)]
    for incident in incidents:
        factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
        service.add_comment(actor=people["tech"], incident=incident, body="Looking at it.")
        service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="Fixed.")
    rows = list(db.session.scalars(select(OutboxMessage)))
    assert len(rows) >= 10 and all(row.incident_id for row in rows)

    assert drain().sent == len(rows)
    received = smtp.inbox.wait_for(len(rows))

    assert len(received) == len(rows)
    ids = [mail.mail["Message-ID"] for mail in received]
    assert len(set(ids)) == len(ids)
    for mail in received:
        incident_id = int(mail.mail["X-Incident"].removeprefix("INC-"))
        row_id = mail.mail["X-Outbox-Id"]
        assert re.fullmatch(rf"<incident-{incident_id}\.outbox-{row_id}\.\d{{14}}@portal\.test>",
                            mail.mail["Message-ID"]), mail.mail["Message-ID"]
        assert mail.mail["In-Reply-To"] == mail.mail["References"] == f"<incident-{incident_id}@portal.test>"
        assert incident_in_thread(mail.mail["Message-ID"]) == incident_id
    by_incident = {incident.id: {m.mail["References"] for m in received
                                 if m.mail["X-Incident"] == f"INC-{incident.id}"} for incident in incidents}
    assert by_incident == {incident.id: {thread_root(incident.id)} for incident in incidents}


def test_a_reply_to_any_of_them_names_the_incident(app, smtp, people):
    """What a mail client writes when answering one of our mails (In-Reply-To = its Message-ID,
    References = its References + its Message-ID) leads back to the incident."""
    incident = factories.make_incident(people["reporter"])
    drain()
    mail = smtp.inbox.wait_for(1)[0].mail

    references = f"{mail['References']} {mail['Message-ID']}"
    assert incident_in_thread(mail["Message-ID"], references) == incident.id


def test_mail_about_no_incident_keeps_its_own_message_id_and_no_thread(app, smtp, people):
    """A password-reset link is no incident's: `<outbox.<row>.<time>@portal.test>`, no In-Reply-To,
    no References (a mail client must not file it in an incident's thread)."""
    recovery.request_reset(login=people["reporter"].username)
    assert drain().sent == 1

    mail = smtp.inbox.wait_for(1)[0].mail
    assert re.fullmatch(r"<outbox\.\d+\.\d{14}@portal\.test>", mail["Message-ID"]), mail["Message-ID"]
    assert (mail["In-Reply-To"], mail["References"], mail["X-Incident"]) == (None, None, None)


def test_the_answer_to_an_unknown_sender_is_auto_replied_the_rest_auto_generated(app, smtp, people):
    """RFC 3834 on the wire: the portal's own notices say `Auto-Submitted: auto-generated`; its answer
    to a stranger's mail says `auto-replied` (both keep out-of-office robots from answering back)."""
    from app.mail.inbound.service import receive
    from tests.inbound import messages

    factories.make_incident(people["reporter"])
    assert receive(messages.plain("stranger@elsewhere.test", "Printer broken", "Help")).outcome.value == \
        "unknown_sender"
    rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert drain().sent == len(rows) >= 3
    received = {mail.mail["To"]: mail.mail["Auto-Submitted"] for mail in smtp.inbox.wait_for(len(rows))}
    assert received.pop("stranger@elsewhere.test") == "auto-replied"
    assert set(received.values()) == {"auto-generated"}
