"""/views/ and /views/<id>: the shape, saving (201 + Location), sharing (admins), the list's filter
validation (422), duplicate names (409), deleting (owner, admin, others)."""
import pytest

from app.extensions import db
from app.models import SavedView
from tests.api_helpers import assert_problem, bearer, snapshot


def views(client, headers) -> dict:
    response = client.get("/views/", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def save(client, headers, **body):
    return client.post("/views/", headers=headers, json={"name": "v", **body})


def test_save_then_list_the_shape(client, people):
    """201 with the view and its Location; GET lists {id, name, filters, sort, shared, owner, created_at}."""
    tech = people["tech"]
    headers = bearer(tech)
    response = save(client, headers, name="  Disk P1s ", sort="-priority",
                    filters={"status": ["open", "Assigned"], "priority": ["p1"], "technician": "me", "q": "disk"})
    assert response.status_code == 201
    created = response.get_json()
    assert response.headers["Location"].endswith(f"/views/{created['id']}")
    expected = {"id": created["id"], "name": "Disk P1s", "sort": "-priority", "shared": False,
                "filters": {"status": ["open", "assigned"], "priority": ["P1"], "technician": "me", "q": "disk"},
                "owner": {"id": tech.id, "username": tech.username, "name": tech.name},
                "created_at": created["created_at"]}
    assert created == expected
    body = views(client, headers)
    assert body["items"] == [expected]
    assert [d["name"] for d in body["defaults"]] == ["My queue", "Unassigned", "Breaching soon"]
    assert body["defaults"][0] == {"key": "my-queue", "name": "My queue", "sort": "priority",
                                   "filters": {"status": ["assigned", "in_progress", "on_hold"], "technician": "me"}}


def test_defaults_only_for_the_call(client, people):
    """Sort and filters default to the list's: newest first, everything."""
    created = save(client, bearer(people["reporter"]), name="All").get_json()
    assert (created["filters"], created["sort"]) == ({}, "-created_at")
    assert [d["name"] for d in views(client, bearer(people["reporter"]))["defaults"]] == ["My queue"]


def test_a_saved_view_opens_as_a_list_query(client, people):
    """The stored filters are GET /incidents/'s own query parameters: the list takes them as they are."""
    headers = bearer(people["tech"])
    view = save(client, headers, filters={"status": ["open", "assigned"], "sla": ["at_risk"], "technician": "none"},
                sort="resolve_due_at").get_json()
    query = [(name, value) for name, values in view["filters"].items()
             for value in (values if isinstance(values, list) else [values])] + [("sort", view["sort"])]
    assert client.get("/incidents/", headers=headers, query_string=query).status_code == 200


def test_only_admins_share(client, people):
    for role in ("tech", "reporter"):
        headers = bearer(people[role])
        before = snapshot()
        assert_problem(save(client, headers, name="for all", shared=True), 403)
        assert snapshot() == before
    admin = save(client, bearer(people["admin"]), name="for all", shared=True)
    assert admin.status_code == 201 and admin.get_json()["shared"] is True
    for role in ("tech", "reporter", "tech_other"):
        assert [v["name"] for v in views(client, bearer(people[role]))["items"]] == ["for all"]


def test_a_reporter_cannot_see_others_private_views(client, people):
    save(client, bearer(people["reporter"]), name="mine")
    save(client, bearer(people["tech"]), name="tech's")
    save(client, bearer(people["admin"]), name="admin's")
    assert [v["name"] for v in views(client, bearer(people["reporter_other"]))["items"]] == []
    assert [v["name"] for v in views(client, bearer(people["reporter"]))["items"]] == ["mine"]


@pytest.mark.parametrize("body, field", [
    ({"filters": {"colour": ["red"]}}, "filters"),
    ({"filters": {"page": 2}}, "filters"),
    ({"filters": {"cursor": "abc"}}, "filters"),
    ({"filters": {"per_page": 10}}, "filters"),
    ({"filters": {"sort": "priority"}}, "filters"),
    ({"filters": {"status": ["nope"]}}, "filters"),
    ({"filters": {"status": "open"}}, "filters"),
    ({"filters": {"status": [1, 2]}}, "filters"),
    ({"filters": {"status": [None]}}, "filters"),
    ({"filters": {"status": {"open": True}}}, "filters"),
    ({"filters": {"technician": 5}}, "filters"),
    ({"filters": {"technician": "<script>alert(1)</script>"}}, "filters"),
    ({"filters": {"reporter": "none"}}, "filters"),
    ({"filters": {"q": "a\u0000b"}}, "filters"),
    ({"filters": {"q": "x" * 201}}, "filters"),
    ({"filters": {"q": ["x"]}}, "filters"),
    ({"filters": ["status", "open"]}, "filters"),
    ({"filters": "status=open"}, "filters"),
    ({"filters": None}, "filters"),
    ({"sort": "title"}, "sort"),
    ({"sort": "--priority"}, "sort"),
    ({"sort": 1}, "sort"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 81}, "name"),
    ({"name": "a\u0007b"}, "name"),
    ({"name": 7}, "name"),
    ({"name": None}, "name"),
    ({"shared": "yes"}, "shared"),
    ({"owner_id": 1}, "owner_id"),
])
def test_bad_bodies_are_422_and_change_nothing(client, people, body, field):
    headers = bearer(people["admin"])
    before = snapshot()
    problem = assert_problem(save(client, headers, **body), 422, field)
    assert snapshot() == before
    if field == "filters" and isinstance(body["filters"], dict):
        name = next(iter(body["filters"]))
        assert any(message.startswith(f"{name}: ") for message in problem["errors"]["filters"]), problem


