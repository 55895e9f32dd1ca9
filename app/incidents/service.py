"""Use cases on incidents, called by the web UI, the API, the CLI and the seed alike.

Each public function: check the lifecycle, change the incident, append timeline events,
write outbox mail, commit once. Refusals raise `app.exceptions` errors and change nothing.
"""
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.auth.roles import Role
from app.database import lock_for_update, write_transaction
from app.exceptions import InvalidInput, NotFound, PermissionDenied, TransitionNotAllowed, VersionConflict
from app.extensions import db
from app.incidents import attachments, notifications, sla, tallies, watchers
from app.incidents.enums import EventKind, Severity, Status, Urgency
from app.incidents.lifecycle import (
    Action,
    Decision,
    can_hold_incidents,
    decide,
    may_create,
    may_write_internal,
    move_for,
    resumes_on_comment,
    target_status,
)
from app.incidents.priority import priority_of
from app.incidents.validation import validate_details, validate_note
from app.models import Incident, IncidentEvent, User, utcnow
from app.unset import UNSET

# A caller's own writes, done inside a use case's transaction with what it made.
AlsoWrite = Callable[[Incident, IncidentEvent], None]


def create_incident(*, actor: User, title: str, description: str, severity=None, urgency=None, category=None,
                    uploads: Sequence[attachments.Upload] = (), at: datetime | None = None,
                    via: str | None = None, then: AlsoWrite | None = None) -> Incident:
    """Report a new incident, with any files attached; the reporter is the actor, the priority follows
    from severity and urgency. The files are stored before the transaction, their rows commit with it.
    `via` names the channel on the event ("email"); `then(incident, event)` writes the caller's own
    rows in the same transaction (the inbound mail's record)."""
    if not may_create(actor):
        raise PermissionDenied("You may not report incidents.")
    fields = {"title": title, "description": description}
    for name, value in (("severity", severity), ("urgency", urgency), ("category", category)):
        if value is not None:
            fields[name] = value
    details = {"severity": Severity.MEDIUM, "urgency": Urgency.MEDIUM, **validate_details(fields)}
    staged = attachments.stage(incident=None, uploads=uploads)
    try:
        with write_transaction():
            now = at or utcnow()
            incident = Incident(reporter_id=actor.id, status=Status.OPEN, created_at=now, updated_at=now,
                                priority=priority_of(details["severity"], details["urgency"]), **details)
            sla.start(incident)
            db.session.add(incident)
            db.session.flush()
            tallies.move([], tallies.snapshot(incident))
            event = record_event(incident, actor, EventKind.CREATED, now, to_status=Status.OPEN, via=via)
            attachments.record(actor=actor, incident=incident, staged=staged, internal=False, now=now)
            watchers.add_automatically(incident, actor)
            notifications.incident_created(incident)
            if then is not None:
                then(incident, event)
    except BaseException:
        attachments.discard(staged)
        raise
    return incident


def update_incident(*, actor: User, incident: Incident, details: dict[str, Any] | None = None,
                    technician_id: int | None = UNSET, status: Status | None = None,
                    resolution_notes: str | None = None, reason: str | None = None,
                    expected_version: int | None = None, at: datetime | None = None,
                    move: Action | None = None) -> Incident:
    """Apply an edit, an assignment and a move together, all or nothing (the API's PUT/PATCH).

    Asking for status `assigned` together with `technician_id` is the assignment itself. The
    status names the move from the incident's state (`in_progress` starts an assigned incident,
    resumes one on hold); a caller that means one move names it in `move`."""
    assigning = technician_id is not UNSET
    with write_transaction():
        lock_for_update(incident)
        _check_version(incident, expected_version)
        counted_as = tallies.snapshot(incident)
        now = at or utcnow()
        if details:
            _edit(actor, incident, details, now)
        if assigning:
            _assign(actor, incident, technician_id, now)
        if status is not None and not (assigning and status == Status.ASSIGNED):
            _move(actor, incident, status, now, resolution_notes=resolution_notes, reason=reason, move=move)
        tallies.move(counted_as, tallies.snapshot(incident))
        sla.refresh(incident)
    return incident


def edit_incident(*, actor: User, incident: Incident, details: dict[str, Any],
                  expected_version: int | None = None) -> Incident:
    """Change title, description, severity, urgency or category (the priority follows)."""
    return update_incident(actor=actor, incident=incident, details=details,
                           expected_version=expected_version)


def assign_incident(*, actor: User, incident: Incident, technician_id: int | None,
                    expected_version: int | None = None, at: datetime | None = None) -> Incident:
    """Assign or reassign to an active technician (admins only)."""
    return update_incident(actor=actor, incident=incident, technician_id=technician_id,
                           expected_version=expected_version, at=at)


def hold_incident(*, actor: User, incident: Incident, reason: str, expected_version: int | None = None,
                  at: datetime | None = None) -> Incident:
    """in_progress -> on_hold (waiting on the reporter or a third party), saying why."""
    return update_incident(actor=actor, incident=incident, status=Status.ON_HOLD, reason=reason,
                           expected_version=expected_version, at=at, move=Action.HOLD)


