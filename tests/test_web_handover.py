"""The users page offers the hand-over choice (issue 14, finding 11): deactivating or demoting a
technician who holds active incidents shows them, with "reassign to" and "unassign" forms that send
the same change again; each form is submitted as the page renders it."""
import re
from html import unescape

import pytest

from app.auth.roles import Role
from app.extensions import db
from app.incidents.enums import Status
from app.models import Incident, User
from tests import factories
from tests.web_helpers import csrf_token, element_text, field_error, flashes, html, incident_in, login


@pytest.fixture
def busy(client, people):
    """The admin logged in; people['tech'] holds an assigned and an in-progress incident (and a
    resolved one, which is history)."""
    login(client, people["admin"])
    return {status: incident_in(status, people, title=f"Busy {status.value}").id
            for status in (Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED)}


def rendered_form(page: str, form_id: str) -> tuple[str, dict[str, str]]:
    """The action of form #form_id on the page, and the values its hidden inputs will send."""
    form = re.search(rf'<form[^>]*\bid="{form_id}"[^>]*>(.*?)</form>', page, re.S)
    assert form is not None, f"no form #{form_id}"
    action = unescape(re.search(r'action="([^"]*)"', form.group(0)).group(1))
    hidden = {unescape(name): unescape(value) for name, value in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1))}
    return action, hidden


