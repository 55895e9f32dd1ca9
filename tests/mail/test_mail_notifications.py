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
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in received.html
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


def test_reassigned_mails_the_new_technician_and_the_reporter(app, smtp, people):
    """reassigned -> 'Reassigned' to the new technician and the reporter; the old one gets nothing."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
    drain()
    smtp.inbox.messages.clear()

    service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech_other"].id)
    inbox = delivered(smtp, 2)

    assert sorted(m.rcpt_tos for m in inbox) == sorted([(people["tech_other"].email,),
                                                        (people["reporter"].email,)])
    assert {m.mail["Subject"] for m in inbox} == {f"[INC-{incident.id}] Reassigned: {incident.title}"}
    new_tech_mail, = smtp.inbox.to(people["tech_other"].email)
    assert f"(it was with {people['tech'].name})" in new_tech_mail.text
    reporter_mail, = smtp.inbox.to(people["reporter"].email)
    assert f"handed over from {people['tech'].name} to {people['tech_other'].name}" in reporter_mail.text


def test_resolved_mails_the_reporter_with_the_resolution_notes(app, smtp, people):
    """resolved -> the reporter only, with the notes (escaped in HTML, verbatim in text)."""
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
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in received.html
    assert "<script>" not in received.html


@pytest.mark.parametrize("move", ["start", "close", "reopen", "comment", "edit"])
def test_other_changes_send_no_mail(app, smtp, people, move):
    """Only created, assigned and resolved write mail (SPEC's table)."""
    incident = factories.make_incident(people["reporter"])
    target = Status.RESOLVED if move in {"close", "reopen"} else Status.ASSIGNED
    factories.bring_to(target, incident=incident, admin=people["admin"], technician=people["tech"])
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    {
        "start": lambda: service.start_incident(actor=people["tech"], incident=incident),
        "close": lambda: service.close_incident(actor=people["reporter"], incident=incident),
        "reopen": lambda: service.reopen_incident(actor=people["reporter"], incident=incident,
                                                  reason="Still broken"),
        "comment": lambda: service.add_comment(actor=people["tech"], incident=incident, body="Looking"),
        "edit": lambda: service.edit_incident(actor=people["admin"], incident=incident,
                                              details={"title": "Renamed"}),
    }[move]()
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