def test_a_name_missing_is_422(client, people):
    assert_problem(client.post("/views/", headers=bearer(people["tech"]), json={"filters": {}}), 422, "name")


def test_a_duplicate_name_is_409(client, people):
    headers = bearer(people["tech"])
    assert save(client, headers, name="Network").status_code == 201
    before = snapshot()
    problem = assert_problem(save(client, headers, name="NETWORK "), 409)
    assert "already have a view named" in problem["detail"]
    assert snapshot() == before
    assert save(client, bearer(people["tech_other"]), name="Network").status_code == 201


def test_delete_by_owner_admin_and_others(client, people):
    tech, admin = bearer(people["tech"]), bearer(people["admin"])
    own = save(client, tech, name="own").get_json()["id"]
    private = save(client, tech, name="private").get_json()["id"]
    team = save(client, admin, name="team", shared=True).get_json()["id"]

    for role in ("tech_other", "reporter"):
        other = bearer(people[role])
        assert_problem(client.delete(f"/views/{private}", headers=other), 404)
        assert_problem(client.delete(f"/views/{team}", headers=other), 403)
    assert_problem(client.delete(f"/views/{team}", headers=tech), 403)
    assert_problem(client.delete("/views/999999", headers=tech), 404)

    gone = client.delete(f"/views/{own}", headers=tech)
    assert gone.status_code == 204 and gone.data == b""
    assert client.delete(f"/views/{private}", headers=admin).status_code == 204
    assert client.delete(f"/views/{team}", headers=admin).status_code == 204
    assert_problem(client.delete(f"/views/{own}", headers=tech), 404)
    db.session.rollback()
    assert db.session.query(SavedView).count() == 0


def test_views_need_a_login(client):
    assert_problem(client.get("/views/"), 401)
    assert_problem(client.post("/views/", json={"name": "x"}), 401)
    assert_problem(client.delete("/views/1"), 401)


def test_hostile_names_come_back_as_data(client, people):
    """A name is text: stored and answered as sent (JSON escapes it; the pages escape it again)."""
    headers = bearer(people["tech"])
    name = "<img src=x onerror=alert(1)>\"'&"
    assert save(client, headers, name=name).get_json()["name"] == name
    assert views(client, headers)["items"][0]["name"] == name


def test_an_odd_body_is_never_a_500(client, people):
    headers = bearer(people["tech"])
    for filters in ({"status": [[["open"]]]}, {"q": {"$gt": ""}}, {"technician": True}, {"": "x"}, {"q": 1.5},
                    {"priority": [{"P1": 1}]}, {"sla": [True]}):
        response = save(client, headers, filters=filters)
        assert response.status_code == 422, (filters, response.get_data(as_text=True))
    repeated = save(client, headers, name="repeated", filters={"status": ["open"] * 500})
    assert repeated.status_code == 201 and repeated.get_json()["filters"] == {"status": ["open"]}


