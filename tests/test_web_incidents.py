"""Reporting, editing and moving incidents through the pages: one service call per form, errors
next to their fields, flash messages, post/redirect/get, and only the actions allowed now."""
import pytest
from sqlalchemy import func, select

from app.auth.service import update_user
from app.extensions import db
from app.incidents.enums import EventKind, Severity, Status
from app.incidents.lifecycle import DESCRIPTION_MAX, TEXT_MAX, TITLE_MAX
from app.models import Incident, IncidentEvent
from tests import factories
from tests.web_helpers import element_text, field_error, flashes, html, incident_in, login

FORM_IDS = {"assign": "assign-form", "take": "take-form", "start": "start-form", "resolve": "resolve-form",
            "close": "close-form", "reopen": "reopen-form"}


def events(incident: Incident) -> list[EventKind]:
    """The incident's timeline, as kinds, oldest first."""
    return list(db.session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident.id)
                                   .order_by(IncidentEvent.id)))


def count_incidents() -> int:
    return db.session.scalar(select(func.count(Incident.id)))


def test_reporting_an_incident_redirects_to_it_with_a_flash(client, people):
    """A valid form creates the incident once, then GETs its page (PRG)."""
    login(client, people["reporter"])
    response = client.post("/ui/incidents/new", data={"title": "  Mail is slow ", "description": "Since 9am",
                                                       "severity": "high", "category": "application"})
    incident = db.session.scalar(select(Incident))
    assert response.status_code == 302 and response.headers["Location"] == f"/ui/incidents/{incident.id}"
    assert (incident.title, incident.severity, incident.reporter_id) == ("Mail is slow", Severity.HIGH,
                                                                        people["reporter"].id)
    page = html(client.get(response.headers["Location"]))
    assert ("success", f"{incident.reference} was reported. You will be told by email as it progresses.") in \
        flashes(page)
    assert "reported the incident" in element_text(page, "timeline")


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"title": "", "description": "x"}, "title", "This field is required."),
    ({"title": "   ", "description": "x"}, "title", "This field is required."),
    ({"title": "t" * (TITLE_MAX + 1), "description": "x"}, "title", f"longer than {TITLE_MAX} characters"),
    ({"title": "ok", "description": ""}, "description", "This field is required."),
    ({"title": "ok", "description": "d" * (DESCRIPTION_MAX + 1)}, "description",
     f"longer than {DESCRIPTION_MAX} characters"),
    ({"title": "ok", "description": "x", "severity": "apocalyptic"}, "severity", "Not a valid choice."),
    ({"title": "ok", "description": "x", "category": "weather"}, "category", "Not a valid choice."),
    ({"title": "ok\x07bell", "description": "x"}, "title", "Must not contain control characters."),
])
def test_invalid_reports_show_the_message_next_to_the_field(client, people, data, field, message):
    """Nothing is created; the form comes back (422) with the typed values and the message."""
    login(client, people["reporter"])
    response = client.post("/ui/incidents/new", data=data)
    assert response.status_code == 422
    page = html(response)
    assert message in field_error(page, field)
    assert "Please correct the fields marked below." in page
    assert count_incidents() == 0


def test_editing_changes_the_details_and_records_old_and_new(client, people):
    """The edit form saves, flashes and shows the change in the timeline."""
    incident = factories.make_incident(people["reporter"], title="Old title")
    login(client, people["reporter"])
    page = html(client.get(f"/ui/incidents/{incident.id}/edit"))
    assert 'value="Old title"' in page and f'name="version" type="hidden" value="{incident.version}"' in page
    response = client.post(f"/ui/incidents/{incident.id}/edit", data={
        "title": "New title", "description": incident.description, "severity": "critical", "category": "other",
        "version": incident.version}, follow_redirects=True)
    page = html(response)
    assert ("success", f"{incident.reference} was updated.") in flashes(page)
    timeline = element_text(page, "timeline")
    assert "edited the details" in timeline
    assert "Title Old title → changed to New title" in timeline and "Severity medium → changed to critical" in timeline


