"""Issue 14, finding 12: what /openapi.json says an incident update may carry is what the API
accepts. The cross-field rules (a move's notes or reason only with that move and required by it,
`assigned` only with a technician) and the text rules (not blank, no control characters) are in
the document, so a body valid by it is never a 422 and a body invalid by it always is.

Checked both ways on chosen bodies with jsonschema, and by schemathesis generating only valid
bodies for PUT and PATCH /incidents/{id} against a live server, where a 422 is "rejected positive
data". The fuzz server, its data and its identities are tests/test_api_fuzz.py's."""
from itertools import cycle

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from sqlalchemy import select

from app.auth.roles import Role
from app.extensions import db
from app.incidents.enums import Status
from app.models import Incident, User
from tests.api_helpers import bearer, snapshot
from tests.test_api_fuzz import DOCUMENT, Identity, fuzz_database, fuzz_server, fuzz_tally  # noqa: F401 -- fixtures
from tests.web_helpers import incident_in

UPDATE = DOCUMENT["components"]["schemas"]["IncidentUpdate"]
# A schema-valid body may still meet the incident in a state that refuses the move (409), a role
# that may not make it (403), or an incident the caller cannot see (404); never a 422. Wrong
# credentials are test_api_fuzz.py's business (sent again and again here, they meet the sign-in
# throttle's 429).
CONFIG = schemathesis.Config.from_dict({
    "generation": {"mode": "positive"},
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "403", "404", "409"]},
               "ignored_auth": {"enabled": False}},
})
updates = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG).include(
    path="/incidents/{incident_id}", method=["PUT", "PATCH"])
TECH = -1  # stands for people["tech"].id in the table below

# (body, the incident's status, valid by the document)
BODIES = [
    ({"status": "resolved", "resolution_notes": "Replaced the switch."}, Status.IN_PROGRESS, True),
    ({"status": "resolved"}, Status.IN_PROGRESS, False),
    ({"status": "resolved", "resolution_notes": " \t\u3000 "}, Status.IN_PROGRESS, False),
    ({"status": "Resolved", "resolution_notes": "Done.", "reason": "Why not."}, Status.IN_PROGRESS, False),
    ({"status": "closed", "resolution_notes": "Done."}, Status.RESOLVED, False),
    ({"resolution_notes": "Done."}, Status.IN_PROGRESS, False),
    ({"status": "open", "reason": "It failed again."}, Status.CLOSED, True),
    ({"status": "OPEN"}, Status.CLOSED, False),
    ({"status": "in_progress", "reason": "Because."}, Status.ASSIGNED, False),
    ({"reason": "Because."}, Status.CLOSED, False),
    ({"status": "in_progress"}, Status.ASSIGNED, True),
    ({"status": "assigned"}, Status.OPEN, False),
    ({"status": "Assigned", "technician_id": TECH}, Status.OPEN, True),
    ({"technician_id": TECH, "status": "in progress"}, Status.OPEN, True),
    ({"title": "   "}, Status.OPEN, False),
    ({"title": "Disk\x00full"}, Status.OPEN, False),
    ({"description": "Bell\x07"}, Status.OPEN, False),
    ({"description": "Line one\r\nline two\twith a tab"}, Status.OPEN, True),
    ({"title": "  Padded\u00a0title  "}, Status.OPEN, True),
    ({}, Status.OPEN, True),
]


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(("body", "status", "valid"), BODIES, ids=[repr(b)[:60] for b, _, _ in BODIES])
def test_valid_by_the_document_exactly_when_the_api_takes_it(client, people, method, body, status, valid):
    """On an incident where the move is allowed, as an admin: valid by the published document ⇔
    not 422 (and then 200); invalid ⇒ 422 naming a field, nothing changed."""
    body = {key: people["tech"].id if value == TECH else value for key, value in body.items()}
    assert Draft202012Validator(UPDATE).is_valid(body) == valid, body
    incident = incident_in(status, people)
    headers = bearer(people["admin"])
    before = snapshot()
    response = getattr(client, method)(f"/incidents/{incident.id}", headers=headers, json=body)
    assert response.status_code == (200 if valid else 422), response.get_json()
    if not valid:
        assert response.get_json()["errors"] and snapshot() == before


def test_the_text_rule_is_pythons_blank():
    """The document's text pattern calls blank exactly what the services strip away (str.strip),
    so no text passes one and fails the other."""
    pattern = UPDATE["properties"]["reason"]["pattern"]
    checker = Draft202012Validator({"type": "string", "pattern": pattern})
    controls = {chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]}
    for code in range(0x3001):
        char = chr(code)
        assert checker.is_valid(f"x{char}x") == (char not in controls), hex(code)
        assert checker.is_valid(f" {char} ") == (char not in controls and not char.isspace()), hex(code)


class Targets:
    """Where the generated bodies go: the fuzz server's incidents in turn (every state), as its
    admin, with its active technicians; and the tally of answers, printed at the end."""

    def __init__(self, url: str, tally):
        self.url = url
        self.tally = tally
        self.incidents = cycle(db.session.scalars(select(Incident.id).order_by(Incident.id)).all())
        self.technicians = list(db.session.scalars(
            select(User.id).where(User.role == Role.TECHNICIAN, User.active.is_(True)).order_by(User.id)))
        self.admin = Identity(Role.ADMIN)


@pytest.fixture(scope="module")
def targets(request) -> Targets:
    """test_api_fuzz.py's live server and tally (its fixtures, imported above)."""
    return Targets(request.getfixturevalue("fuzz_server"), request.getfixturevalue("fuzz_tally"))


@updates.parametrize()
@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_a_body_valid_by_the_document_is_never_refused_as_invalid(case, targets):
    """Schemathesis, valid bodies only, every built-in check (no 5xx, answers as documented, no
    "rejected positive data"). Two things the document cannot know are filled in from the data: the
    incident (the server's in turn, in every state) and, when the body assigns, an active technician
    (the generated id picks one); `version` is left out (a stale one is 412 whatever the body)."""
    case.path_parameters["incident_id"] = next(targets.incidents)
    if isinstance(case.body, dict):
        case.body.pop("version", None)
        if "technician_id" in case.body:
            case.body["technician_id"] = targets.technicians[int(case.body["technician_id"]) % len(targets.technicians)]
    response = case.call_and_validate(base_url=targets.url, headers=targets.admin.headers(), timeout=10)
    targets.tally[("admin", case.operation.label, response.status_code)] += 1
