"""The watchers API (/incidents/<id>/watchers) and the notification switches of /me."""
import pytest

from app.auth.roles import Role
from app.extensions import db
from app.incidents import watchers
from app.models import User
from tests import factories
from tests.api_helpers import assert_problem, bearer


@pytest.fixture
def incident(people):
    """An open incident of people['reporter']'s (who watches it automatically)."""
    return factories.make_incident(people["reporter"])


def watcher_ids(client, incident, headers) -> list[int]:
    response = client.get(f"/incidents/{incident.id}/watchers", headers=headers)
    assert response.status_code == 200
    return [item["id"] for item in response.get_json()["items"]]


def test_the_reporter_watches_automatically_and_the_assignee_too(client, people, incident):
    """GET lists {id, username, name} by name: the reporter, then the technician once assigned."""
    admin = bearer(people["admin"])
    body = client.get(f"/incidents/{incident.id}/watchers", headers=admin).get_json()
    reporter = people["reporter"]
    assert body == {"items": [{"id": reporter.id, "username": reporter.username, "name": reporter.name}]}

    client.put(f"/incidents/{incident.id}", headers=admin, json={"technician_id": people["tech"].id})

    assert watcher_ids(client, incident, admin) == [reporter.id, people["tech"].id]


@pytest.mark.parametrize("role", ["admin", "tech", "tech_other"])
def test_staff_watch_and_unwatch_any_incident(client, people, incident, role):
    """{} watches yourself (201, the watcher); twice is still once (201); DELETE yourself is 204."""
    me = people[role]
    headers = bearer(me)

    first = client.post(f"/incidents/{incident.id}/watchers", headers=headers, json={})
    again = client.post(f"/incidents/{incident.id}/watchers", headers=headers, json={})

    assert first.status_code == again.status_code == 201
    assert first.get_json() == {"id": me.id, "username": me.username, "name": me.name}
    assert watcher_ids(client, incident, headers).count(me.id) == 1

    gone = client.delete(f"/incidents/{incident.id}/watchers/{me.id}", headers=headers)
    assert gone.status_code == 204 and gone.data == b"" and "Content-Type" not in gone.headers
    assert me.id not in watcher_ids(client, incident, headers)
    assert_problem(client.delete(f"/incidents/{incident.id}/watchers/{me.id}", headers=headers), 404)


def test_a_reporter_watches_only_their_own(client, people, incident):
    """Someone else's incident is 404 for every watchers call, as if it did not exist."""
    other = bearer(people["reporter_other"])
    path = f"/incidents/{incident.id}/watchers"
    assert_problem(client.get(path, headers=other), 404)
    assert_problem(client.post(path, headers=other, json={}), 404)
    assert_problem(client.delete(f"{path}/{people['reporter'].id}", headers=other), 404)
    assert_problem(client.delete(f"{path}/{people['reporter_other'].id}", headers=other), 404)
    assert watcher_ids(client, incident, bearer(people["admin"])) == [people["reporter"].id]


def test_the_reporter_may_stop_and_start_watching_their_own(client, people, incident):
    headers = bearer(people["reporter"])
    me = people["reporter"].id
    assert client.delete(f"/incidents/{incident.id}/watchers/{me}", headers=headers).status_code == 204
    assert watcher_ids(client, incident, headers) == []
    assert client.post(f"/incidents/{incident.id}/watchers", headers=headers, json={}).status_code == 201
    assert watcher_ids(client, incident, headers) == [me]


def test_an_admin_adds_and_removes_anyone_who_may_see_it(client, people, incident):
    admin = bearer(people["admin"])
    tech = people["tech_other"]

    added = client.post(f"/incidents/{incident.id}/watchers", headers=admin, json={"user_id": tech.id})

    assert added.status_code == 201 and added.get_json()["id"] == tech.id
    assert tech.id in watcher_ids(client, incident, admin)
    assert client.delete(f"/incidents/{incident.id}/watchers/{tech.id}", headers=admin).status_code == 204
    assert tech.id not in watcher_ids(client, incident, admin)


@pytest.mark.parametrize("role", ["tech", "reporter"])
def test_only_admins_add_or_remove_someone_else(client, people, incident, role):
    """A non-admin naming another user: 403, and nothing changes."""
    headers = bearer(people[role])
    before = watcher_ids(client, incident, bearer(people["admin"]))

    assert_problem(client.post(f"/incidents/{incident.id}/watchers", headers=headers,
                               json={"user_id": people["tech_other"].id}), 403)
    assert_problem(client.delete(f"/incidents/{incident.id}/watchers/{people['reporter'].id}",
                                 headers=bearer(people["tech"])), 403)

    assert watcher_ids(client, incident, bearer(people["admin"])) == before


