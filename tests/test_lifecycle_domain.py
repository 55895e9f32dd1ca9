"""Every (state x action x role x relation) through the real service functions, against an
oracle written from SPEC.md independently of app/incidents/lifecycle.py."""
import itertools

import pytest
from sqlalchemy import func, select

from app.auth.roles import Role
from app.exceptions import InvalidInput, NotFound, PermissionDenied, TransitionNotAllowed
from app.extensions import db
from app.incidents import service
from app.incidents.enums import Status
from app.incidents.lifecycle import Action, allowed_actions
from app.models import IncidentEvent
from tests import factories

ALLOWED, NOT_FOUND, FORBIDDEN, CONFLICT = "allowed", 404, 403, 409

# Who the actor is to the incident. "assignee" only exists once a technician is assigned.
ACTORS = [
    ("admin", "none"),
    ("admin", "reporter_of"),
    ("technician", "assignee"),
    ("technician", "none"),
    ("technician", "reporter_of"),
    ("reporter", "reporter_of"),
    ("reporter", "none"),
]
MOVES = ["view", "edit", "assign", "take", "start", "hold", "resume", "resolve", "close", "reopen", "comment"]


def oracle(role: str, relation: str, status: Status, action: str):
    """SPEC.md's roles table and lifecycle, restated."""
    if role == "reporter" and relation != "reporter_of":
        return NOT_FOUND
    if action == "view":
        return ALLOWED
    states = {
        "assign": {Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD},
        "take": {Status.OPEN},
        "start": {Status.ASSIGNED},
        "hold": {Status.IN_PROGRESS},
        "resume": {Status.ON_HOLD},
        "resolve": {Status.IN_PROGRESS, Status.ON_HOLD},
        "close": {Status.RESOLVED},
        "reopen": {Status.RESOLVED, Status.CLOSED},
        "comment": set(Status),
    }
    if action == "edit":
        if role == "admin":
            return ALLOWED if status != Status.CLOSED else CONFLICT
        may_edit_in = set()
        if relation == "reporter_of":
            may_edit_in |= {Status.OPEN}
        if relation == "assignee":
            may_edit_in |= {Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD}
        if not may_edit_in:
            return FORBIDDEN
        return ALLOWED if status in may_edit_in else CONFLICT
    permitted = {
        "assign": role == "admin",
        # Second stage: a technician takes an open incident (assigns it to themselves).
        "take": role == "technician",
        "start": role == "admin" or relation == "assignee",
        "hold": role == "admin" or relation == "assignee",
        "resume": role == "admin" or relation == "assignee",
        "resolve": role == "admin" or relation == "assignee",
        "close": role == "admin" or relation == "reporter_of",
        "reopen": role == "admin" or relation == "reporter_of",
        # Second stage: technicians comment on any incident, a colleague's too.
        "comment": role in {"admin", "technician"} or relation == "reporter_of",
    }[action]
    if not permitted:
        return FORBIDDEN
    return ALLOWED if status in states[action] else CONFLICT


CASES = [
    (role, relation, status, action)
    for (role, relation), status, action in itertools.product(ACTORS, list(Status), MOVES)
    if not (relation == "assignee" and status == Status.OPEN)
]


def _arrange(people, role, relation, status):
    """An incident in `status` and an actor standing in `relation` to it."""
    admin, tech = people["admin"], people["tech"]
    if relation == "reporter_of":
        actor = {"admin": admin, "technician": tech, "reporter": people["reporter"]}[role]
    elif relation == "assignee":
        actor = tech
    else:
        actor = {"admin": admin, "technician": tech, "reporter": people["reporter_other"]}[role]
    reporter = actor if relation == "reporter_of" else people["reporter"]
    assignee = tech if relation == "assignee" else people["tech_other"]
    incident = factories.make_incident(reporter)
    factories.bring_to(status, incident=incident, admin=admin, technician=assignee)
    return actor, incident