def options(page: str, select_id: str) -> list[str]:
    """The values a select offers."""
    select = re.search(rf'<select[^>]*\bid="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None, f"no select #{select_id}"
    return re.findall(r'<option[^>]*value="([^"]*)"', select.group(1))


def current(model, row_id: int):
    """The row as committed now."""
    db.session.rollback()
    return db.session.get(model, row_id)


@pytest.mark.parametrize(("url", "data"), [
    ("deactivate", {"confirm": "y"}),
    ("role", {"role": "reporter"}),
])
def test_leaving_with_active_incidents_shows_them_and_the_choice(client, people, busy, url, data):
    """409: the panel names the incidents (not the resolved one) and offers the other active
    technicians; nothing changed yet."""
    tech = people["tech"]
    retired = factories.make_user(Role.TECHNICIAN, username="retired", active=False)
    data = {(key if key == "confirm" else f"user{tech.id}-{key}"): value for key, value in data.items()}

    response = client.post(f"/ui/users/{tech.id}/{url}", data=data)

    assert response.status_code == 409
    page = html(response)
    assert element_text(page, "handover-heading") == "tech holds 2 active incidents"
    listed = element_text(page, "handover-incidents")
    assert f"INC-{busy[Status.ASSIGNED]} Busy assigned" in listed and "Busy in_progress" in listed
    assert "Busy resolved" not in listed
    assert options(page, "reassign_to") == ["", str(people["tech_other"].id)]
    assert str(retired.id) not in options(page, "reassign_to")
    user = current(User, tech.id)
    assert (user.active, user.role) == (True, Role.TECHNICIAN)
    assert current(Incident, busy[Status.ASSIGNED]).technician_id == tech.id


def test_reassigning_from_the_page_deactivates_and_hands_over(client, people, busy):
    """The reassign form as rendered, with a technician chosen: done, flashed, incidents moved."""
    tech = people["tech"]
    page = html(client.post(f"/ui/users/{tech.id}/deactivate", data={"confirm": "y"}))
    action, hidden = rendered_form(page, "handover-reassign")

    response = client.post(action, data=hidden | {"reassign_to": str(people["tech_other"].id)})

    assert response.status_code == 302
    assert ("success", "tech is deactivated: signed out everywhere, 0 API tokens revoked.") in \
        flashes(html(client.get("/ui/users/")))
    assert current(User, tech.id).active is False
    for status in (Status.ASSIGNED, Status.IN_PROGRESS):
        moved = current(Incident, busy[status])
        assert (moved.technician_id, moved.status) == (people["tech_other"].id, Status.ASSIGNED)
    detail = html(client.get(f"/ui/incidents/{busy[Status.IN_PROGRESS]}"))
    words = " ".join(re.sub(r"<[^>]+>", " ", detail).split())  # names are marked up (the username on hover)
    assert "reassigned it from Tech to Techother" in words and "Handed over: tech was deactivated." in words


def test_unassigning_from_the_page_changes_the_role_and_fills_the_triage(client, people, busy):
    """The unassign form as rendered carries the role asked for: the technician becomes a reporter and
    the incidents show on the admin's "Unassigned — to triage" panel."""
    tech = people["tech"]
    page = html(client.post(f"/ui/users/{tech.id}/role", data={f"user{tech.id}-role": "reporter"}))
    action, hidden = rendered_form(page, "handover-unassign")
    assert hidden[f"user{tech.id}-role"] == "reporter" and hidden["unassign"] == "y"

    response = client.post(action, data=hidden)

    assert response.status_code == 302
    assert ("success", "tech is now reporter.") in flashes(html(client.get("/ui/users/")))
    assert current(User, tech.id).role == Role.REPORTER
    for status in (Status.ASSIGNED, Status.IN_PROGRESS):
        back = current(Incident, busy[status])
        assert (back.technician_id, back.status) == (None, Status.OPEN)
    triage = next(section for section in html(client.get("/")).split("<section")
                  if "Unassigned — to triage" in section)
    assert "Busy assigned" in triage and "Busy in_progress" in triage


def test_a_technician_who_cannot_take_them_is_shown_next_to_the_select(client, people, busy):
    """422 with the domain's message at the select (a technician deactivated meanwhile, say); the
    panel stays, nothing changes."""
    tech = people["tech"]
    retired = factories.make_user(Role.TECHNICIAN, username="retired", active=False)

    response = client.post(f"/ui/users/{tech.id}/deactivate", data={"reassign_to": str(retired.id), "confirm": "y"})

    assert response.status_code == 422
    assert field_error(html(response), "reassign_to") == "Must be the id of another active technician."
    assert current(User, tech.id).active is True
    assert current(Incident, busy[Status.ASSIGNED]).technician_id == tech.id


@pytest.mark.parametrize("value", ["", "abc"])
def test_no_technician_chosen_keeps_the_question_open(client, people, busy, value):
    """The placeholder asks again (409); a value that is no id is a form error (422); nothing changes."""
    tech = people["tech"]
    response = client.post(f"/ui/users/{tech.id}/deactivate", data={"reassign_to": value, "confirm": "y"})
    assert response.status_code == (409 if value == "" else 422)
    assert 'id="handover"' in html(response)
    assert current(User, tech.id).active is True


def test_a_technician_with_nothing_active_is_deactivated_at_once(client, people):
    """No panel when there is nothing to hand over."""
    login(client, people["admin"])
    response = client.post(f"/ui/users/{people['tech'].id}/deactivate", data={"confirm": "y"})
    assert response.status_code == 302
    assert current(User, people["tech"].id).active is False


@pytest.mark.parametrize("form_id", ["handover-reassign", "handover-unassign"])
def test_the_panel_forms_work_with_csrf_on(make_app, form_id):
    """As in production: both panel forms as rendered carry a valid token."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        people = {name: factories.make_user(role, username=name) for name, role in
                  (("admin", Role.ADMIN), ("tech", Role.TECHNICIAN), ("tech_other", Role.TECHNICIAN),
                   ("reporter", Role.REPORTER))}
        held = incident_in(Status.IN_PROGRESS, people).id
        ids = {name: user.id for name, user in people.items()}
        client = app.test_client()
        login(client, "admin", form={"csrf_token": csrf_token(client)})
    with app.app_context():  # a fresh `g`, as each real request has: the token cached there is the login page's
        token = csrf_token(client, "/ui/users/")
        asked = client.post(f"/ui/users/{ids['tech']}/deactivate", data={"csrf_token": token, "confirm": "y"})
        assert asked.status_code == 409
        action, hidden = rendered_form(html(asked), form_id)
        choice = {"reassign_to": str(ids["tech_other"])} if form_id == "handover-reassign" else {}

        assert client.post(action, data=hidden | choice).status_code == 302

        assert current(User, ids["tech"]).active is False
        assert current(Incident, held).technician_id == (ids["tech_other"] if choice else None)
