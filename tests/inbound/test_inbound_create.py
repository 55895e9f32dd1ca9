"""A mail from an active user that answers nothing reports a new incident (SPEC "Inbound mail"):
subject -> title, text (or HTML read as text) -> description, attachments -> attachments with the
bytes sent, the reporter is the sender, the event says via "email", and one inbound_messages row
is written with it."""
import hashlib
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.incidents.enums import EventKind, Status
from app.incidents.markdown import render
from app.mail.enums import InboundOutcome
from app.models import Attachment, Incident, IncidentEvent
from tests.attachment_helpers import PNG, stored_files
from tests.inbound import messages


def _incident(handled) -> Incident:
    db.session.rollback()
    return db.session.get(Incident, handled.incident_id)


def test_a_plain_mail_reports_an_incident_by_its_sender(people, deliver, inbound_rows):
    reporter = people["reporter"]
    raw = messages.plain("Reporter <REPORTER@Example.TEST>", "Printer on fire",
                         "The printer on the 3rd floor is on fire.\n\nPlease come quickly.")
    handled = deliver(raw)
    assert handled.outcome == InboundOutcome.CREATED
    incident = _incident(handled)
    assert (incident.title, incident.reporter_id, incident.status) == ("Printer on fire", reporter.id, Status.OPEN)
    assert incident.description == "The printer on the 3rd floor is on fire.\n\nPlease come quickly."
    created = db.session.scalar(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id))
    assert (created.kind, created.via, created.actor_id, created.id) == (EventKind.CREATED, "email", reporter.id,
                                                                         handled.event_id)
    [row] = inbound_rows()
    assert (row.outcome, row.incident_id, row.event_id, row.sender, row.subject) == (
        InboundOutcome.CREATED, incident.id, created.id, "reporter@example.test", "Printer on fire")


def test_reply_and_forward_prefixes_leave_the_title(people, deliver):
    handled = deliver(messages.plain("reporter@example.test", "Fwd: RE: AW: VPN down", "See below."))
    assert _incident(handled).title == "VPN down"


def test_no_subject_and_no_text_still_make_an_incident(people, deliver):
    handled = deliver(messages.plain("reporter@example.test", None, ""))
    incident = _incident(handled)
    assert (incident.title, incident.description) == ("(no subject)", "(no text)")


def test_an_html_only_mail_becomes_readable_text(people, deliver):
    html = ('<html><head><style>p{color:red}</style></head><body><p>The <b>VPN</b> is down.</p>'
            '<p>See <a href="https://status.example.test/vpn">the status page</a>.</p>'
            '<ul><li>since 9:00</li><li>all offices</li></ul></body></html>')
    handled = deliver(messages.html_only("reporter@example.test", "VPN down", html))
    assert _incident(handled).description == ("The VPN is down.\n\nSee the status page "
                                              "(https://status.example.test/vpn).\n\n- since 9:00\n- all offices")


def test_the_plain_part_of_an_alternative_is_preferred(people, deliver):
    handled = deliver(messages.alternative("reporter@example.test", "Disk full", "Plain words.",
                                           "<p>HTML words.</p>"))
    assert _incident(handled).description == "Plain words."


def test_attachments_arrive_byte_for_byte(people, deliver, app):
    files = [("screenshot.png", PNG), ("app.log", b"line 1\nline 2\n"), ("dump.bin", bytes(range(256)) * 40)]
    handled = deliver(messages.with_files("reporter@example.test", "Crash", "Logs attached.", files,
                                          html="<p>Logs attached.</p>"))
    incident = _incident(handled)
    assert incident.description == "Logs attached."
    rows = list(db.session.scalars(select(Attachment).where(Attachment.incident_id == incident.id)
                                   .order_by(Attachment.id)))
    assert [(row.filename, row.size, row.sha256) for row in rows] == [
        (name, len(data), hashlib.sha256(data).hexdigest()) for name, data in files]
    assert all(row.uploaded_by_id == people["reporter"].id for row in rows)
    assert rows[0].content_type == "image/png"
    stored = stored_files(Path(app.config["ATTACHMENT_DIR"]))
    assert {hashlib.sha256(data).hexdigest(): data for _name, data in files}.items() <= stored.items()


def test_a_mail_with_only_a_file_says_so(people, deliver):
    handled = deliver(messages.with_files("reporter@example.test", "Photo", "", [("photo.png", PNG)]))
    assert _incident(handled).description == "(attachments only)"


def test_a_script_in_html_mail_is_never_markup(people, deliver):
    html = ('<p>Hello<script>alert(document.cookie)</script></p><img src=x onerror="alert(1)">'
            '<p>&lt;script&gt;alert(2)&lt;/script&gt;</p>')
    incident = _incident(deliver(messages.html_only("reporter@example.test", "XSS", html)))
    assert "alert(document.cookie)" not in incident.description  # the script element's text is dropped
    assert incident.description == "Hello\n\n<script>alert(2)</script>"  # typed text stays text...
    rendered = render(incident.description)
    assert "<script" not in rendered and "&lt;script&gt;" in rendered  # ...and renders escaped


def test_staff_may_report_by_mail_too(people, deliver):
    handled = deliver(messages.plain("tech@example.test", "Switch flapping", "Port 12."))
    assert _incident(handled).reporter_id == people["tech"].id
