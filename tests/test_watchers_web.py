"""The incident page's watchers card and the account page's notification switches."""
import re

import pytest

from app.auth.roles import Role
from app.extensions import db
from app.incidents import watchers
from app.models import Incident, User
from tests import factories
from tests.web_helpers import csrf_token, field_error, flashes, html, login


@pytest.fixture
def incident(people):
    """An open incident of people['reporter']'s."""
    return factories.make_incident(people["reporter"])


def card(page: str) -> str:
    """The watchers card's markup."""
    found = re.search(r'<section class="card mb-3" aria-labelledby="watchers-heading" id="watchers">(.*?)</section>',
                      page, re.S)
    assert found, "no watchers card"
    return found.group(1)


def watching(incident) -> list[str]:
    db.session.rollback()
    return [user.username for user in watchers.watchers_of(incident)]


def test_the_card_lists_the_watchers_and_offers_watch(client, people, incident):
    """A technician not watching sees the names and a Watch button; no admin form."""
    login(client, people["tech"])
    shown = card(html(client.get(f"/ui/incidents/{incident.id}")))
    assert "Reporter" in shown and "(reporter)" in shown
    assert f'action="/ui/incidents/{incident.id}/watch"' in shown and ">Watch<" in shown
    assert "add-watcher-form" not in shown and "Remove" not in shown


@pytest.mark.parametrize("role", ["tech", "admin", "reporter"])
def test_watch_then_stop_watching(client, people, incident, role):
    """Watch (flash, back to the card), the button turns to Stop watching; twice is still once."""
    me = people[role]
    login(client, me)
    if role == "reporter":  # watches automatically: stop first
        response = client.post(f"/ui/incidents/{incident.id}/unwatch")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/ui/incidents/{incident.id}#watchers")
        assert me.username not in watching(incident)

    response = client.post(f"/ui/incidents/{incident.id}/watch", follow_redirects=True)
    client.post(f"/ui/incidents/{incident.id}/watch")

    assert ("success", f"You are watching {incident.reference}: you will get mail about it.") in flashes(html(response))
    assert watching(incident).count(me.username) == 1
    assert f'action="/ui/incidents/{incident.id}/unwatch"' in card(html(response))

    response = client.post(f"/ui/incidents/{incident.id}/unwatch", follow_redirects=True)
    assert ("success", f"You stopped watching {incident.reference}.") in flashes(html(response))
    assert me.username not in watching(incident)


def test_stop_watching_when_not_watching_is_a_flash_not_an_error(client, people, incident):
    login(client, people["tech"])
    response = client.post(f"/ui/incidents/{incident.id}/unwatch", follow_redirects=True)
    assert response.status_code == 200
    assert ("danger", f"User {people['tech'].id} is not watching {incident.reference}.") in flashes(html(response))
    assert "You stopped watching" not in html(response)


def test_a_reporter_gets_404_on_someone_elses_incident(client, people, incident):
    """Every watchers route: 404, nothing changes."""
    login(client, people["reporter_other"])
    other = people["reporter_other"].id
    for path in ("watch", "unwatch", "watchers", f"watchers/{other}/remove",
                 f"watchers/{people['reporter'].id}/remove"):
        assert client.post(f"/ui/incidents/{incident.id}/{path}", data={"watcher-user_id": other}).status_code == 404
    assert watching(incident) == ["reporter"]


def test_an_admin_adds_and_removes_a_watcher(client, people, incident):
    """The select offers active people who may see it and are not watching; add, then remove."""
    factories.make_user(Role.TECHNICIAN, username="retired", active=False)
    login(client, people["admin"])
    shown = card(html(client.get(f"/ui/incidents/{incident.id}")))
    options = re.findall(r'<option[^>]*value="(\d+)"[^>]*>([^<]*)</option>', shown)
    offered = {int(value) for value, _ in options}
    assert people["tech_other"].id in offered and people["admin"].id in offered
    assert people["reporter"].id not in offered  # already watching
    assert people["reporter_other"].id not in offered  # may not see it
    assert db.session.query(User).filter_by(username="retired").one().id not in offered

    response = client.post(f"/ui/incidents/{incident.id}/watchers", data={"watcher-user_id": people["tech_other"].id},
                           follow_redirects=True)
    assert ("success", f"Techother is watching {incident.reference}.") in flashes(html(response))
    assert "techother" in watching(incident)
    assert f'action="/ui/incidents/{incident.id}/watchers/{people["tech_other"].id}/remove"' in card(html(response))

    response = client.post(f"/ui/incidents/{incident.id}/watchers/{people['tech_other'].id}/remove",
                           follow_redirects=True)
    assert ("success", f"Removed the watcher from {incident.reference}.") in flashes(html(response))
    assert "techother" not in watching(incident)


@pytest.mark.parametrize("value", ["", "abc", "999999"])
def test_an_admin_choosing_nobody_or_a_stranger_gets_the_error_next_to_the_select(client, people, incident, value):
    """422: the page again, the message next to the select; nobody added."""
    login(client, people["admin"])
    response = client.post(f"/ui/incidents/{incident.id}/watchers", data={"watcher-user_id": value})
    assert response.status_code == 422
    assert field_error(html(response), "watcher-user_id")
    assert watching(incident) == ["reporter"]


def test_an_admin_cannot_add_a_reporter_who_may_not_see_it(client, people, incident):
    """Not among the choices, so refused next to the select."""
    login(client, people["admin"])
    response = client.post(f"/ui/incidents/{incident.id}/watchers",
                           data={"watcher-user_id": people["reporter_other"].id})
    assert response.status_code == 422
    assert watching(incident) == ["reporter"]


