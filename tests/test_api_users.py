"""/users/: listing (admins all, technicians the assignable), creating, changing, deactivating."""
import pytest

from app.auth.roles import Role
from tests import factories
from tests.api_helpers import assert_problem, bearer, snapshot


@pytest.fixture
def admin(people):
    """The admin's bearer header."""
    return bearer(people["admin"])


def test_admins_list_everyone_including_the_deactivated(client, people, admin):
    """By username, with role and active flag."""
    factories.make_user(Role.TECHNICIAN, username="retired", active=False)
    items = client.get("/users/", headers=admin).get_json()["items"]
    assert [u["username"] for u in items] == sorted([*(p.username for p in people.values()), "retired"])
    retired = next(u for u in items if u["username"] == "retired")
    assert retired == {"id": retired["id"], "username": "retired", "name": "Retired",
                       "email": "retired@example.test", "role": "technician", "active": False,
                       "two_factor": False}


def test_technicians_list_only_the_active_technicians(client, people):
    """SPEC: technicians may list technicians (to pick assignees) and see nobody else."""
    factories.make_user(Role.TECHNICIAN, username="retired", active=False)
    items = client.get("/users/", headers=bearer(people["tech"])).get_json()["items"]
    assert {u["username"] for u in items} == {"tech", "techother"}


def test_creating_a_user(client, admin):
    """201, Location, the user (role read in any case); they can get a token right away."""
    response = client.post("/users/", headers=admin, json={
        "username": "dana", "password": "correct horse", "role": "Technician", "name": "Dana Ops",
        "email": "dana@example.test"})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["role"], body["active"], body["name"]) == ("technician", True, "Dana Ops")
    assert client.get(response.headers["Location"], headers=admin).get_json() == body
    token = client.post("/auth/tokens", json={"username": "dana", "password": "correct horse"})
    assert token.status_code == 201


def test_the_name_defaults_to_the_username(client, admin):
    """`name` is optional."""
    response = client.post("/users/", headers=admin, json={
        "username": "eve", "password": "long enough", "role": "reporter", "email": "eve@example.test"})
    assert response.get_json()["name"] == "eve"


@pytest.mark.parametrize(("body", "field"), [
    ({"username": "admin"}, "username"),
    ({"username": "no spaces allowed"}, "username"),
    ({"username": "x\n"}, "username"),
    ({"role": "superuser"}, "role"),
    ({"password": "short"}, "password"),
    ({"email": "not-an-address"}, "email"),
    ({"email": "a@b.c\nBcc: everyone@example.test"}, "email"),
    ({"name": "Bell\x07"}, "name"),
    ({"name": "   "}, "name"),
])
def test_invalid_new_users_are_422_naming_the_field(client, admin, body, field):
    """Taken usernames, bad roles, short passwords, bad addresses: 422, nobody created."""
    valid = {"username": "frank", "password": "long enough", "role": "reporter", "email": "frank@example.test"}
    before = snapshot()
    assert_problem(client.post("/users/", headers=admin, json=valid | body), 422, field)
    assert snapshot() == before


def test_changing_role_name_and_email(client, people, admin):
    """PATCH changes just what it names."""
    target = people["reporter"]
    response = client.patch(f"/users/{target.id}", headers=admin,
                            json={"role": "TECHNICIAN", "name": "Rita Ops", "email": "rita@example.test"})
    assert response.get_json() == {"id": target.id, "username": "reporter", "name": "Rita Ops",
                                   "email": "rita@example.test", "role": "technician", "active": True,
                                   "two_factor": False}


def test_deactivating_and_reactivating(client, people, admin):
    """Deactivated users keep their history and can be reactivated."""
    target = people["tech_other"]
    assert client.patch(f"/users/{target.id}", headers=admin, json={"active": False}).get_json()["active"] is False
    assert client.get(f"/users/{target.id}", headers=admin).get_json()["active"] is False
    assert client.patch(f"/users/{target.id}", headers=admin, json={"active": True}).get_json()["active"] is True


@pytest.mark.parametrize(("body", "field"), [
    ({"active": "false"}, "active"),
    ({"active": 0}, "active"),
    ({"role": "root"}, "role"),
    ({"username": "renamed"}, "username"),
    ({"password": "new password"}, "password"),
])
def test_invalid_changes_are_422(client, people, admin, body, field):
    """Strict booleans, known roles, and only the fields PATCH documents."""
    before = snapshot()
    assert_problem(client.patch(f"/users/{people['reporter'].id}", headers=admin, json=body), 422, field)
    assert snapshot() == before


def test_an_unknown_user_is_404(client, admin):
    """GET and PATCH alike."""
    assert_problem(client.get("/users/424242", headers=admin), 404)
    assert_problem(client.patch("/users/424242", headers=admin, json={"active": False}), 404)


@pytest.mark.parametrize("body", [{"active": False}, {"role": "technician"}])
def test_the_last_active_admin_cannot_be_demoted_or_deactivated(client, people, admin, body):
    """409 and nothing changes; with a second admin the same change goes through."""
    me = people["admin"].id
    before = snapshot()
    assert_problem(client.patch(f"/users/{me}", headers=admin, json=body), 409)
    assert snapshot() == before
    factories.make_user(Role.ADMIN, username="second")
    assert client.patch(f"/users/{me}", headers=admin, json=body).status_code == 200
