"""What each incident event mails, to whom, as a real SMTP server receives it."""
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.auth.roles import Role
from app.exceptions import InvalidInput
from app.extensions import db
from app.incidents import service
from app.incidents.enums import Status
from app.mail.delivery import drain
from app.models import OutboxMessage
from tests import factories
from tests.web_helpers import login

pytestmark = pytest.mark.smtp

HOSTILE_TITLE = '<b>Disk & "quota"</b> full'
HOSTILE_TEXT = "Line one\n<script>alert('x')</script> & more"


def delivered(smtp, count):
    """Drain the outbox and return what the server received (at least `count` messages)."""
    result = drain()
    assert result.unreachable is None
    return smtp.inbox.wait_for(count)


def assert_well_formed(received, *, subject, link_path):
    """Subject, both parts, escaped user text in HTML, the link in both parts."""
    assert received.mail["Subject"] == subject
    assert received.mail["From"] == "incidents@portal.test"
    assert received.mail.get_content_type() == "multipart/mixed"
    assert received.mail.get_body(("plain",)).get_content_type() == "text/plain"
    assert received.mail.get_body(("html",)).get_content_type() == "text/html"
    link = f"http://portal.test{link_path}"
    assert link in received.text
    assert f'href="{link}"' in received.html


def test_created_mails_every_active_admin_and_confirms_to_the_reporter(app, smtp, people):
    """created -> each active admin and a confirmation to the reporter; inactive admins get nothing."""
    second_admin = factories.make_user(Role.ADMIN, username="admintwo")
    factories.make_user(Role.ADMIN, username="retired", active=False)
    incident = factories.make_incident(people["reporter"], title=HOSTILE_TITLE, description=HOSTILE_TEXT)

    inbox = delivered(smtp, 3)

    assert sorted(m.rcpt_tos for m in inbox) == sorted([
        (people["admin"].email,), (second_admin.email,), (people["reporter"].email,),
    ])
    subject = f"[INC-{incident.id}] Created: {HOSTILE_TITLE}"
    for received in inbox:
        assert_well_formed(received, subject=subject, link_path=f"/ui/incidents/{incident.id}")
        assert "<script>" not in received.html
        assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; more" in received.html  # Markdown, html off
        assert "&lt;b&gt;Disk &amp; &#34;quota&#34;&lt;/b&gt; full" in received.html
        assert HOSTILE_TEXT in received.text  # plain text is not HTML-escaped
    admin_mail, = smtp.inbox.to(people["admin"].email)
    assert "reported a new incident" in admin_mail.text
    confirmation, = smtp.inbox.to(people["reporter"].email)
    assert f"We received your incident as INC-{incident.id}" in confirmation.text


def test_an_admin_who_reports_gets_the_confirmation_only(app, smtp, people):
    """One mail per address per event: the reporting admin is not also mailed as an admin."""
    incident = factories.make_incident(people["admin"])

    inbox = delivered(smtp, 1)

    assert len(inbox) == 1
    assert inbox[0].rcpt_tos == (people["admin"].email,)
    assert f"We received your incident as INC-{incident.id}" in inbox[0].text


def test_assigned_mails_the_technician_and_the_reporter(app, smtp, people):
    """assigned -> the technician ('assigned to you') and the reporter (who handles it)."""
    incident = factories.make_incident(people["reporter"], title=HOSTILE_TITLE, description=HOSTILE_TEXT)
    drain()
    smtp.inbox.messages.clear()

    service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech"].id)
    inbox = delivered(smtp, 2)

    assert sorted(m.rcpt_tos for m in inbox) == sorted([(people["tech"].email,), (people["reporter"].email,)])
    for received in inbox:
        assert_well_formed(received, subject=f"[INC-{incident.id}] Assigned: {HOSTILE_TITLE}",
                           link_path=f"/ui/incidents/{incident.id}")
    tech_mail, = smtp.inbox.to(people["tech"].email)
    assert f"INC-{incident.id} is now assigned to you" in tech_mail.text
    assert "&lt;script&gt;" in tech_mail.html and "<script>" not in tech_mail.html
    reporter_mail, = smtp.inbox.to(people["reporter"].email)
    assert f"{people['tech'].name} will handle your incident" in reporter_mail.text