def resume_incident(*, actor: User, incident: Incident, expected_version: int | None = None,
                    at: datetime | None = None) -> Incident:
    """on_hold -> in_progress."""
    return update_incident(actor=actor, incident=incident, status=Status.IN_PROGRESS,
                           expected_version=expected_version, at=at, move=Action.RESUME)


def start_incident(*, actor: User, incident: Incident, expected_version: int | None = None,
                   at: datetime | None = None) -> Incident:
    """assigned -> in_progress."""
    return update_incident(actor=actor, incident=incident, status=Status.IN_PROGRESS,
                           expected_version=expected_version, at=at, move=Action.START)


def resolve_incident(*, actor: User, incident: Incident, resolution_notes: str,
                     expected_version: int | None = None, at: datetime | None = None) -> Incident:
    """in_progress -> resolved, with required notes."""
    return update_incident(actor=actor, incident=incident, status=Status.RESOLVED,
                           resolution_notes=resolution_notes, expected_version=expected_version, at=at)


def close_incident(*, actor: User, incident: Incident, expected_version: int | None = None,
                   at: datetime | None = None) -> Incident:
    """resolved -> closed."""
    return update_incident(actor=actor, incident=incident, status=Status.CLOSED,
                           expected_version=expected_version, at=at)


def reopen_incident(*, actor: User, incident: Incident, reason: str,
                    expected_version: int | None = None, at: datetime | None = None) -> Incident:
    """resolved/closed -> assigned (to its technician, if they can still hold it) or open, with a reason."""
    return update_incident(actor=actor, incident=incident, status=Status.OPEN, reason=reason,
                           expected_version=expected_version, at=at)


def hand_over_incident(*, actor: User, incident: Incident, technician_id: int | None, note: str,
                       now: datetime) -> None:
    """Reassign an active incident to `technician_id`, or put it back to `open` when None, `note`
    saying why on the timeline. A step of a larger use case (a technician leaving: see
    `app.incidents.handover`), so it runs inside that use case's transaction and does not commit."""
    counted_as = tallies.snapshot(incident)
    if technician_id is None:
        _unassign(actor, incident, now, note=note)
    else:
        _assign(actor, incident, technician_id, now, note=note)
    tallies.move(counted_as, tallies.snapshot(incident))
    sla.refresh(incident)


def take_incident(*, actor: User, incident: Incident, expected_version: int | None = None,
                  at: datetime | None = None) -> Incident:
    """A technician assigns an open incident to themselves (the "Take" button)."""
    _authorize(actor, Action.TAKE, incident)
    return update_incident(actor=actor, incident=incident, technician_id=actor.id,
                           expected_version=expected_version, at=at)


def add_comment(*, actor: User, incident: Incident, body: str, internal: bool = False,
                uploads: Sequence[attachments.Upload] = (), at: datetime | None = None,
                via: str | None = None, then: AlsoWrite | None = None) -> IncidentEvent:
    """Append a comment (or, from staff, an internal note) to the timeline, with any files attached.

    The files are stored before the transaction (and swept if it fails); their rows and events
    commit with the comment. The incident's version is untouched, unless it was on hold waiting on
    its reporter and the reporter wrote: then it resumes, in the same transaction. Watchers hear of
    public comments only. `via` and `then` as for create_incident."""
    _authorize(actor, Action.COMMENT, incident)
    if internal and not may_write_internal(actor):
        raise PermissionDenied("Only technicians and admins may write internal notes.")
    text = validate_note(body, field="body")
    staged = attachments.stage(incident=incident, uploads=uploads)
    with write_transaction():
        now = at or utcnow()
        event = record_event(incident, actor, EventKind.COMMENTED, now, body=text, internal=internal, via=via)
        attachments.record(actor=actor, incident=incident, staged=staged, internal=internal, now=now,
                           event=event)
        if not internal and resumes_on_comment(actor, incident):
            lock_for_update(incident)
            counted_as = tallies.snapshot(incident)
            incident.status = Status.IN_PROGRESS
            incident.updated_at = now
            resumed = record_event(incident, actor, EventKind.RESUMED, now, from_status=Status.ON_HOLD,
                                   to_status=Status.IN_PROGRESS)
            tallies.move(counted_as, tallies.snapshot(incident))
            notifications.status_changed(incident, resumed)
        if not internal:
            notifications.comment_added(incident, event)
        sla.refresh(incident)
        if then is not None:
            then(incident, event)
    return event


def _authorize(actor: User, action: Action, incident: Incident) -> None:
    decision = decide(actor, action, incident)
    if decision == Decision.ALLOWED:
        return
    if decision == Decision.NOT_FOUND:
        raise NotFound(f"Incident {incident.id} was not found.")
    if decision == Decision.FORBIDDEN:
        raise PermissionDenied(f"You may not {action.value} {incident.reference}.")
    raise TransitionNotAllowed(
        f"Cannot {action.value} {incident.reference} while it is {incident.status.label.lower()}."
    )