def test_an_edit_from_a_stale_page_is_refused_with_a_clear_message(client, people):
    """Someone changed the incident meanwhile: nothing is saved, the page says why."""
    incident = factories.make_incident(people["reporter"], title="Original")
    seen = incident.version
    factories.bring_to(Status.ASSIGNED, incident=incident, admin=people["admin"], technician=people["tech"])
    login(client, people["admin"])
    response = client.post(f"/ui/incidents/{incident.id}/edit", data={
        "title": "Overwrite", "description": "x", "severity": "low", "category": "other", "version": seen})
    assert response.status_code == 302
    page = html(client.get(response.headers["Location"]))
    assert ("danger", f"{incident.reference} was changed by someone else while you were looking at it. "
                      "Here is the current version; please try again.") in flashes(page)
    db.session.refresh(incident)
    assert incident.title == "Original"


def test_a_reporter_cannot_edit_once_work_has_started(client, people):
    """The edit page explains and sends them back; a forged POST is refused by the domain."""
    incident = incident_in(Status.ASSIGNED, people, title="Mine")
    login(client, people["reporter"])
    response = client.get(f"/ui/incidents/{incident.id}/edit", follow_redirects=True)
    assert ("warning", f"You cannot edit {incident.reference} in its current state.") in flashes(html(response))
    assert "Edit details" not in html(response)
    response = client.post(f"/ui/incidents/{incident.id}/edit", data={
        "title": "Forged", "description": "x", "severity": "low", "category": "other"}, follow_redirects=True)
    db.session.refresh(incident)
    assert incident.title == "Mine"


def test_edit_errors_are_shown_next_to_the_field(client, people):
    """An empty title on the edit form comes back with the message by the title."""
    incident = factories.make_incident(people["reporter"])
    login(client, people["reporter"])
    response = client.post(f"/ui/incidents/{incident.id}/edit", data={
        "title": "", "description": "still here", "severity": "low", "category": "other"})
    assert response.status_code == 422
    assert field_error(html(response), "title") == "This field is required."


@pytest.mark.parametrize(("status", "role", "shown"), [
    (Status.OPEN, "admin", {"assign"}),
    (Status.OPEN, "tech", {"take"}),
    (Status.OPEN, "reporter", set()),
    (Status.ASSIGNED, "admin", {"assign", "start"}),
    (Status.ASSIGNED, "tech", {"start"}),
    (Status.ASSIGNED, "tech_other", set()),
    (Status.ASSIGNED, "reporter", set()),
    (Status.IN_PROGRESS, "tech", {"resolve"}),
    (Status.IN_PROGRESS, "admin", {"assign", "resolve"}),
    (Status.RESOLVED, "reporter", {"close", "reopen"}),
    (Status.RESOLVED, "tech", set()),
    (Status.RESOLVED, "admin", {"close", "reopen"}),
    (Status.CLOSED, "reporter", {"reopen"}),
    (Status.CLOSED, "admin", {"reopen"}),
])
def test_the_page_offers_only_the_actions_allowed_now(client, people, status, role, shown):
    """Each allowed action is its own small form; the others are absent, not just disabled."""
    incident = incident_in(status, people)
    login(client, people[role])
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert {action for action, form_id in FORM_IDS.items() if f'id="{form_id}"' in page} == shown
    if not shown and role != "admin" and not (role == "reporter" and status == Status.OPEN):
        assert "Nothing for you to do on this incident right now." in page


def test_the_assign_dropdown_lists_only_active_technicians(client, people):
    """Deactivated technicians and other roles are not offered."""
    incident = factories.make_incident(people["reporter"])
    retired = factories.make_user("technician", username="retiredtech")
    update_user(user=retired, active=False)
    login(client, people["admin"])
    select_html = html(client.get(f"/ui/incidents/{incident.id}")).split('id="assign-technician_id"')[1]
    select_html = select_html.split("</select>")[0]
    assert f'value="{people["tech"].id}"' in select_html and f'value="{people["tech_other"].id}"' in select_html
    assert f'value="{retired.id}"' not in select_html and f'value="{people["admin"].id}"' not in select_html
    assert "Choose a technician…" in select_html