def test_an_admin_cannot_add_someone_who_may_not_see_it(client, people, incident):
    """Another reporter, an inactive user, an unknown id: 422 naming user_id."""
    admin = bearer(people["admin"])
    inactive = factories.make_user(Role.TECHNICIAN, username="gone", active=False)
    for user_id in (people["reporter_other"].id, inactive.id, 999999):
        assert_problem(client.post(f"/incidents/{incident.id}/watchers", headers=admin, json={"user_id": user_id}),
                       422, "user_id")
    assert watcher_ids(client, incident, admin) == [people["reporter"].id]


@pytest.mark.parametrize("body", [{"user_id": "2"}, {"user_id": 0}, {"user_id": 2**31}, {"user_id": True},
                                  {"user_id": None}, {"watch": True}, {"user_id": 1.5}])
def test_bad_bodies_are_422(client, people, incident, body):
    assert_problem(client.post(f"/incidents/{incident.id}/watchers", headers=bearer(people["admin"]), json=body), 422)


def test_a_non_json_body_is_415_and_no_credentials_401(client, people, incident):
    path = f"/incidents/{incident.id}/watchers"
    assert_problem(client.post(path, headers=bearer(people["admin"]), data="x", content_type="text/plain"), 415)
    assert_problem(client.get(path), 401)
    assert_problem(client.post(path, json={}), 401)
    assert_problem(client.delete(f"{path}/{people['reporter'].id}"), 401)


def test_an_unknown_incident_is_404(client, people):
    admin = bearer(people["admin"])
    assert_problem(client.get("/incidents/999999/watchers", headers=admin), 404)
    assert_problem(client.post("/incidents/999999/watchers", headers=admin, json={}), 404)


def test_names_come_back_as_written(client, people, incident):
    """JSON carries the name as data; nothing is HTML-escaped or interpreted."""
    hostile = factories.make_user(Role.TECHNICIAN, username="hostile")
    hostile.name = '<img src=x onerror=alert(1)> "Bob"'
    db.session.commit()
    watchers.watch(actor=hostile, incident=incident)
    items = client.get(f"/incidents/{incident.id}/watchers", headers=bearer(people["admin"])).get_json()["items"]
    assert '<img src=x onerror=alert(1)> "Bob"' in [item["name"] for item in items]


# ---- /me notify --------------------------------------------------------------------------------

def test_me_shows_the_switches_all_on_by_default(client, people):
    body = client.get("/me", headers=bearer(people["tech"])).get_json()
    assert body["notify"] == {"comments": True, "status": True, "sla": True}
    assert body["username"] == "tech"


def test_patch_me_changes_only_the_named_switches(client, people):
    headers = bearer(people["reporter"])

    first = client.patch("/me", headers=headers, json={"notify": {"status": False}})
    second = client.patch("/me", headers=headers, json={"notify": {"sla": False, "status": True}})

    assert first.status_code == 200 and first.get_json()["notify"] == {"comments": True, "status": False, "sla": True}
    assert second.get_json()["notify"] == {"comments": True, "status": True, "sla": False}
    assert client.get("/me", headers=headers).get_json()["notify"] == second.get_json()["notify"]
    db.session.rollback()
    user = db.session.get(User, people["reporter"].id)
    assert (user.notify_comments, user.notify_status, user.notify_sla) == (True, True, False)


@pytest.mark.parametrize(("body", "field"), [
    ({"notify": {"status": "false"}}, "notify"),
    ({"notify": {"status": 0}}, "notify"),
    ({"notify": {"status": None}}, "notify"),
    ({"notify": {"mentions": True}}, "notify"),
    ({"notify": ["status"]}, "notify"),
    ({"notify": True}, "notify"),
    ({}, "notify"),
    ({"notify": {}, "role": "admin"}, "role"),
])
def test_patch_me_refuses_bad_switches_with_422(client, people, body, field):
    """Non-booleans, unknown categories, anything else in the body: 422, nothing changed (no role either)."""
    headers = bearer(people["reporter"])
    assert_problem(client.patch("/me", headers=headers, json=body), 422, field)
    me = client.get("/me", headers=headers).get_json()
    assert me["notify"] == {"comments": True, "status": True, "sla": True} and me["role"] == "reporter"


def test_the_operations_are_in_the_openapi_document(client):
    document = client.get("/openapi.json").get_json()
    watchers_path = document["paths"]["/incidents/{incident_id}/watchers"]
    assert set(watchers_path) >= {"get", "post"}
    assert "delete" in document["paths"]["/incidents/{incident_id}/watchers/{user_id}"]
    assert "patch" in document["paths"]["/me"]
    notify = document["components"]["schemas"]["Notify"]
    assert set(notify["properties"]) == {"comments", "status", "sla"}
    assert notify["additionalProperties"] is False