def test_a_technician_cannot_add_or_remove_others(client, people, incident):
    """The domain's refusal as a danger flash; nothing changes."""
    login(client, people["tech"])
    added = client.post(f"/ui/incidents/{incident.id}/watchers", data={"watcher-user_id": people["tech_other"].id},
                        follow_redirects=True)
    removed = client.post(f"/ui/incidents/{incident.id}/watchers/{people['reporter'].id}/remove",
                          follow_redirects=True)
    assert ("danger", "Only admins may add other people as watchers.") in flashes(html(added))
    assert ("danger", "Only admins may remove other watchers.") in flashes(html(removed))
    assert watching(incident) == ["reporter"]


def test_names_are_escaped_in_the_card(client, people, incident):
    hostile = factories.make_user(Role.TECHNICIAN, username="hostile")
    hostile.name = '<img src=x onerror=alert(1)>'
    db.session.commit()
    watchers.watch(actor=hostile, incident=incident)
    login(client, people["admin"])
    shown = card(html(client.get(f"/ui/incidents/{incident.id}")))
    assert "<img src=x" not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown


def csrf_app(make_app):
    """An app with CSRF on. Requests run outside any held app context: Flask-WTF keeps the token in
    `g`, which a context held across requests would share (and never write it to the new session)."""
    return make_app(WTF_CSRF_ENABLED=True)


def watcher_names(app, incident_id: int) -> list[str]:
    with app.app_context():
        return [user.username for user in watchers.watchers_of(db.session.get(Incident, incident_id))]


def test_the_forms_need_the_csrf_token(make_app):
    """With CSRF on: each watchers form carries the token, and a POST without it is refused (400)."""
    app = csrf_app(make_app)
    with app.app_context():
        factories.make_user(Role.ADMIN, username="csrfadmin")
        tech_id = factories.make_user(Role.TECHNICIAN, username="csrftech").id
        incident = factories.make_incident(factories.make_user(Role.REPORTER, username="csrfreporter"))
        incident_id, reporter_id = incident.id, incident.reporter_id
    client = app.test_client()
    login(client, "csrfadmin", form={"csrf_token": csrf_token(client)})
    page = html(client.get(f"/ui/incidents/{incident_id}"))
    forms = re.findall(r'<form method="post" action="/ui/incidents/\d+/(?:watch|unwatch|watchers)[^"]*".*?</form>',
                       card(page), re.S)
    assert len(forms) == 3  # remove the reporter, watch, add a watcher
    assert all(re.search(r'name="(?:watcher-)?csrf_token"', form) for form in forms)
    for path in ("watch", "watchers", f"watchers/{reporter_id}/remove"):
        response = client.post(f"/ui/incidents/{incident_id}/{path}", data={"watcher-user_id": tech_id})
        assert response.status_code == 400, path
    assert watcher_names(app, incident_id) == ["csrfreporter"]

    token = csrf_token(client, f"/ui/incidents/{incident_id}")
    assert client.post(f"/ui/incidents/{incident_id}/watch", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/ui/incidents/{incident_id}/watchers",
                       data={"watcher-csrf_token": token, "watcher-user_id": tech_id}).status_code == 302
    assert watcher_names(app, incident_id) == ["csrfadmin", "csrfreporter", "csrftech"]


# ---- /ui/account switches -----------------------------------------------------------------------

def switches(user: User | int) -> tuple[bool, bool, bool]:
    db.session.rollback()
    fresh = db.session.get(User, getattr(user, "id", user))
    return fresh.notify_comments, fresh.notify_status, fresh.notify_sla


def test_the_account_page_shows_the_switches_on(client, people):
    login(client, people["reporter"])
    page = html(client.get("/ui/account"))
    for name in ("comments", "status", "sla"):
        assert re.search(rf'<input(?=[^>]*id="notify-{name}")[^>]*\bchecked', page), name


def test_unticking_a_box_turns_that_category_off(client, people):
    """An unticked checkbox is off; the same function as PATCH /me saves them."""
    login(client, people["tech"])
    response = client.post("/ui/account/notifications", data={"notify-comments": "y", "notify-sla": "y"},
                           follow_redirects=True)
    assert ("success", "Your notification choices were saved.") in flashes(html(response))
    assert switches(people["tech"]) == (True, False, True)
    page = html(response)
    assert not re.search(r'<input(?=[^>]*id="notify-status")[^>]*\bchecked', page)
    assert re.search(r'<input(?=[^>]*id="notify-sla")[^>]*\bchecked', page)

    client.post("/ui/account/notifications", data={})
    assert switches(people["tech"]) == (False, False, False)


def test_the_switches_form_needs_the_csrf_token(make_app):
    """Without the token: 400, nothing saved; with the page's token: saved."""
    app = csrf_app(make_app)
    with app.app_context():
        user_id = factories.make_user(Role.REPORTER, username="csrfswitch").id
    client = app.test_client()
    login(client, "csrfswitch", form={"csrf_token": csrf_token(client)})

    assert client.post("/ui/account/notifications", data={}).status_code == 400
    with app.app_context():
        assert switches(user_id) == (True, True, True)

    token = csrf_token(client, "/ui/account")
    assert client.post("/ui/account/notifications", data={"notify-csrf_token": token}).status_code == 302
    with app.app_context():
        assert switches(user_id) == (False, False, False)
