"""One action on many incidents at once: the list's bulk bar and `POST /incidents/bulk`.

Nothing here decides who may do what: each incident goes through the same service function its
own page and `PUT /incidents/<id>` use (app.incidents.service, app.incidents.watchers), in a
transaction of its own. So a refusal (wrong state, not yours, not visible) changes nothing on that
incident and is reported with the service's own words, while the others go ahead; and every
change writes the timeline, the mail and the webhooks exactly as the single path does.

What is checked once for the whole call is what does not depend on any incident: staff only, the
action's own input (the technician, the watcher, the note), at most MAX_INCIDENTS incidents."""
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from app.exceptions import DomainError, InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.incidents import paging, queries, service, watchers
from app.incidents.enums import Severity, Status, Urgency
from app.incidents.lifecycle import RULES, STAFF, can_hold_incidents, is_staff
from app.incidents.lifecycle import Action as Move
from app.incidents.validation import validate_details, validate_note
from app.models import MAX_ID, Incident, User, utcnow

MAX_INCIDENTS = 500
# The order a filter's matches are taken in (and cut at MAX_INCIDENTS): the list's default, newest first.
FILTER_ORDER = queries.DEFAULT_SORT


class BulkAction(StrEnum):
    ASSIGN = "assign"
    TAKE = "take"
    SEVERITY = "severity"
    URGENCY = "urgency"
    WATCH = "watch"
    RESOLVE = "resolve"
    CLOSE = "close"

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    BulkAction.ASSIGN: "Assign to a technician",
    BulkAction.TAKE: "Take (assign to me)",
    BulkAction.SEVERITY: "Change severity",
    BulkAction.URGENCY: "Change urgency",
    BulkAction.WATCH: "Add a watcher",
    BulkAction.RESOLVE: "Resolve with one note",
    BulkAction.CLOSE: "Close",
}

# The input each action takes: required ones, and optional ones (watch: nobody named is the actor).
# Any other field sent with the action is an error, never silently dropped.
REQUIRED: dict[BulkAction, tuple[str, ...]] = {
    BulkAction.ASSIGN: ("technician_id",),
    BulkAction.TAKE: (),
    BulkAction.SEVERITY: ("severity",),
    BulkAction.URGENCY: ("urgency",),
    BulkAction.WATCH: (),
    BulkAction.RESOLVE: ("resolution_notes",),
    BulkAction.CLOSE: (),
}
OPTIONAL: dict[BulkAction, tuple[str, ...]] = {BulkAction.WATCH: ("user_id",)}
PARAMETERS = ("technician_id", "severity", "urgency", "user_id", "resolution_notes")

# The lifecycle move behind each action (watching is not a move: anyone who may see an incident may).
_MOVE = {
    BulkAction.ASSIGN: Move.ASSIGN,
    BulkAction.TAKE: Move.TAKE,
    BulkAction.SEVERITY: Move.EDIT,
    BulkAction.URGENCY: Move.EDIT,
    BulkAction.RESOLVE: Move.RESOLVE,
    BulkAction.CLOSE: Move.CLOSE,
}


def fields_of(action: BulkAction) -> tuple[str, ...]:
    """Every input field `action` may take."""
    return REQUIRED[action] + OPTIONAL.get(action, ())


def offered_to(actor: User) -> list[BulkAction]:
    """The actions whose move the actor's role can ever make (the bar offers these; an admin does not
    take, a technician does not assign to others). Whether it is allowed on each incident is decided
    incident by incident."""
    if not is_staff(actor):
        return []
    return [action for action in BulkAction if action not in _MOVE or actor.role in RULES[_MOVE[action]].roles]


def watcher_choices() -> list[User]:
    """Whom an admin may add as a watcher to many incidents at once: the active staff, by name (each
    incident's own rule still decides; a reporter watches only their own, so is never offered here)."""
    return list(db.session.scalars(select(User).where(User.active.is_(True), User.role.in_(tuple(STAFF)))
                                   .order_by(User.name, User.id)))


