"""Who may call what: every endpoint x every role (allowed, 403, 404), then 401 for everyone else."""
import pytest

from app.incidents.enums import Status
from tests import factories
from tests.api_helpers import assert_problem, basic, bearer, snapshot
from tests.web_helpers import login

ROLES = ("admin", "tech", "tech_other", "reporter", "reporter_other")
NEW_USER = {"username": "newbie", "password": "long enough", "role": "reporter", "email": "newbie@example.test"}

# name: (method, path, body, the state of the incident the call is about)
ACTIONS = {
    "list incidents": ("GET", "/incidents/", None, None),
    "report": ("POST", "/incidents/", {"title": "Printer on fire", "description": "Really."}, None),
    "read": ("GET", "/incidents/{id}", None, Status.OPEN),
    "read missing": ("GET", "/incidents/999999", None, None),
    "timeline": ("GET", "/incidents/{id}/events", None, Status.ASSIGNED),
    "edit open": ("PUT", "/incidents/{id}", {"title": "A better title"}, Status.OPEN),
    "edit assigned": ("PATCH", "/incidents/{id}", {"severity": "High"}, Status.ASSIGNED),
    "assign": ("PUT", "/incidents/{id}", {"technician_id": "{tech_other}"}, Status.OPEN),
    "assign to another": ("PUT", "/incidents/{id}", {"technician_id": "{tech}"}, Status.OPEN),
    "take assigned": ("PUT", "/incidents/{id}", {"technician_id": "{tech_other}"}, Status.ASSIGNED),
    "start": ("PUT", "/incidents/{id}", {"status": "In Progress"}, Status.ASSIGNED),
    "resolve": ("PATCH", "/incidents/{id}", {"status": "resolved", "resolution_notes": "Rebooted."},
                Status.IN_PROGRESS),
    "close": ("PUT", "/incidents/{id}", {"status": "Closed"}, Status.RESOLVED),
    "close while open": ("PUT", "/incidents/{id}", {"status": "closed"}, Status.OPEN),
    "reopen": ("PUT", "/incidents/{id}", {"status": "open", "reason": "It is back."}, Status.CLOSED),
    "comment": ("POST", "/incidents/{id}/comments", {"body": "Any news?"}, Status.ASSIGNED),
    "me": ("GET", "/me", None, None),
    "revoke token": ("DELETE", "/auth/tokens/current", None, None),
    "list users": ("GET", "/users/", None, None),
    "create user": ("POST", "/users/", NEW_USER, None),
    "read user": ("GET", "/users/{reporter_other}", None, None),
    "read missing user": ("GET", "/users/999999", None, None),
    "change user": ("PATCH", "/users/{reporter_other}", {"role": "technician"}, None),
}

EXPECTED = {  # admin, tech (the assignee), tech_other, reporter (the reporter), reporter_other
    "list incidents": (200, 200, 200, 200, 200),
    "report": (201, 201, 201, 201, 201),
    "read": (200, 200, 200, 200, 404),
    "read missing": (404, 404, 404, 404, 404),
    "timeline": (200, 200, 200, 200, 404),
    "edit open": (200, 403, 403, 200, 404),
    "edit assigned": (200, 200, 403, 409, 404),
    # tech_other sending its own id on an open incident takes it (second stage); on one assigned
    # to a colleague that is a move the state does not allow; to anyone else is an admin's assignment.
    "assign": (200, 403, 200, 403, 404),
    "assign to another": (200, 200, 403, 403, 404),
    "take assigned": (200, 403, 409, 403, 404),
    "start": (200, 200, 403, 403, 404),
    "resolve": (200, 200, 403, 403, 404),
    "close": (200, 403, 403, 200, 404),
    "close while open": (409, 403, 403, 409, 404),
    "reopen": (200, 403, 403, 200, 404),
    "comment": (201, 201, 201, 201, 404),  # technicians comment on any incident (second stage)
    "me": (200, 200, 200, 200, 200),
    "revoke token": (204, 204, 204, 204, 204),
    "list users": (200, 200, 200, 403, 403),
    "create user": (201, 403, 403, 403, 403),
    "read user": (200, 403, 403, 403, 403),
    "read missing user": (404, 403, 403, 403, 403),
    "change user": (200, 403, 403, 403, 403),
}
CASES = [(action, role, EXPECTED[action][i]) for action in ACTIONS for i, role in enumerate(ROLES)]


def _fill(value, ids: dict):
    """Put real ids into a path or body template."""
    if isinstance(value, str):
        formatted = value.format(**ids)
        return int(formatted) if value.startswith("{") and formatted.isdigit() else formatted
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


def _prepare(people, action: str) -> tuple[str, str, dict | None]:
    """Bring an incident to the state the action needs; the method, path and body to send."""
    method, path, body, state = ACTIONS[action]
    ids = {name: person.id for name, person in people.items()}
    if state is not None:
        incident = factories.make_incident(people["reporter"])
        factories.bring_to(state, incident=incident, admin=people["admin"], technician=people["tech"])
        ids["id"] = incident.id
    return method, _fill(path, ids), _fill(body, ids)


@pytest.mark.parametrize(("action", "role", "expected"), CASES, ids=[f"{a}-{r}" for a, r, _ in CASES])
def test_role_table(client, people, action, role, expected):
    """Allowed calls succeed; refused ones are problem+json and change nothing."""
    headers = bearer(people[role])
    method, path, body = _prepare(people, action)
    before = snapshot()
    response = client.open(path, method=method, json=body, headers=headers)
    if expected < 400:
        assert response.status_code == expected, response.get_data(as_text=True)
    else:
        assert_problem(response, expected)
        assert snapshot() == before


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("credentials", ["none", "session cookie", "wrong token", "wrong password"])
def test_without_valid_credentials_every_endpoint_is_401(client, people, action, credentials):
    """No credentials, only the portal's session cookie, or bad ones: 401 with a challenge, no change."""
    headers = {}
    if credentials == "session cookie":
        login(client, "admin")
    elif credentials == "wrong token":
        headers = {"Authorization": "Bearer not-a-real-token"}
    elif credentials == "wrong password":
        headers = basic("admin", "nope")
    method, path, body = _prepare(people, action)
    before = snapshot()
    response = client.open(path, method=method, json=body, headers=headers)
    assert_problem(response, 401)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="incident-portal"') and 'Basic realm="incident-portal"' in challenge
    after = snapshot()
    if credentials == "wrong password":  # the failed attempt is counted towards the lockout, nothing else
        before.pop("users"), after.pop("users")
    assert after == before
