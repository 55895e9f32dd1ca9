"""SLA policies and the clocks an incident shows (SPEC "Priority and SLA").

- Policies: one per priority, the defaults below until an admin changes one. An incident copies
  its priority's policy when it gets that priority (`adopt_policy`), so a change applies from then on.
- Clocks: `refresh` stores what `app.incidents.clocks.derive` makes of the incident's timeline;
  the service calls it after every change, in the same transaction. `view` is the `sla` object
  the API and the UI show; `standing` is the list's `sla` filter as SQL, over the same columns.

The calendar arithmetic is `app.incidents.calendar`; the warnings are `app.incidents.sla_warnings`.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import and_, not_, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.roles import Role
from app.database import write_transaction
from app.exceptions import InvalidInput, PermissionDenied
from app.extensions import db
from app.incidents import clocks
from app.incidents.calendar import Calendar, calendar_for
from app.incidents.clocks import Moment, Phase, Targets
from app.incidents.enums import Clock, EventKind, Priority, SlaCalendar, SlaStanding, Status
from app.incidents.lifecycle import STAFF
from app.models import Incident, IncidentEvent, SlaPolicy, User, utcnow

DEFAULT_POLICIES: dict[Priority, Targets] = {
    Priority.P1: Targets(SlaCalendar.ALWAYS, 15, 240),
    Priority.P2: Targets(SlaCalendar.ALWAYS, 60, 480),
    Priority.P3: Targets(SlaCalendar.BUSINESS, 240, 1440),
    Priority.P4: Targets(SlaCalendar.BUSINESS, 480, 2400),
}
MINUTES_MAX = 525_600  # a year: a longer target is a typo, and keeps every due time in range

RUNNING_STATUSES = tuple(status for status in Status if clocks.phase_of(status) == Phase.RUNNING)


# ---- policies -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    priority: Priority
    targets: Targets
    updated_at: datetime | None
    updated_by: str | None  # username; None for a default never changed


def policies() -> list[Policy]:
    """The four policies, P1 first: the stored ones, the defaults for any never stored (one query)."""
    rows = {row.priority: (row, username) for row, username in db.session.execute(
        select(SlaPolicy, User.username).outerjoin(User, User.id == SlaPolicy.updated_by_id))}
    return [_policy(priority, *rows.get(priority, (None, None))) for priority in Priority]


def policy(priority: Priority) -> Policy:
    return next(found for found in policies() if found.priority == priority)


def update_policy(*, actor: User, priority: Priority, response_minutes: Any, resolve_minutes: Any,
                  calendar: Any) -> Policy:
    """Change one priority's targets (admins only); incidents that get this priority from now on hold them."""
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins may change SLA policies.")
    targets = validate_targets(response_minutes=response_minutes, resolve_minutes=resolve_minutes,
                               calendar=calendar)
    with write_transaction():
        row = db.session.get(SlaPolicy, priority) or SlaPolicy(priority=priority)
        row.response_minutes = targets.response_minutes
        row.resolve_minutes = targets.resolve_minutes
        row.calendar = targets.calendar
        row.updated_at = utcnow()
        row.updated_by_id = actor.id
        db.session.add(row)
    return policy(priority)


def validate_targets(*, response_minutes: Any, resolve_minutes: Any, calendar: Any) -> Targets:
    """Whole minutes from 1 to a year, response no later than resolve, a known calendar; else InvalidInput."""
    errors: dict[str, list[str]] = {}
    minutes = {}
    for name, value in (("response_minutes", response_minutes), ("resolve_minutes", resolve_minutes)):
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = ["Must be a whole number of minutes."]
        elif not 1 <= value <= MINUTES_MAX:
            errors[name] = [f"Must be between 1 and {MINUTES_MAX} minutes."]
        else:
            minutes[name] = value
    try:
        kind = SlaCalendar(str(calendar).strip().lower())
    except ValueError:
        errors["calendar"] = [f"Must be one of: {', '.join(c.value for c in SlaCalendar)}."]
    if len(minutes) == 2 and minutes["response_minutes"] > minutes["resolve_minutes"]:
        errors["response_minutes"] = ["Must not be more than resolve_minutes."]
    if errors:
        raise InvalidInput(errors)
    return Targets(kind, minutes["response_minutes"], minutes["resolve_minutes"])


def _policy(priority: Priority, row: SlaPolicy | None, updated_by: str | None) -> Policy:
    if row is None:
        return Policy(priority, DEFAULT_POLICIES[priority], None, None)
    return Policy(priority, Targets(row.calendar, row.response_minutes, row.resolve_minutes), row.updated_at,
                  updated_by)


# ---- an incident's clocks -------------------------------------------------------------------

def adopt_policy(incident: Incident) -> None:
    """Give the incident its priority's current targets (on create, and when its priority changes)."""
    targets = policy(incident.priority).targets
    incident.sla_calendar = targets.calendar
    incident.response_target_minutes = targets.response_minutes
    incident.resolve_target_minutes = targets.resolve_minutes


def targets_of(incident: Incident) -> Targets:
    return Targets(incident.sla_calendar, incident.response_target_minutes, incident.resolve_target_minutes)


def calendar_of(kind: SlaCalendar) -> Calendar:
    return calendar_for(SlaCalendar(kind).value, current_app.config)


def start(incident: Incident) -> None:
    """A new incident's targets and clocks, before it is first written (its timeline is its creation)."""
    adopt_policy(incident)
    for name, value in derive(incident, [Moment(EventKind.CREATED, incident.created_at)]).stored().items():
        setattr(incident, name, value)


