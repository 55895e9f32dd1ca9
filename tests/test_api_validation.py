"""The bad-input catalogue: every malformed request is a clear problem+json and changes nothing."""
import json

import pytest

from tests import factories
from tests.api_helpers import assert_problem, bearer, snapshot

# (method, path, who) for every endpoint that reads a JSON body
BODY_ENDPOINTS = {
    "report": ("POST", "/incidents/", "reporter"),
    "put": ("PUT", "/incidents/{incident}", "reporter"),
    "patch": ("PATCH", "/incidents/{incident}", "reporter"),
    "comment": ("POST", "/incidents/{incident}/comments", "reporter"),
    "create user": ("POST", "/users/", "admin"),
    "change user": ("PATCH", "/users/{user}", "admin"),
    "token": ("POST", "/auth/tokens", None),
}
JSON = "application/json"
NOT_AN_OBJECT = {
    "malformed": ('{"title": ', JSON),
    "empty": ("", JSON),
    "array": ("[]", JSON),
    "string": ('"title"', JSON),
    "NaN": ('{"title": NaN}', JSON),
    "lone surrogate": ('{"title": "\\ud800", "description": "x"}', JSON),
    "nested too deep": ('{"a":' * 50_000 + "1" + "}" * 50_000, JSON),
    "integer too long": ('{"version": 1' + "0" * 5_000 + "}", JSON),
    "not UTF-8": (b'{"title": "\xff"}', JSON),
}
NOT_JSON = {
    "text/plain": ('{"title": "x"}', "text/plain"),
    "form": ("title=x", "application/x-www-form-urlencoded"),
    "multipart": (None, "multipart/form-data"),
    "no content type": ('{"title": "x"}', None),
}
LONG = "x" * 10_001
FIELD_CASES = [  # (endpoint, body, the field the 422 names)
    ("report", {"title": "No description"}, "description"),
    ("report", {"title": "", "description": "x"}, "title"),
    ("report", {"title": "   ", "description": "x"}, "title"),
    ("report", {"title": "x" * 201, "description": "x"}, "title"),
    ("report", {"title": "x", "description": LONG}, "description"),
    ("report", {"title": "NUL\x00inside", "description": "x"}, "title"),
    ("report", {"title": 42, "description": "x"}, "title"),
    ("report", {"title": None, "description": "x"}, "title"),
    ("report", {"title": "x", "description": "x", "severity": "urgent"}, "severity"),
    ("report", {"title": "x", "description": "x", "category": "hardware"}, "category"),
    ("report", {"title": "x", "description": "x", "severity": 3}, "severity"),
    ("report", {"title": "x", "description": "x", "priority": "P1"}, "priority"),
    ("report", {"title": "x", "description": "x", "status": "closed"}, "status"),
    ("put", {"status": "done"}, "status"),
    ("put", {"status": "in progress now"}, "status"),
    ("put", {"technician_id": "2"}, "technician_id"),
    ("put", {"technician_id": True}, "technician_id"),
    ("put", {"technician_id": 1.5}, "technician_id"),
    ("put", {"technician_id": 10**30}, "technician_id"),
    ("put", {"technician_id": None}, "technician_id"),
    ("put", {"version": "1"}, "version"),
    ("put", {"version": 0}, "version"),
    ("put", {"resolution_notes": "Fixed"}, "resolution_notes"),
    ("put", {"status": "closed", "reason": "Because"}, "reason"),
    ("patch", {"status": "open", "reason": LONG}, "reason"),
    ("patch", {"description": ""}, "description"),
    ("patch", {"id": 5}, "id"),
    ("patch", {"reporter": {"id": 1}}, "reporter"),
    ("comment", {}, "body"),
    ("comment", {"body": ""}, "body"),
    ("comment", {"body": " \n\t "}, "body"),
    ("comment", {"body": LONG}, "body"),
    ("comment", {"body": ["a", "b"]}, "body"),
    ("comment", {"body": "hi", "internal": "yes"}, "internal"),
    ("create user", {"username": "ok_name", "password": "long enough", "role": "reporter"}, "email"),
    ("create user", {"username": "ok_name", "password": "long enough", "role": "god",
                     "email": "a@b.test"}, "role"),
    ("change user", {"active": "yes"}, "active"),
    ("change user", {"email": "x" * 250 + "@b.test"}, "email"),
    ("change user", {"name": "x" * 121}, "name"),
    ("token", {"username": "admin"}, "password"),
    ("token", {"username": "admin", "password": factories.PASSWORD, "expires_in_days": 0}, "expires_in_days"),
    ("token", {"username": "admin", "password": factories.PASSWORD, "expires_in_days": 366}, "expires_in_days"),
    ("token", {"username": "admin", "password": factories.PASSWORD, "name": ""}, "name"),
    ("token", {"username": ["admin"], "password": factories.PASSWORD}, "username"),
]
QUERY_CASES = [  # (query string, the field the 422 names)
    ("per_page=0", "per_page"),
    ("per_page=-5", "per_page"),
    ("per_page=ten", "per_page"),
    ("per_page=2.5", "per_page"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("page=99999999999999999999", "page"),
    ("sort=title", "sort"),
    ("sort=--created_at", "sort"),
    ("status=done", "status"),
    ("status=open&status=nope", "status"),
    ("severity=urgent", "severity"),
    ("category=", "category"),
    ("technician=abc", "technician"),
    ("technician=0", "technician"),
    ("reporter=none", "reporter"),
    ("q=%00", "q"),
    ("q=" + "x" * 201, "q"),
]


@pytest.fixture
def send(client, people):
    """Send to a body endpoint as its natural caller, about an open incident and another user."""
    ids = {"incident": factories.make_incident(people["reporter"]).id, "user": people["reporter_other"].id}
    headers = {"reporter": bearer(people["reporter"]), "admin": bearer(people["admin"]), None: {}}

    def send(endpoint: str, **kwargs):
        method, path, who = BODY_ENDPOINTS[endpoint]
        return client.open(path.format(**ids), method=method, headers=headers[who], **kwargs)

    send.ids = ids
    return send


@pytest.mark.parametrize("case", list(NOT_AN_OBJECT))
@pytest.mark.parametrize("endpoint", list(BODY_ENDPOINTS))
def test_a_body_that_is_not_a_json_object_is_400(send, endpoint, case):
    """Malformed, empty, not an object, NaN, unpaired surrogates, absurd nesting: 400."""
    data, content_type = NOT_AN_OBJECT[case]
    before = snapshot()
    assert_problem(send(endpoint, data=data, content_type=content_type), 400)
    assert snapshot() == before


@pytest.mark.parametrize("case", list(NOT_JSON))
@pytest.mark.parametrize("endpoint", list(BODY_ENDPOINTS))
def test_a_body_that_is_not_json_is_415(send, endpoint, case):
    """Anything but application/json (or +json): 415."""
    data, content_type = NOT_JSON[case]
    kwargs = {"data": {"title": "x"}} if content_type == "multipart/form-data" else {"data": data}
    if content_type and content_type != "multipart/form-data":
        kwargs["content_type"] = content_type
    before = snapshot()
    assert_problem(send(endpoint, **kwargs), 415)
    assert snapshot() == before


@pytest.mark.parametrize("endpoint", list(BODY_ENDPOINTS))
def test_a_body_over_one_mebibyte_is_413(send, endpoint):
    """MAX_CONTENT_LENGTH is 1 MiB; the refusal is problem+json like every other."""
    data = json.dumps({"title": "x", "description": "y" * (1024 * 1024)})
    before = snapshot()
    assert_problem(send(endpoint, data=data, content_type=JSON), 413)
    assert snapshot() == before


def test_json_with_a_charset_or_a_plus_json_type_is_accepted(send):
    """`application/json; charset=utf-8` and `application/merge-patch+json` are JSON."""
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = send("patch", data='{"title": "Typed"}', content_type=content_type)
        assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(("endpoint", "body", "field"), FIELD_CASES,
                         ids=[f"{e}-{f}-{i}" for i, (e, _, f) in enumerate(FIELD_CASES)])
def test_wrong_fields_are_422_naming_them(send, endpoint, body, field):
    """Unknown fields, wrong types, empty / blank / over-long text, bad choices, out-of-range numbers."""
    before = snapshot()
    assert_problem(send(endpoint, json=body), 422, field)
    assert snapshot() == before


def test_every_wrong_field_is_reported_at_once(send):
    """One 422 lists all the problems, not just the first."""
    body = assert_problem(send("report", json={"title": "", "severity": "x", "extra": 1}),
                          422, "title", "description", "severity", "extra")
    assert body["errors"]["extra"] == ["Unknown field."]
    assert body["errors"]["severity"] == ["Must be one of: low, medium, high, critical."]


@pytest.mark.parametrize(("query", "field"), QUERY_CASES, ids=[q[:30] for q, _ in QUERY_CASES])
def test_bad_list_parameters_are_422_naming_them(client, people, query, field):
    """Non-numeric, zero, negative or huge paging; unknown sorts, statuses and people."""
    assert_problem(client.get(f"/incidents/?{query}", headers=bearer(people["admin"])), 422, field)


@pytest.mark.parametrize("path", ["/incidents/0", "/incidents/-1", "/incidents/2147483648",
                                  "/incidents/1e3", "/users/0", "/incidents/0/events"])
def test_ids_that_cannot_exist_are_404(client, people, path):
    """Out-of-range ids never reach the database: the route does not match them."""
    assert_problem(client.get(path, headers=bearer(people["admin"])), 404)


def test_integral_floats_count_as_integers_as_in_json_schema(client, people, send):
    """`"technician_id": 2.0` is the integer 2 (JSON has one number type)."""
    response = client.put(f"/incidents/{send.ids['incident']}", headers=bearer(people["admin"]),
                          json={"technician_id": float(people["tech"].id), "version": 1.0})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["technician"]["id"] == people["tech"].id


def test_unknown_query_parameters_are_ignored(client, people):
    """Cache busters and tracking parameters do not break a listing."""
    response = client.get("/incidents/?_=12345&utm_source=mail", headers=bearer(people["admin"]))
    assert response.status_code == 200
