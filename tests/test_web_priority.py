"""The pages: urgency on the report and edit forms, the priority badge on the list and the incident
page, list filters and sort by priority and urgency, and the hold / resume forms from the one
registry of incident actions."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents.enums import Priority, Status, Urgency
from app.models import Incident
from tests import factories
from tests.web_helpers import element_text, field_error, flashes, html, incident_in, login


def test_reporting_with_an_urgency_shows_the_priority_badge(client, people):
    """The form's urgency select; the page shows the priority badge and the urgency."""
    login(client, people["reporter"])
    response = client.post("/ui/incidents/new", data={"title": "Checkout down", "description": "500s",
                                                       "severity": "critical", "urgency": "low",
                                                       "category": "application"})
    incident = db.session.scalar(select(Incident))
    assert (incident.urgency, incident.priority) == (Urgency.LOW, Priority.P2)
    page = html(client.get(response.headers["Location"]))
    assert 'class="badge priority-p2"' in element_text_html(page, "incident-badges")
    assert element_text(page, "incident-priority") == "P2" and element_text(page, "incident-urgency") == "Low"


def element_text_html(page: str, element_id: str) -> str:
    """The raw markup of the element with this id (to see badge classes)."""
    start = page.index(f'id="{element_id}"')
    return page[start:page.index("</p>", start)]


def test_editing_the_urgency_moves_the_priority(client, people):
    """The edit form carries urgency; saving recomputes the priority."""
    incident = factories.make_incident(people["reporter"], severity="high")
    login(client, people["admin"])
    page = html(client.get(f"/ui/incidents/{incident.id}/edit"))
    assert 'name="urgency"' in page
    client.post(f"/ui/incidents/{incident.id}/edit", data={
        "title": incident.title, "description": incident.description, "severity": "high", "urgency": "high",
        "category": "other", "version": incident.version})
    db.session.expire_all()
    assert incident.priority == Priority.P1


def test_unknown_urgency_in_the_form_is_a_field_error(client, people):
    """A forged value: 422 with the message under the select."""
    login(client, people["reporter"])
    response = client.post("/ui/incidents/new", data={"title": "t", "description": "d", "severity": "low",
                                                       "urgency": "whenever", "category": "other"})
    assert response.status_code == 422
    assert field_error(html(response), "urgency")


def test_list_filters_and_sorts_by_priority_and_urgency(client, people):
    """Checkboxes like severity's; unknown values are dropped (an old bookmark still opens)."""
    low = factories.make_incident(people["reporter"], title="Low one", severity="low", urgency="low")
    top = factories.make_incident(people["reporter"], title="Top one", severity="critical", urgency="high")
    mid = factories.make_incident(people["reporter"], title="Mid one", severity="medium")
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/"))
    assert 'id="priority-P1"' in page and 'id="urgency-high"' in page and "badge priority-p4" in page

    def shown(query):
        """The titles the list shows, in the order it shows them."""
        text = html(client.get(f"/ui/incidents/?{query}"))
        return [title for _, title in sorted((text.index(t), t) for t in (low.title, top.title, mid.title)
                                             if t in text)]

    assert set(shown("priority=P1&priority=p4")) == {low.title, top.title}
    assert shown("urgency=high") == [top.title]
    assert set(shown("urgency=nonsense")) == {low.title, top.title, mid.title}
    assert shown("sort=priority") == [top.title, mid.title, low.title]
    assert shown("sort=-priority") == [low.title, mid.title, top.title]


def test_hold_and_resume_from_the_incident_page(client, people):
    """The technician sees "Put on hold" (with a reason), then "Resume"; each posts one service call."""
    incident = incident_in(Status.IN_PROGRESS, people)
    login(client, people["tech"])
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert 'id="hold-form"' in page and 'id="resume-form"' not in page
    refused = client.post(f"/ui/incidents/{incident.id}/hold", data={"hold-reason": " ",
                                                                      "hold-version": incident.version})
    assert refused.status_code == 422
    response = client.post(f"/ui/incidents/{incident.id}/hold", data={
        "hold-reason": "Waiting on the vendor.", "hold-version": incident.version})
    assert response.status_code == 302
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert ("success", f"{incident.reference} is on hold; a comment from its reporter resumes it.") in flashes(page)
    assert "put the incident on hold" in element_text(page, "timeline")
    assert "Waiting on the vendor." in element_text(page, "timeline")
    assert 'class="badge status-on_hold"' in page
    assert 'id="resume-form"' in page and 'id="hold-form"' not in page and 'id="resolve-form"' in page
    db.session.expire_all()
    client.post(f"/ui/incidents/{incident.id}/resume", data={"resume-version": incident.version})
    db.session.expire_all()
    assert incident.status == Status.IN_PROGRESS


@pytest.mark.parametrize("who", ["reporter", "tech_other"])
def test_others_see_neither_hold_nor_resume(client, people, who):
    """The lifecycle decides who sees the forms."""
    incident = incident_in(Status.ON_HOLD, people)
    login(client, people[who])
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert 'id="resume-form"' not in page and 'id="hold-form"' not in page