@dataclass(frozen=True)
class Result:
    """What became of one incident: `status` after the call (None when the actor may not see it),
    `detail` what was done or why it was refused."""

    id: int
    ok: bool
    status: Status | None
    detail: str
    reference: str | None = None  # None when not visible, as is the title
    title: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The results, one per distinct incident, in the order asked (a filter's: newest first);
    `matched` is how many incidents were named or matched, more than len(results) when capped."""

    results: list[Result]
    matched: int

    @property
    def capped(self) -> bool:
        return self.matched > len(self.results)

    @property
    def succeeded(self) -> list[Result]:
        return [result for result in self.results if result.ok]

    @property
    def refused(self) -> list[Result]:
        return [result for result in self.results if not result.ok]


def apply(*, actor: User, action: BulkAction | str, ids: Sequence[int] | None = None,
          filters: queries.IncidentFilters | None = None, **params: Any) -> Outcome:
    """Apply `action` to the incidents `ids` names, or to those `filters` matches (at most
    MAX_INCIDENTS of them, newest first), each in its own transaction. Staff only (PermissionDenied);
    InvalidInput when the call itself is wrong (no or both targets, too many ids, a missing or
    stray field, a technician or watcher who cannot be one): then nothing is changed at all."""
    if not is_staff(actor):
        raise PermissionDenied("Only technicians and admins may act on several incidents at once.")
    action = _action(action)
    change = _prepare(actor, action, params)
    if (ids is None) == (filters is None):
        raise InvalidInput.field("ids", "Send either ids or a filter, not both.")
    if ids is not None:
        targets = _distinct(ids)
        matched = len(targets)
    else:
        targets, matched = _matching(actor, filters)
    return Outcome(results=[_one(actor, incident_id, change) for incident_id in targets], matched=matched)


def _action(action: BulkAction | str) -> BulkAction:
    try:
        return BulkAction(action)
    except ValueError:
        choices = ", ".join(member.value for member in BulkAction)
        raise InvalidInput.field("action", f"Must be one of: {choices}.") from None


def _distinct(ids: Iterable[Any]) -> list[int]:
    """The ids once each, in the order first named; more than MAX_INCIDENTS is refused whole."""
    targets = list(dict.fromkeys(ids))
    if not targets:
        raise InvalidInput.field("ids", "Name at least one incident.")
    if len(targets) > MAX_INCIDENTS:
        raise InvalidInput.field("ids", f"At most {MAX_INCIDENTS} incidents at once.")
    return targets


def _matching(actor: User, filters: queries.IncidentFilters) -> tuple[list[int], int]:
    """The first MAX_INCIDENTS ids the filter matches among what the actor may see (the list's
    order), and how many it matches in all."""
    if filters.sla and filters.now is None:
        filters = replace(filters, now=utcnow())  # the ids and their count judged at one instant
    query = (queries.matching(actor, filters).with_only_columns(Incident.id)
             .order_by(*paging.order_by(FILTER_ORDER, nulls_last=True)).limit(MAX_INCIDENTS + 1))
    ids = list(db.session.scalars(query))
    if len(ids) <= MAX_INCIDENTS:
        return ids, len(ids)
    return ids[:MAX_INCIDENTS], queries.count_incidents(actor=actor, filters=filters)


# A prepared change: what to do to one (visible) incident, answering the success's words.
Change = Callable[[Incident], str]


def _prepare(actor: User, action: BulkAction, params: dict[str, Any]) -> Change:
    """Check the action's input once, for the whole call, and bind it into the per-incident change."""
    given = {name for name, value in params.items() if value is not None}
    unknown = set(params) - set(PARAMETERS)
    if unknown:
        raise TypeError(f"unknown bulk parameters: {sorted(unknown)}")
    errors = {name: [f"Required with action {action.value}."] for name in REQUIRED[action] if name not in given}
    errors.update({name: [f"Not sent with action {action.value}."] for name in sorted(given - set(fields_of(action)))})
    if errors:
        raise InvalidInput(errors)
    if action == BulkAction.ASSIGN:
        technician = _technician(params["technician_id"])
        return lambda incident: _assign(actor, incident, technician)
    if action == BulkAction.TAKE:
        return lambda incident: _take(actor, incident)
    if action in (BulkAction.SEVERITY, BulkAction.URGENCY):
        name = action.value
        details = validate_details({name: params[name]})
        return lambda incident: _edit(actor, incident, name, details)
    if action == BulkAction.WATCH:
        user = _watcher(actor, params.get("user_id"))
        return lambda incident: _watch(actor, incident, user)
    if action == BulkAction.RESOLVE:
        notes = validate_note(params["resolution_notes"], field="resolution_notes")
        return lambda incident: _resolve(actor, incident, notes)
    return lambda incident: _close(actor, incident)


def _technician(technician_id: Any) -> User:
    """Who every incident goes to: an active technician (the service's own rule and words)."""
    technician = db.session.get(User, technician_id) if _an_id(technician_id) else None
    if not can_hold_incidents(technician):
        raise InvalidInput.field("technician_id", "Must be the id of an active technician.")
    return technician


def _watcher(actor: User, user_id: Any) -> User:
    """The person to add: the actor when nobody is named; someone else must be an active user (whether
    this actor may add them, and whether they may see each incident, is app.incidents.watchers')."""
    if user_id is None or user_id == actor.id:
        return actor
    user = db.session.get(User, user_id) if _an_id(user_id) else None
    if user is None or not user.active:
        raise InvalidInput.field("user_id", "Must be the id of an active user.")
    return user


def _an_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _one(actor: User, incident_id: Any, change: Change) -> Result:
    """One incident: load it as the actor may see it, make the change in its own transaction; a
    refusal is its result (that incident's transaction rolled back), never the call's."""
    try:
        if not _an_id(incident_id):
            raise NotFound(f"Incident {incident_id} was not found.")
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
    except NotFound as exc:
        return Result(id=incident_id, ok=False, status=None, detail=exc.message)
    try:
        done = change(incident)
    except DomainError as exc:
        db.session.rollback()
        return Result(id=incident.id, ok=False, status=incident.status, detail=_refusal(exc),
                      reference=incident.reference, title=incident.title)
    return Result(id=incident.id, ok=True, status=incident.status, detail=done, reference=incident.reference,
                  title=incident.title)


def _refusal(exc: DomainError) -> str:
    """The refusal in words: a field error's message names its field."""
    if isinstance(exc, InvalidInput):
        return " ".join(f"{name.replace('_', ' ').capitalize()}: {' '.join(messages)}"
                        for name, messages in exc.errors.items()) or exc.message
    return exc.message


def _assign(actor: User, incident: Incident, technician: User) -> str:
    already = incident.technician_id == technician.id  # the service takes that as done: no event
    service.assign_incident(actor=actor, incident=incident, technician_id=technician.id)
    return f"Already assigned to {technician.name}." if already else f"Assigned to {technician.name}."


def _take(actor: User, incident: Incident) -> str:
    service.take_incident(actor=actor, incident=incident)
    return "Assigned to you."


def _edit(actor: User, incident: Incident, name: str, details: dict[str, Severity | Urgency]) -> str:
    new = details[name]
    already = getattr(incident, name) == new  # still goes through the service: it checks who may edit
    service.edit_incident(actor=actor, incident=incident, details=details)
    return f"{name.capitalize()} was already {new.value}." if already else f"{name.capitalize()} is now {new.value}."


def _watch(actor: User, incident: Incident, user: User) -> str:
    watchers.watch(actor=actor, incident=incident, user_id=user.id)
    return "You are watching it." if user.id == actor.id else f"{user.name} is watching it."


def _resolve(actor: User, incident: Incident, notes: str) -> str:
    service.resolve_incident(actor=actor, incident=incident, resolution_notes=notes)
    return "Resolved."


def _close(actor: User, incident: Incident) -> str:
    service.close_incident(actor=actor, incident=incident)
    return "Closed."