def test_the_whole_story_through_the_forms(client, people):
    """Assign, start, resolve with notes, close: each a POST, a redirect, a flash and an event."""
    incident = factories.make_incident(people["reporter"], title="Story")
    url = f"/ui/incidents/{incident.id}"
    steps = [
        ("admin", "assign", {"assign-technician_id": people["tech"].id},
         f"{incident.reference} is assigned to {people['tech'].name}.", Status.ASSIGNED),
        ("tech", "start", {}, f"{incident.reference} is in progress.", Status.IN_PROGRESS),
        ("tech", "resolve", {"resolve-resolution_notes": "Rebooted the switch."},
         f"{incident.reference} is resolved; the reporter has been told.", Status.RESOLVED),
        ("reporter", "close", {}, f"{incident.reference} is closed.", Status.CLOSED),
    ]
    for role, action, data, message, status in steps:
        client.post("/logout")
        login(client, people[role])
        version = db.session.scalar(select(Incident.version).where(Incident.id == incident.id))
        response = client.post(f"{url}/{action}", data={**data, f"{action}-version": version})
        assert response.status_code == 302 and response.headers["Location"] == url
        page = html(client.get(url))
        assert ("success", message) in flashes(page)
        assert element_text(page, "incident-status") == status.label
    assert events(incident) == [EventKind.CREATED, EventKind.ASSIGNED, EventKind.STATUS_CHANGED,
                                EventKind.RESOLVED, EventKind.CLOSED]
    timeline = element_text(html(client.get(url)), "timeline")
    assert "Resolution notes: Rebooted the switch." in timeline and "closed the incident" in timeline


@pytest.mark.parametrize(("status", "action", "field", "message"), [
    (Status.IN_PROGRESS, "resolve", "resolution_notes", "This field is required."),
    (Status.RESOLVED, "reopen", "reason", "This field is required."),
    (Status.OPEN, "assign", "technician_id", "Choose a technician."),
    (Status.IN_PROGRESS, "resolve", "resolution_notes", f"longer than {TEXT_MAX} characters"),
])
def test_a_move_missing_its_required_text_is_shown_next_to_the_field(client, people, status, action, field, message):
    """The incident page comes back (422) with the message under the field; nothing changes."""
    incident = incident_in(status, people)
    before = events(incident)
    login(client, people["admin"])
    data = {f"{action}-{field}": "x" * (TEXT_MAX + 1)} if "longer" in message else {}
    response = client.post(f"/ui/incidents/{incident.id}/{action}", data=data)
    assert response.status_code == 422
    assert message in field_error(html(response), f"{action}-{field}")
    assert events(incident) == before


def test_reopening_with_a_reason_records_it(client, people):
    """The reason appears in the timeline; the incident goes back to its technician."""
    incident = incident_in(Status.CLOSED, people)
    login(client, people["reporter"])
    response = client.post(f"/ui/incidents/{incident.id}/reopen", data={"reopen-reason": "It broke again."},
                           follow_redirects=True)
    page = html(response)
    assert ("success", f"{incident.reference} is reopened.") in flashes(page)
    assert "Reason: It broke again." in element_text(page, "timeline")
    assert element_text(page, "incident-status") == "Assigned"


@pytest.mark.parametrize(("status", "role", "action", "data", "message"), [
    (Status.OPEN, "reporter", "assign", {"assign-technician_id": "{tech}"}, "You may not assign {ref}."),
    (Status.ASSIGNED, "tech_other", "start", {}, "You may not start {ref}."),
    (Status.OPEN, "tech", "start", {}, "You may not start {ref}."),
    (Status.OPEN, "admin", "close", {}, "Cannot close {ref} while it is open."),
    (Status.CLOSED, "admin", "resolve", {"resolve-resolution_notes": "n"}, "Cannot resolve {ref} while it is closed."),
])
def test_a_refused_move_is_a_flash_on_the_incident_page_not_an_error_page(client, people, status, role, action,
                                                                          data, message):
    """Forged or stale POSTs: the domain refuses, the page says so, nothing changes."""
    incident = incident_in(status, people)
    before = events(incident)
    login(client, people[role])
    data = {key: value.format(tech=people["tech"].id) for key, value in data.items()}
    response = client.post(f"/ui/incidents/{incident.id}/{action}", data=data)
    assert response.status_code == 302 and response.headers["Location"] == f"/ui/incidents/{incident.id}"
    page = html(client.get(response.headers["Location"]))
    assert ("danger", message.format(ref=incident.reference)) in flashes(page)
    assert "Traceback" not in page
    assert events(incident) == before