def test_a_technician_by_username_as_the_list_takes_it(client, people):
    """The list's technician filter takes a username; a view stores it as sent."""
    created = save(client, bearer(people["admin"]), name="Tech's", filters={"technician": "TechOther"})
    assert created.status_code == 201 and created.get_json()["filters"] == {"technician": "TechOther"}


# ---------------------------------------------------------------------------------------------
# PATCH /views/<id>: rename, other filters or sort, (un)share
# ---------------------------------------------------------------------------------------------
def change(client, headers, view_id, **body):
    return client.patch(f"/views/{view_id}", headers=headers, json=body)


def test_only_what_is_sent_changes(client, people):
    headers = bearer(people["tech"])
    view = save(client, headers, name="Disk", filters={"q": "disk", "priority": ["P1"]}, sort="-priority").get_json()
    renamed = change(client, headers, view["id"], name="  Disk P1s ")
    assert renamed.status_code == 200
    assert renamed.get_json() == view | {"name": "Disk P1s"}
    moved = change(client, headers, view["id"], filters={"status": ["Open"]}, sort="resolve_due_at").get_json()
    assert moved == view | {"name": "Disk P1s", "filters": {"status": ["open"]}, "sort": "resolve_due_at"}
    assert views(client, headers)["items"] == [moved]


def test_changing_only_the_case_of_its_own_name_is_fine_but_another_views_name_is_409(client, people):
    headers = bearer(people["tech"])
    first = save(client, headers, name="network").get_json()["id"]
    second = save(client, headers, name="disk").get_json()["id"]
    assert change(client, headers, first, name="Network").get_json()["name"] == "Network"
    before = snapshot()
    problem = assert_problem(change(client, headers, second, name="NETWORK"), 409)
    assert "You already have a view named" in problem["detail"]
    assert snapshot() == before
    problem = assert_problem(change(client, bearer(people["admin"]), second, name="network"), 409)
    assert "Its owner already has a view named" in problem["detail"]


def test_who_may_change_a_view(client, people):
    tech, admin = bearer(people["tech"]), bearer(people["admin"])
    private = save(client, tech, name="private").get_json()["id"]
    team = save(client, admin, name="team", shared=True).get_json()["id"]
    others = [bearer(people[role]) for role in ("tech_other", "reporter")]
    before = snapshot()
    for other in others:
        assert_problem(change(client, other, private, name="mine now"), 404)
        assert_problem(change(client, other, team, name="mine now"), 403)
    assert_problem(change(client, tech, private, shared=True), 403)
    assert_problem(change(client, tech, 999999, name="x"), 404)
    assert snapshot() == before
    assert change(client, tech, private, shared=False).status_code == 200  # no change of sharing: fine
    assert change(client, admin, private, name="tidied by admin", shared=True).get_json()["shared"] is True
    assert change(client, admin, team, shared=False).get_json()["shared"] is False
    assert_problem(change(client, tech, team, name="x"), 404)  # unshared: private to the admin again


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 81}, "name"),
    ({"name": "a\u0000b"}, "name"),
    ({"name": None}, "name"),
    ({"filters": {"status": ["nope"]}}, "filters"),
    ({"filters": {"page": "2"}}, "filters"),
    ({"filters": None}, "filters"),
    ({"sort": "title"}, "sort"),
    ({"shared": "true"}, "shared"),
    ({"owner_id": 2}, "owner_id"),
])
def test_bad_changes_are_422_and_change_nothing(client, people, body, field):
    headers = bearer(people["admin"])
    view_id = save(client, headers, name="kept", filters={"q": "disk"}).get_json()["id"]
    before = snapshot()
    assert_problem(change(client, headers, view_id, **body), 422, field)
    assert snapshot() == before


def test_a_patch_needs_a_login_and_an_odd_body_is_never_a_500(client, people):
    headers = bearer(people["tech"])
    view_id = save(client, headers, name="odd").get_json()["id"]
    assert_problem(client.patch(f"/views/{view_id}", json={"name": "x"}), 401)
    for body in ([], "name", 7):
        assert_problem(client.patch(f"/views/{view_id}", headers=headers, json=body), 400)
    for body in ({"name": ["x"]}, {"filters": {"q": {"$ne": 1}}}, {"sort": None}):
        response = client.patch(f"/views/{view_id}", headers=headers, json=body)
        assert response.status_code == 422, (body, response.get_data(as_text=True))
    assert views(client, headers)["items"][0]["name"] == "odd"
