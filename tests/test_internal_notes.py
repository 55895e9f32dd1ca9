"""Internal notes (SPEC "Watchers, notifications, internal notes"): staff write them, staff see them
marked, and a reporter never sees one or learns it exists, through any door they can reach — the
incident page, the API's events and comment answer, search, both CSV exports, the dashboard, mail in
the outbox and on a real SMTP server. An internal note is not a response for the SLA clock and does
not resume an incident on hold. A reporter who tries to write one is refused with nothing written."""
import io
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.incidents import queries, service, watchers
from app.incidents.enums import EventKind, Status
from app.mail.delivery import drain
from app.models import IncidentEvent, OutboxMessage
from tests import factories
from tests.api_helpers import assert_problem, bearer, snapshot
from tests.mail.smtp import SmtpServer, mail_app
from tests.web_helpers import flashes, html, incident_in, login

# Words nobody else writes: found anywhere a reporter can read, they are the leak.
SECRET = "zebraquartz"
NOTE = f"Reporter's account looks compromised, {SECRET} suspected. Do **not** tell them yet."
FILE_NAME = f"{SECRET}-evidence.txt"


@pytest.fixture
def store(app, tmp_path):
    """Attachments in this test's own folder."""
    app.config["ATTACHMENT_DIR"] = str(tmp_path / "attachments")


@pytest.fixture
def noted(client, people, store):
    """An incident in progress whose technician wrote an internal note with a file attached (through
    the real comment form), then a public comment; the client is logged out."""
    incident = incident_in(Status.IN_PROGRESS, people, title="Laptop slow", description="It crawls since Monday")
    login(client, people["tech"])
    response = client.post(f"/ui/incidents/{incident.id}/comments", content_type="multipart/form-data", data={
        "comment-body": NOTE, "comment-internal": "y",
        "comment-uploads": (io.BytesIO(b"log " + SECRET.encode()), FILE_NAME)})
    assert response.status_code == 302, html(response)
    client.post(f"/ui/incidents/{incident.id}/comments", data={"comment-body": "We are looking into it."})
    client.post("/logout")
    note = db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                                          IncidentEvent.internal.is_(True))).all()
    assert {event.kind for event in note} == {EventKind.COMMENTED, EventKind.ATTACHMENT_ADDED}
    return incident


def _leaks(text: str) -> bool:
    """The note's words, its file's name, or any sign of an internal note, in what a reporter got."""
    plain = unescape(text).lower()
    return SECRET in plain or "internal note" in plain or "event-internal" in plain or "internal-badge" in plain


# ---- staff: the note is there, and marked --------------------------------------------------

@pytest.mark.parametrize("role", ["tech", "tech_other", "admin"])
def test_staff_see_the_note_marked_as_internal(client, people, noted, role):
    """On the page: the note, rendered, inside an event marked internal (class, badge, words for screen
    readers), with its file; in the API: `internal: true` and the rendered body."""
    login(client, people[role])
    page = html(client.get(f"/ui/incidents/{noted.id}"))
    event = re.search(r'<li class="timeline-event event-commented event-internal" id="event-\d+">(.*?)</li>',
                      page, re.S)
    assert event is not None
    assert '<span class="badge internal-badge">Internal<span class="visually-hidden"> note, staff only' in event[1]
    assert "wrote an internal note" in event[1] and "Do <strong>not</strong> tell them yet." in event[1]
    assert FILE_NAME in page
    public = re.search(r'<li class="timeline-event event-commented" id="event-\d+">(.*?)</li>', page, re.S)
    assert "We are looking into it." in public[1] and "Internal" not in public[1]

    items = client.get(f"/incidents/{noted.id}/events", headers=bearer(people[role])).get_json()["items"]
    note, = [item for item in items if item["kind"] == "commented" and item["internal"]]
    assert note["body"] == NOTE and "<strong>not</strong>" in note["body_html"]
    assert [item["internal"] for item in items if item["body"] == "We are looking into it."] == [False]


# ---- reporters: not a trace, anywhere -------------------------------------------------------

