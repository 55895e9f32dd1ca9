"""The ONE place for the moves between incident states and who may make them (the states
and roles themselves are data: `app.incidents.enums`, `app.auth.roles`).

Pure Python: no database, no request. The service layer asks `authorize()` before any
change, the web UI asks `allowed_actions()` to decide which buttons to show, and the
permission tests are generated from `RULES`.
"""
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Protocol

from app.auth.roles import Role
from app.incidents.enums import Status

STAFF = frozenset({Role.TECHNICIAN, Role.ADMIN})


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    ASSIGN = "assign"
    TAKE = "take"
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    COMMENT = "comment"


# Open work: on hold waits on the reporter or a third party, but is still someone's to finish.
ACTIVE_STATUSES = (Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD)
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
TEXT_MAX = 10_000  # comments, resolution notes, reopen reasons


class Actor(Protocol):
    id: int
    role: Role


class Assignee(Protocol):
    role: Role
    active: bool


class IncidentLike(Protocol):
    reporter_id: int
    technician_id: int | None
    technician: Assignee | None
    status: Status


def is_reporter_of(user: Actor, incident: IncidentLike) -> bool:
    return incident.reporter_id == user.id


def is_assignee_of(user: Actor, incident: IncidentLike) -> bool:
    return incident.technician_id is not None and incident.technician_id == user.id


def can_hold_incidents(user: Assignee | None) -> bool:
    """Only an active technician can be assigned incidents, or keep them."""
    return user is not None and user.role == Role.TECHNICIAN and user.active


def is_staff(user: Actor) -> bool:
    """Technicians and admins: the people who work incidents."""
    return user.role in STAFF


def can_see(user: Actor, incident: IncidentLike) -> bool:
    """Reporters see only their own incidents; staff see all of them."""
    return user.role != Role.REPORTER or is_reporter_of(user, incident)


def sees_internal(user: Actor) -> bool:
    """Internal notes (and internal attachments) are for staff: a reporter never sees one, nor learns
    that one exists, through any page, API answer, mail or export."""
    return is_staff(user)


def may_write_internal(user: Actor) -> bool:
    """Only staff may write an internal note or attach an internal file."""
    return is_staff(user)


@dataclass(frozen=True)
class Rule:
    """Who may take an action, and from which states."""

    roles: frozenset[Role]
    relation: Callable[[Actor, IncidentLike], bool] | None
    """For non-admins: the relation to the incident the action needs (admins need none)."""
    from_states: frozenset[Status]


def _rule(roles, relation, states) -> Rule:
    return Rule(frozenset(roles), relation, frozenset(states))


ALL_STATES = frozenset(Status)
_OWN = is_reporter_of
_ASSIGNED = is_assignee_of


def _own_or_assigned(user: Actor, incident: IncidentLike) -> bool:
    return is_reporter_of(user, incident) or is_assignee_of(user, incident)


def _own_or_staff(user: Actor, incident: IncidentLike) -> bool:
    """Technicians comment on any incident (a colleague's too); a reporter on their own."""
    return is_staff(user) or is_reporter_of(user, incident)


RULES: dict[Action, Rule] = {
    Action.VIEW: _rule(Role, None, ALL_STATES),
    Action.EDIT: _rule(Role, _own_or_assigned, set(Status) - {Status.CLOSED}),
    Action.ASSIGN: _rule({Role.ADMIN}, None, ACTIVE_STATUSES),
    # A technician assigns an open (so unassigned) incident to themselves; to anyone else is ASSIGN.
    Action.TAKE: _rule({Role.TECHNICIAN}, None, {Status.OPEN}),
    Action.START: _rule({Role.TECHNICIAN, Role.ADMIN}, _ASSIGNED, {Status.ASSIGNED}),
    Action.HOLD: _rule({Role.TECHNICIAN, Role.ADMIN}, _ASSIGNED, {Status.IN_PROGRESS}),
    Action.RESUME: _rule({Role.TECHNICIAN, Role.ADMIN}, _ASSIGNED, {Status.ON_HOLD}),
    Action.RESOLVE: _rule({Role.TECHNICIAN, Role.ADMIN}, _ASSIGNED, {Status.IN_PROGRESS, Status.ON_HOLD}),
    # "The reporter" of an incident is a relation, not a role: a technician who reported
    # an incident closes and reopens it like any reporter would.
    Action.CLOSE: _rule(Role, _OWN, {Status.RESOLVED}),
    Action.REOPEN: _rule(Role, _OWN, {Status.RESOLVED, Status.CLOSED}),
    Action.COMMENT: _rule(Role, _own_or_staff, ALL_STATES),
}