def _attempt(action, actor, incident, people):
    if action == "view":
        from app.incidents.queries import get_incident

        return get_incident(actor=actor, incident_id=incident.id)
    calls = {
        "edit": lambda: service.edit_incident(actor=actor, incident=incident, details={"title": "New title"}),
        # To someone else than the actor (to oneself is taking).
        "assign": lambda: service.assign_incident(actor=actor, incident=incident,
                                                  technician_id=_someone_else(actor, incident, people)),
        "take": lambda: service.take_incident(actor=actor, incident=incident),
        "start": lambda: service.start_incident(actor=actor, incident=incident),
        "hold": lambda: service.hold_incident(actor=actor, incident=incident, reason="Waiting on the reporter."),
        "resume": lambda: service.resume_incident(actor=actor, incident=incident),
        "resolve": lambda: service.resolve_incident(actor=actor, incident=incident, resolution_notes="Done."),
        "close": lambda: service.close_incident(actor=actor, incident=incident),
        "reopen": lambda: service.reopen_incident(actor=actor, incident=incident, reason="Came back."),
        "comment": lambda: service.add_comment(actor=actor, incident=incident, body="A comment."),
    }
    return calls[action]()


def _someone_else(actor, incident, people) -> int:
    """A technician other than the actor and the current assignee."""
    tech = people["tech"]
    return tech.id if tech != actor and incident.technician_id != tech.id else people["tech_other"].id


def _snapshot(incident):
    db.session.expire_all()
    events = db.session.scalar(select(func.count()).where(IncidentEvent.incident_id == incident.id))
    return (incident.status, incident.version, incident.title, incident.technician_id, events)


OUTCOME = {NotFound: NOT_FOUND, PermissionDenied: FORBIDDEN, TransitionNotAllowed: CONFLICT}


@pytest.mark.parametrize(("role", "relation", "status", "action"), CASES,
                         ids=[f"{r}-{rel}-{s.value}-{a}" for r, rel, s, a in CASES])
def test_every_move_matches_the_spec(people, role, relation, status, action):
    """The service allows exactly what SPEC.md allows; refusals change nothing."""
    actor, incident = _arrange(people, role, relation, status)
    expected = oracle(role, relation, status, action)
    before = _snapshot(incident)
    try:
        _attempt(action, actor, incident, people)
        outcome = ALLOWED
    except (NotFound, PermissionDenied, TransitionNotAllowed) as exc:
        outcome = OUTCOME[type(exc)]
    assert outcome == expected
    after = _snapshot(incident)
    if outcome != ALLOWED or action == "view":
        assert after == before
    elif action == "comment" and relation == "reporter_of" and status == Status.ON_HOLD:
        # The reporter answered: the incident resumes in the same transaction (comment + resumed).
        assert after[0] == Status.IN_PROGRESS and after[1] == before[1] + 1 and after[4] == before[4] + 2
    elif action == "comment":
        assert after[:4] == before[:4] and after[4] == before[4] + 1
    else:
        assert after[1] == before[1] + 1, "every change bumps the version"
        assert after[4] > before[4], "every change appends to the timeline"


@pytest.mark.parametrize(("role", "relation", "status"),
                         sorted({(r, rel, s) for r, rel, s, _ in CASES}, key=str))
def test_allowed_actions_agree_with_the_oracle(people, role, relation, status):
    """The buttons the UI offers are exactly the moves the oracle allows."""
    actor, incident = _arrange(people, role, relation, status)
    offered = {a.value for a in allowed_actions(actor, incident)}
    expected = {a for a in MOVES if oracle(role, relation, status, a) == ALLOWED}
    assert offered == expected


def test_the_case_table_covers_every_state_action_and_role():
    """A new Action or Status or Role must be added to this table."""
    assert {a.value for a in Action} == set(MOVES)
    assert {s for _, _, s, _ in CASES} == set(Status)
    assert {r for r, _, _, _ in CASES} == {r.value for r in Role}


def test_a_refused_move_with_missing_notes_is_a_field_error(people):
    """Resolve without notes and reopen without a reason name the missing field (422)."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
    with pytest.raises(InvalidInput) as resolve_error:
        service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="   ")
    assert "resolution_notes" in resolve_error.value.errors
    service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="Done.")
    with pytest.raises(InvalidInput) as reopen_error:
        service.reopen_incident(actor=people["reporter"], incident=incident, reason="")
    assert "reason" in reopen_error.value.errors
    db.session.expire_all()
    assert incident.status == Status.RESOLVED