def test_the_reporter_never_sees_the_note_anywhere(client, people, noted):
    """Page, events, search (API and page, by the note's word), both CSV exports, the dashboard and the
    list: no word of the note, no file name, no sign that an internal note exists."""
    reporter = people["reporter"]
    headers = bearer(reporter)
    login(client, reporter)
    page = html(client.get(f"/ui/incidents/{noted.id}"))
    assert "We are looking into it." in page  # the reporter does see the public comment
    reads = {
        "page": page,
        "dashboard": html(client.get("/")),
        "list": html(client.get("/ui/incidents/")),
        # The search box and the page's own links (export, sort, live refresh) repeat what was typed; the
        # rest of the page must not.
        "search page": html(client.get(f"/ui/incidents/?q={SECRET}")).replace(f'value="{SECRET}"', "").replace(
            f"q={SECRET}", ""),
        "csv page": html(client.get(f"/ui/incidents/export.csv?q={SECRET}")) + html(
            client.get("/ui/incidents/export.csv")),
        "events": html(client.get(f"/incidents/{noted.id}/events", headers=headers)),
        "incident": html(client.get(f"/incidents/{noted.id}", headers=headers)),
        "search": html(client.get(f"/incidents/?q={SECRET}", headers=headers)),
        "csv": html(client.get(f"/incidents/export.csv?q={SECRET}", headers=headers)) + html(
            client.get("/incidents/export.csv", headers=headers)),
        "attachments": html(client.get(f"/incidents/{noted.id}/attachments", headers=headers)),
    }
    for name, text in reads.items():
        assert not _leaks(text), name
    events = client.get(f"/incidents/{noted.id}/events", headers=headers).get_json()["items"]
    assert [event["internal"] for event in events] == [False] * len(events)
    assert client.get(f"/incidents/?q={SECRET}", headers=headers).get_json()["total"] == 0
    assert "No incidents match" in reads["search page"]
    assert "Laptop slow" in reads["list"] and "Laptop slow" in reads["csv"]  # the incident itself is listed


def test_the_page_alone_hides_internal_events_from_reporters(client, people, noted, monkeypatch):
    """Even handed every event (as if the query forgot its filter), the timeline template shows a
    reporter no internal one: the page does not rest on one check."""
    every = lambda *, incident, viewer: db.session.scalars(  # noqa: E731
        select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)).all()
    monkeypatch.setattr(queries, "timeline", every)
    login(client, people["reporter"])
    page = html(client.get(f"/ui/incidents/{noted.id}"))
    assert "We are looking into it." in page and not _leaks(page)
    client.post("/logout")
    login(client, people["tech"])
    assert SECRET in html(client.get(f"/ui/incidents/{noted.id}"))  # the stand-in does hand over the note


def test_the_reporters_view_of_the_incident_does_not_change_with_a_note(client, people):
    """Not even indirectly: the incident the reporter reads (version, updated_at, responded_at, due times)
    is the same before and after an internal note, and their timeline has the same events."""
    incident = incident_in(Status.ASSIGNED, people)
    headers = bearer(people["reporter"])

    def seen():
        body = client.get(f"/incidents/{incident.id}", headers=headers).get_json()
        body.pop("sla")  # remaining seconds tick with the clock
        return body, client.get(f"/incidents/{incident.id}/events", headers=headers).get_json()

    before = seen()
    service.add_comment(actor=people["tech"], incident=incident, body=NOTE, internal=True)
    assert seen() == before
    service.add_comment(actor=people["tech"], incident=incident, body="Public now")
    assert seen()[1] != before[1]  # a public comment does show: the comparison can fail


def test_an_internal_note_mails_nobody_and_no_later_mail_quotes_it(app, people):
    """The note writes no outbox row; the mails of what follows (a public comment, a hold, the
    resolution) never carry it, to anyone."""
    incident = incident_in(Status.IN_PROGRESS, people)
    admin = people["admin"]
    watchers.watch(actor=admin, incident=incident)
    rows = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    service.add_comment(actor=people["tech"], incident=incident, body=NOTE, internal=True)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == rows
    service.add_comment(actor=people["tech"], incident=incident, body="Public reply")
    service.hold_incident(actor=people["tech"], incident=incident, reason="Waiting for the vendor")
    service.resume_incident(actor=people["tech"], incident=incident)
    service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="Replaced the disk")
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id > rows)).all()
    assert {mail.event for mail in mails} >= {"commented", "resolved"}
    assert {mail.recipient for mail in mails} >= {people["reporter"].email, admin.email}
    for mail in mails:
        assert not _leaks(mail.subject + mail.body_text + mail.body_html), mail.event