def editable_states(user: Actor, incident: IncidentLike) -> frozenset[Status]:
    """Editing depends on the relation: the reporter while `open`, the assigned technician
    while they work on it, an admin until it is closed (a closed incident is reopened first)."""
    if user.role == Role.ADMIN:
        return RULES[Action.EDIT].from_states
    states: set[Status] = set()
    if is_reporter_of(user, incident):
        states.add(Status.OPEN)
    if is_assignee_of(user, incident) and user.role == Role.TECHNICIAN:
        states.update({Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD})
    return frozenset(states)


# Where each move leads. REOPEN depends on whether the incident still has a technician who can hold it.
TARGET: dict[Action, Status] = {
    Action.ASSIGN: Status.ASSIGNED,
    Action.TAKE: Status.ASSIGNED,
    Action.START: Status.IN_PROGRESS,
    Action.HOLD: Status.ON_HOLD,
    Action.RESUME: Status.IN_PROGRESS,
    Action.RESOLVE: Status.RESOLVED,
    Action.CLOSE: Status.CLOSED,
}

# The status value a client sends (`PUT {"status": ...}`) names the move it asks for...
MOVE_FOR_STATUS: dict[Status, Action] = {
    Status.IN_PROGRESS: Action.START,
    Status.ON_HOLD: Action.HOLD,
    Status.RESOLVED: Action.RESOLVE,
    Status.CLOSED: Action.CLOSE,
    Status.OPEN: Action.REOPEN,
}
# ...except where the state it leaves names another: back to in_progress from on_hold is resuming.
MOVE_FROM_STATUS: dict[tuple[Status, Status], Action] = {
    (Status.ON_HOLD, Status.IN_PROGRESS): Action.RESUME,
}


def move_for(status: Status, incident: IncidentLike) -> Action | None:
    """The move a requested status names for this incident; None when no move reaches it
    (`assigned` is reached by assigning)."""
    return MOVE_FROM_STATUS.get((incident.status, status)) or MOVE_FOR_STATUS.get(status)


def resumes_on_comment(user: Actor, incident: IncidentLike) -> bool:
    """An incident on hold waits on its reporter: the reporter's comment takes it back to in progress
    (whoever else is allowed to comment, their comment leaves it on hold)."""
    return incident.status == Status.ON_HOLD and is_reporter_of(user, incident)


def target_status(action: Action, incident: IncidentLike) -> Status:
    """The status an incident lands in after `action`."""
    if action == Action.REOPEN:
        # A technician deactivated or moved to another role since cannot take it back: to triage.
        return Status.ASSIGNED if can_hold_incidents(incident.technician) else Status.OPEN
    return TARGET[action]


class Decision(Enum):
    ALLOWED = "allowed"
    NOT_FOUND = "not_found"          # 404: may not even know it exists
    FORBIDDEN = "forbidden"          # 403: role or relation never allows it
    WRONG_STATE = "wrong_state"      # 409: allowed, but not now


def decide(user: Actor, action: Action, incident: IncidentLike) -> Decision:
    """The single answer to 'may this user do this to this incident now?'."""
    if not can_see(user, incident):
        return Decision.NOT_FOUND
    rule = RULES[action]
    if user.role not in rule.roles:
        return Decision.FORBIDDEN
    if user.role != Role.ADMIN and rule.relation is not None and not rule.relation(user, incident):
        return Decision.FORBIDDEN
    states = editable_states(user, incident) if action == Action.EDIT else rule.from_states
    if incident.status not in states:
        return Decision.WRONG_STATE
    return Decision.ALLOWED


def allowed_actions(user: Actor, incident: IncidentLike) -> set[Action]:
    """Every action this user may take on this incident right now (drives the UI)."""
    return {action for action in Action if decide(user, action, incident) == Decision.ALLOWED}


def may_create(user: Actor) -> bool:
    """Every role may report an incident."""
    return user.role in set(Role)