def refresh(incident: Incident) -> clocks.Clocks:
    """Store the clocks the incident's timeline gives, inside the caller's transaction.

    Written past the ORM's versioning: the clocks follow the timeline, they are not an edit, so
    (like a comment) they leave the incident's version, and the ETag a client holds, as it was."""
    db.session.flush()
    derived = derive(incident, moments_of([incident.id])[incident.id])
    store(incident, derived)
    return derived


def store(incident: Incident, derived: clocks.Clocks) -> None:
    changed = {name: value for name, value in derived.stored().items() if getattr(incident, name) != value}
    if not changed:
        return
    table = Incident.__table__
    db.session.execute(update(table).where(table.c.id == incident.id).values(**changed))
    for name, value in changed.items():
        set_committed_value(incident, name, value)


def derive(incident: Incident, moments: list[Moment]) -> clocks.Clocks:
    return clocks.derive(created_at=incident.created_at, moments=moments, targets=targets_of(incident),
                         calendar=calendar_of(incident.sla_calendar))


def moments_of(incident_ids: list[int]) -> dict[int, list[Moment]]:
    """The timeline of each incident as the clocks read it, in timeline order (one query). Internal
    notes are not there: a note the reporter cannot see is no response to them."""
    rows = db.session.execute(
        select(IncidentEvent.incident_id, IncidentEvent.kind, IncidentEvent.created_at, IncidentEvent.changes,
               IncidentEvent.to_status, User.role)
        .outerjoin(User, User.id == IncidentEvent.actor_id)
        .where(IncidentEvent.incident_id.in_(incident_ids), IncidentEvent.internal.is_(False))
        .order_by(IncidentEvent.incident_id, IncidentEvent.id)
    )
    timelines: dict[int, list[Moment]] = {incident_id: [] for incident_id in incident_ids}
    for incident_id, kind, at, changes, to_status, role in rows:
        clock = (changes or {}).get("clock") if kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED) else None
        timelines[incident_id].append(Moment(kind=kind, at=at, by_staff=role in STAFF,
                                             clock=Clock(clock) if clock else None, to_status=to_status))
    return timelines


def phase_of(incident: Incident) -> Phase:
    return clocks.phase_of(incident.status)


def view(incident: Incident, now: datetime | None = None) -> dict:
    """The `sla` object: each clock's due time, state and counted seconds left (negative once
    overdue; null once the clock has stopped), and whether the resolve clock is paused."""
    now = now or utcnow()
    calendar = calendar_of(incident.sla_calendar)
    phase = phase_of(incident)
    response_state = clocks.response_state(responded_at=incident.responded_at, due_at=incident.response_due_at,
                                           now=now)
    resolve_state = clocks.resolve_state(phase=phase, due_at=incident.resolve_due_at,
                                         spent_seconds=incident.resolve_spent_seconds,
                                         target_seconds=incident.resolve_target_minutes * 60, now=now)
    response_left = None
    if incident.responded_at is None and phase != Phase.STOPPED:
        response_left = _left(calendar, now, incident.response_due_at)
    resolve_left = None
    if phase == Phase.RUNNING:
        resolve_left = _left(calendar, now, incident.resolve_due_at)
    elif phase == Phase.PAUSED:
        resolve_left = incident.resolve_target_minutes * 60 - incident.resolve_spent_seconds
    return {
        Clock.RESPONSE.value: {"due_at": incident.response_due_at, "state": response_state.value,
                               "remaining_seconds": response_left},
        Clock.RESOLVE.value: {"due_at": incident.resolve_due_at, "state": resolve_state.value,
                              "remaining_seconds": resolve_left},
        "paused": phase == Phase.PAUSED,
    }


def _left(calendar: Calendar, now: datetime, due_at: datetime) -> int:
    if now < due_at:
        return calendar.seconds_between(now, due_at)
    return -calendar.seconds_between(due_at, now)


# ---- the list's `sla` filter, as SQL over the same columns ----------------------------------

def standing(value: SlaStanding, now: datetime):
    """A WHERE clause: incidents breached / at risk (a running clock past 80 %) / ok, at `now`."""
    breached = or_(_response_breached(now), _resolve_breached(now))
    if value == SlaStanding.BREACHED:
        return breached
    if value == SlaStanding.AT_RISK:
        # Only open work can be at risk: said outright, the status index narrows the rows first
        # (implied by _at_risk, but the planner cannot see that; half the time at 200,000).
        return and_(Incident.status.in_(RUNNING_STATUSES + (Status.ON_HOLD,)), not_(breached), _at_risk(now))
    return and_(not_(breached), not_(_at_risk(now)))


# Every comparison is guarded against NULL: `NOT (NULL)` is NULL, which would drop the row from
# `ok` as well as from `breached`.
def _response_breached(now: datetime):
    return or_(and_(Incident.responded_at.is_(None), Incident.response_due_at <= now),
               and_(Incident.responded_at.is_not(None), Incident.responded_at >= Incident.response_due_at))


def _resolve_breached(now: datetime):
    return or_(
        and_(Incident.status.in_(RUNNING_STATUSES), Incident.resolve_due_at.is_not(None),
             Incident.resolve_due_at <= now),
        and_(Incident.status.not_in(RUNNING_STATUSES),
             Incident.resolve_spent_seconds >= Incident.resolve_target_minutes * 60),
    )


def _at_risk(now: datetime):
    # 80 % of a target in minutes is target * 48 seconds, a whole number: no rounding in SQL.
    return or_(
        and_(Incident.responded_at.is_(None), Incident.status.in_(RUNNING_STATUSES + (Status.ON_HOLD,)),
             Incident.response_warn_at <= now),
        and_(Incident.status.in_(RUNNING_STATUSES), Incident.resolve_warn_at.is_not(None),
             Incident.resolve_warn_at <= now),
        and_(Incident.status == Status.ON_HOLD,
             Incident.resolve_spent_seconds >= Incident.resolve_target_minutes * 48),
    )