def _check_version(incident: Incident, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != incident.version:
        raise VersionConflict(
            f"{incident.reference} is at version {incident.version}, not {expected_version}; "
            "reload it and try again."
        )


def record_event(incident: Incident, actor: User, kind: EventKind, now: datetime, **fields) -> IncidentEvent:
    """Append one event to the timeline, inside the caller's transaction (flushed: it has its id)."""
    event = IncidentEvent(incident_id=incident.id, actor_id=actor.id, kind=kind, created_at=now, **fields)
    event.actor = actor
    db.session.add(event)
    db.session.flush()
    return event


def _edit(actor: User, incident: Incident, details: dict[str, Any], now: datetime) -> None:
    _authorize(actor, Action.EDIT, incident)
    clean = validate_details(details)
    changes = {}
    for field, new in clean.items():
        old = getattr(incident, field)
        if old != new:
            changes[field] = [getattr(old, "value", old), getattr(new, "value", new)]
            setattr(incident, field, new)
    priority = priority_of(incident.severity, incident.urgency)
    if priority != incident.priority:
        changes["priority"] = [incident.priority.value, priority.value]
        incident.priority = priority
        sla.adopt_policy(incident)
    if changes:
        incident.updated_at = now
        record_event(incident, actor, EventKind.EDITED, now, changes=changes)


def _assign(actor: User, incident: Incident, technician_id: int | None, now: datetime, *,
            note: str | None = None) -> None:
    taking = actor.role == Role.TECHNICIAN and technician_id == actor.id
    _authorize(actor, Action.TAKE if taking else Action.ASSIGN, incident)
    technician = db.session.get(User, technician_id) if isinstance(technician_id, int) else None
    if not can_hold_incidents(technician):
        raise InvalidInput.field("technician_id", "Must be the id of an active technician.")
    if technician.id == incident.technician_id:
        return
    previous = incident.technician
    from_status = incident.status
    incident.technician_id = technician.id
    incident.technician = technician
    incident.status = Status.ASSIGNED
    incident.assigned_at = now
    incident.updated_at = now
    event = record_event(incident, actor, EventKind.ASSIGNED, now, from_status=from_status,
                         to_status=Status.ASSIGNED, body=note,
                         changes={"technician": [previous.username if previous else None, technician.username]})
    watchers.add_automatically(incident, technician)
    notifications.incident_assigned(incident, event, previous_technician=previous)


def _unassign(actor: User, incident: Incident, now: datetime, *, note: str) -> None:
    """Back to `open`, without a technician: the incident returns to triage."""
    _authorize(actor, Action.ASSIGN, incident)
    from_status = incident.status
    previous = _drop_technician(incident)
    incident.status = Status.OPEN
    incident.updated_at = now
    event = record_event(incident, actor, EventKind.STATUS_CHANGED, now, from_status=from_status,
                         to_status=Status.OPEN, changes={"technician": [previous.username, None]}, body=note)
    notifications.incident_unassigned(incident, event, previous_technician=previous)


def _drop_technician(incident: Incident) -> User:
    """Clear the incident's technician; returns who it was."""
    previous = incident.technician
    incident.technician_id = None
    incident.technician = None
    incident.assigned_at = None
    return previous


_EVENT_FOR_MOVE = {
    Action.START: EventKind.STATUS_CHANGED,
    Action.HOLD: EventKind.ON_HOLD,
    Action.RESUME: EventKind.RESUMED,
    Action.RESOLVE: EventKind.RESOLVED,
    Action.CLOSE: EventKind.CLOSED,
    Action.REOPEN: EventKind.REOPENED,
}


def _move(actor: User, incident: Incident, status: Status, now: datetime, *,
          resolution_notes: str | None = None, reason: str | None = None, move: Action | None = None) -> None:
    action = move or _action_for(status, incident)
    _authorize(actor, action, incident)
    from_status = incident.status
    to_status = target_status(action, incident)
    body = changes = None
    if action == Action.RESOLVE:
        incident.resolution_notes = validate_note(resolution_notes, field="resolution_notes")
        incident.resolved_at = now
        body = incident.resolution_notes
    elif action == Action.HOLD:
        body = validate_note(reason, field="reason")
    elif action == Action.CLOSE:
        incident.closed_at = now
    elif action == Action.REOPEN:
        body = validate_note(reason, field="reason")
        incident.resolved_at = None
        incident.closed_at = None
        if to_status == Status.OPEN and incident.technician is not None:
            changes = {"technician": [_drop_technician(incident).username, None]}
    incident.status = to_status
    incident.updated_at = now
    event = record_event(incident, actor, _EVENT_FOR_MOVE[action], now, from_status=from_status,
                         to_status=to_status, body=body, changes=changes)
    notifications.status_changed(incident, event)


def _action_for(status: Status, incident: Incident) -> Action:
    """The move a requested status names; `assigned` is reached by assigning, not by asking."""
    action = move_for(status, incident)
    if action is None:
        raise TransitionNotAllowed(
            f"{incident.reference} reaches '{status.value}' by assigning a technician, not by a status change."
        )
    return action


def technicians() -> list[User]:
    """Active technicians, the people an incident may be assigned to."""
    return list(db.session.scalars(
        select(User).where(User.role == Role.TECHNICIAN, User.active.is_(True)).order_by(User.name)
    ))