def test_a_move_from_a_stale_page_is_refused(client, people):
    """Two admins assign from the same page: the second is told the incident changed."""
    incident = factories.make_incident(people["reporter"])
    seen = incident.version
    login(client, people["admin"])
    first = client.post(f"/ui/incidents/{incident.id}/assign",
                        data={"assign-technician_id": people["tech"].id, "assign-version": seen})
    assert first.status_code == 302
    client.post(f"/ui/incidents/{incident.id}/assign",
                data={"assign-technician_id": people["tech_other"].id, "assign-version": seen})
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert any("was changed by someone else" in text for kind, text in flashes(page) if kind == "danger")
    db.session.refresh(incident)
    assert incident.technician_id == people["tech"].id


def test_a_reporter_gets_404_for_someone_elses_incident_actions(client, people):
    """No existence leak through the action URLs either."""
    incident = factories.make_incident(people["reporter_other"])
    login(client, people["reporter"])
    for action in ["assign", "start", "resolve", "close", "reopen", "comments", "edit"]:
        assert client.post(f"/ui/incidents/{incident.id}/{action}", data={}).status_code == 404


def test_comments_appear_in_the_timeline(client, people):
    """A comment is added, flashed and shown; an empty one is refused next to the box."""
    incident = factories.make_incident(people["reporter"])
    login(client, people["reporter"])
    empty = client.post(f"/ui/incidents/{incident.id}/comments", data={"comment-body": "  "})
    assert empty.status_code == 422
    assert field_error(html(empty), "comment-body") == "This field is required."
    response = client.post(f"/ui/incidents/{incident.id}/comments", data={"comment-body": "Any news?\nThanks"},
                           follow_redirects=True)
    page = html(response)
    assert ("success", f"Your comment was added to {incident.reference}.") in flashes(page)
    assert "commented" in element_text(page, "timeline") and "Any news?<br>\nThanks" in page


def test_a_technician_not_on_the_incident_may_comment_on_it(client, people):
    """Second stage: technicians comment on a colleague's incident too."""
    incident = incident_in(Status.ASSIGNED, people)
    login(client, people["tech_other"])
    assert 'id="comment-body"' in html(client.get(f"/ui/incidents/{incident.id}"))
    response = client.post(f"/ui/incidents/{incident.id}/comments", data={"comment-body": "hi"})
    assert response.status_code == 302
    assert events(incident)[-1] == EventKind.COMMENTED


def test_text_people_typed_is_escaped_everywhere(client, people):
    """A title, description and comment with markup are shown as text on every page."""
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    incident = factories.make_incident(people["reporter"], title=payload, description=payload)
    login(client, people["reporter"])
    client.post(f"/ui/incidents/{incident.id}/comments", data={"comment-body": payload})
    for path in ["/", "/ui/incidents/", f"/ui/incidents/{incident.id}", f"/ui/incidents/{incident.id}/edit"]:
        page = html(client.get(path))
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page, path
        assert "<img src=x" not in page and '<script>alert("x")' not in page


def test_a_technician_takes_an_open_incident_from_the_list(client, people):
    """Open rows carry a Take button for technicians only; pressing it assigns the incident to them."""
    incident = factories.make_incident(people["reporter"], title="Printer jammed")
    assigned = incident_in(Status.ASSIGNED, people)
    login(client, people["tech_other"])
    page = html(client.get("/ui/incidents/"))
    assert f'action="/ui/incidents/{incident.id}/take"' in page
    assert f'action="/ui/incidents/{assigned.id}/take"' not in page
    response = client.post(f"/ui/incidents/{incident.id}/take", data={"take-version": incident.version})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/ui/incidents/{incident.id}")
    db.session.expire_all()
    assert incident.technician_id == people["tech_other"].id and incident.status == Status.ASSIGNED
    assert events(incident)[-1] == EventKind.ASSIGNED
    assert f'action="/ui/incidents/{incident.id}/take"' not in html(client.get("/ui/incidents/"))


@pytest.mark.parametrize("role", ["admin", "reporter"])
def test_only_technicians_see_the_take_button(client, people, role):
    incident = factories.make_incident(people["reporter"])
    login(client, people[role])
    assert f'action="/ui/incidents/{incident.id}/take"' not in html(client.get("/ui/incidents/"))
    client.post(f"/ui/incidents/{incident.id}/take", data={"take-version": incident.version})
    db.session.expire_all()
    assert incident.technician_id is None