def test_the_note_never_reaches_the_smtp_server(app, people):
    """Through the real delivery path to a real SMTP server: the reporter's inbox gets the public
    comment and nothing of the note; no message to anyone carries the note."""
    incident = incident_in(Status.IN_PROGRESS, people)
    service.add_comment(actor=people["tech"], incident=incident, body=NOTE, internal=True)
    service.add_comment(actor=people["tech"], incident=incident, body="Public reply to you")
    smtp = SmtpServer()
    smtp.start()
    try:
        with mail_app(app, smtp.port):
            assert drain().unreachable is None
            outbox = db.session.scalar(select(func.count()).select_from(OutboxMessage))
            received = smtp.inbox.wait_for(outbox)
    finally:
        smtp.stop()
    assert any("Public reply to you" in message.text for message in smtp.inbox.to(people["reporter"].email))
    for message in received:
        assert not _leaks(message.mail.as_string() + message.text + message.html)


# ---- refusals -------------------------------------------------------------------------------

def test_a_reporter_posting_internal_is_refused_with_nothing_written(client, people):
    """API: 403 problem+json; the page: a forged comment-internal field is refused with a flash; no
    row changes either way, and nothing is mailed."""
    incident = incident_in(Status.IN_PROGRESS, people)
    headers = bearer(people["reporter"])
    before = snapshot()
    response = client.post(f"/incidents/{incident.id}/comments", json={"body": NOTE, "internal": True},
                           headers=headers)
    assert "internal" in assert_problem(response, 403)["detail"]
    assert snapshot() == before
    login(client, people["reporter"])
    before = snapshot()
    response = client.post(f"/ui/incidents/{incident.id}/comments",
                           data={"comment-body": NOTE, "comment-internal": "y"}, follow_redirects=True)
    assert any(kind == "danger" and "Only technicians and admins may write internal notes." in text
               for kind, text in flashes(html(response)))
    assert SECRET not in html(response)
    assert snapshot() == before
    response = client.post(f"/incidents/{incident.id}/comments", json={"body": "fine", "internal": False},
                           headers=headers)
    assert response.status_code == 201 and response.get_json()["internal"] is False


def test_the_comment_answer_carries_internal_and_the_rendered_body(client, people):
    """201 with the event: `internal`, `body` as written and `body_html` rendered; the reporter's events
    leave it out, the technician's hold it."""
    incident = incident_in(Status.ASSIGNED, people)
    response = client.post(f"/incidents/{incident.id}/comments", json={"body": NOTE, "internal": True},
                           headers=bearer(people["tech_other"]))
    assert response.status_code == 201
    event = response.get_json()
    assert event["internal"] is True and event["body"] == NOTE and event["kind"] == "commented"
    assert event["body_html"] == "<p>Reporter's account looks compromised, zebraquartz suspected. " \
                                 "Do <strong>not</strong> tell them yet.</p>"
    ids = lambda user: [item["id"] for item in client.get(  # noqa: E731
        f"/incidents/{incident.id}/events", headers=bearer(user)).get_json()["items"]]
    assert event["id"] in ids(people["tech"]) and event["id"] not in ids(people["reporter"])
    assert_problem(client.post(f"/incidents/{incident.id}/comments", json={"body": "x", "internal": "yes"},
                               headers=bearer(people["tech"])), 422, "internal")


# ---- the SLA clock and holds ----------------------------------------------------------------

def test_an_internal_note_is_not_a_response(client, people):
    """A technician's internal note on a new incident leaves responded_at empty and the response clock
    running; their public comment then counts."""
    incident = factories.make_incident(people["reporter"])
    service.add_comment(actor=people["tech"], incident=incident, body=NOTE, internal=True)
    body = client.get(f"/incidents/{incident.id}", headers=bearer(people["admin"])).get_json()
    assert body["responded_at"] is None and body["sla"]["response"]["state"] == "running"
    service.add_comment(actor=people["tech"], incident=incident, body="On it")
    body = client.get(f"/incidents/{incident.id}", headers=bearer(people["admin"])).get_json()
    assert body["responded_at"] is not None and body["sla"]["response"]["state"] == "met"


def test_an_internal_note_does_not_resume_an_incident_on_hold(client, people):
    """On hold stays on hold, same version, whoever on the staff writes the note."""
    incident = incident_in(Status.IN_PROGRESS, people)
    service.hold_incident(actor=people["tech"], incident=incident, reason="Waiting for the reporter")
    version = incident.version
    for role in ("tech", "admin"):
        service.add_comment(actor=people[role], incident=incident, body=NOTE, internal=True)
        db.session.refresh(incident)
        assert (incident.status, incident.version) == (Status.ON_HOLD, version)
    service.add_comment(actor=people["reporter"], incident=incident, body="Here is the info")
    db.session.refresh(incident)
    assert incident.status == Status.IN_PROGRESS  # the reporter's public comment does resume it