def test_reassigned_mails_the_new_technician_the_reporter_and_the_old_technician(app, smtp, people):
    """reassigned -> 'Reassigned' to the new technician, the reporter and the old technician (still
    a watcher: docs/notifications.md)."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
    drain()
    smtp.inbox.messages.clear()

    service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech_other"].id)
    inbox = delivered(smtp, 3)

    assert sorted(m.rcpt_tos for m in inbox) == sorted([(people["tech_other"].email,), (people["tech"].email,),
                                                        (people["reporter"].email,)])
    assert {m.mail["Subject"] for m in inbox} == {f"[INC-{incident.id}] Reassigned: {incident.title}"}
    new_tech_mail, = smtp.inbox.to(people["tech_other"].email)
    assert f"(it was with {people['tech'].name})" in new_tech_mail.text
    reporter_mail, = smtp.inbox.to(people["reporter"].email)
    assert f"handed over from {people['tech'].name} to {people['tech_other'].name}" in reporter_mail.text
    old_tech_mail, = smtp.inbox.to(people["tech"].email)
    assert f"is now assigned to {people['tech_other'].name} (it was with {people['tech'].name})" in old_tech_mail.text


def test_resolved_mails_the_reporter_with_the_resolution_notes(app, smtp, people):
    """resolved -> the reporter (the technician resolved it: not mailed), with the notes: rendered
    safely in HTML, verbatim in text."""
    incident = factories.make_incident(people["reporter"], title=HOSTILE_TITLE)
    factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
    drain()
    smtp.inbox.messages.clear()

    service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes=HOSTILE_TEXT)
    inbox = delivered(smtp, 1)

    assert len(inbox) == 1
    received = inbox[0]
    assert received.rcpt_tos == (people["reporter"].email,)
    assert_well_formed(received, subject=f"[INC-{incident.id}] Resolved: {HOSTILE_TITLE}",
                       link_path=f"/ui/incidents/{incident.id}")
    assert f"Resolution notes:\n{HOSTILE_TEXT}" in received.text
    assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; more" in received.html
    assert "<script>" not in received.html


MOVES = {
    "start": (Status.ASSIGNED, "Started", lambda p, i: service.start_incident(actor=p["tech"], incident=i)),
    "hold": (Status.IN_PROGRESS, "On hold",
             lambda p, i: service.hold_incident(actor=p["tech"], incident=i, reason="Waiting on the vendor.")),
    "close": (Status.RESOLVED, "Closed", lambda p, i: service.close_incident(actor=p["admin"], incident=i)),
    "reopen": (Status.RESOLVED, "Reopened",
               lambda p, i: service.reopen_incident(actor=p["admin"], incident=i, reason="Still broken")),
    "comment": (Status.ASSIGNED, "Comment",
                lambda p, i: service.add_comment(actor=p["tech"], incident=i, body="Looking")),
}


@pytest.mark.parametrize("move", list(MOVES))
def test_moves_and_comments_mail_the_watchers_but_not_the_actor(app, smtp, people, move):
    """Each move and public comment mails the reporter and the technician (the watchers), never the
    one who acted (the matrix of every event and role is tests/mail/test_notification_matrix.py)."""
    status, label, act = MOVES[move]
    incident = factories.make_incident(people["reporter"], title=HOSTILE_TITLE)
    factories.bring_to(status, incident=incident, admin=people["admin"], technician=people["tech"])
    drain()
    smtp.inbox.messages.clear()

    act(people, incident)
    actor = people["admin"] if move in {"close", "reopen"} else people["tech"]
    expected = {people["reporter"].email, people["tech"].email} - {actor.email}
    inbox = delivered(smtp, len(expected))

    assert sorted(address for m in inbox for address in m.rcpt_tos) == sorted(expected)
    for received in inbox:
        assert_well_formed(received, subject=f"[INC-{incident.id}] {label}: {HOSTILE_TITLE}",
                           link_path=f"/ui/incidents/{incident.id}")


def test_an_edit_sends_no_mail(app, smtp, people):
    """Editing the details is not an event watchers hear of."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.ASSIGNED, incident=incident, admin=people["admin"], technician=people["tech"])
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))

    service.edit_incident(actor=people["admin"], incident=incident, details={"title": "Renamed"})

    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == before


def test_a_refused_change_queues_no_mail(app, smtp, people):
    """The outbox row shares the change's transaction: a rolled-back resolve leaves no mail."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))

    with pytest.raises(InvalidInput):
        service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="   ")

    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == before


def test_the_link_in_a_mail_opens_the_incident_for_its_recipient(app, smtp, people, client):
    """The link's path, requested by the logged-in recipient, is the incident's page."""
    incident = factories.make_incident(people["reporter"], title="Printer on fire")
    confirmation, = [m for m in delivered(smtp, 2) if m.rcpt_tos == (people["reporter"].email,)]
    link = next(word for word in confirmation.text.split() if word.startswith("http://portal.test/"))

    login(client, "reporter")
    response = client.get(urlsplit(link).path)

    assert response.status_code == 200
    assert "Printer on fire" in response.get_data(as_text=True)
    assert urlsplit(link).path == f"/ui/incidents/{incident.id}"
