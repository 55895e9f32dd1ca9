"""The SLA clocks of one incident, derived from its timeline (SPEC "Priority and SLA").

Pure: a list of timeline moments, the incident's targets and a calendar in, the figures the
incident stores out. The service stores `derive()`'s answer after every change of the timeline,
`flask sla recompute` and the migration call the same function, so the stored figures and the
recomputed ones cannot be written two ways.

- *Response* runs from `created_at` until the first assignment or the first comment by staff.
- *Resolve* runs from `created_at`, stops while on hold and when resolved, and runs again on
  resume and reopen: one clock over the incident's whole life, counted in the policy's calendar.
- A clock's due instant is the moment its counted time reaches the target; its warning instant
  the moment it reaches 80 % (`WARN_FRACTION`). A clock is breached once its counted time reaches
  the target, so a stopped clock is met only if it stopped strictly before its due instant.
"""
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from app.incidents.calendar import Calendar
from app.incidents.enums import Clock, ClockState, EventKind, SlaCalendar, Status

WARN_FRACTION = 0.8

# sla_notices: one bit per warning already on the timeline, so each is written once.
NOTICE_BITS = {
    (Clock.RESPONSE, EventKind.SLA_WARNING): 1,
    (Clock.RESPONSE, EventKind.SLA_BREACHED): 2,
    (Clock.RESOLVE, EventKind.SLA_WARNING): 4,
    (Clock.RESOLVE, EventKind.SLA_BREACHED): 8,
}


class Phase(Enum):
    """Where the resolve clock stands after the last moment of the timeline."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


# The resolve clock follows the status each timeline entry moved the incident to: paused on hold,
# stopped once resolved or closed, running in every other status (so a reassignment out of a hold,
# a resume, a reporter's comment that resumes, a reopen all start it again).
PHASE_OF_STATUS = {Status.ON_HOLD: Phase.PAUSED, Status.RESOLVED: Phase.STOPPED, Status.CLOSED: Phase.STOPPED}


def phase_of(status: Status) -> Phase:
    return PHASE_OF_STATUS.get(Status(status), Phase.RUNNING)


@dataclass(frozen=True)
class Targets:
    """The SLA policy an incident holds (copied from its priority's policy when it got it)."""

    calendar: SlaCalendar
    response_minutes: int
    resolve_minutes: int


@dataclass(frozen=True)
class Moment:
    """What the clocks need of one timeline event."""

    kind: EventKind
    at: datetime
    by_staff: bool = False
    clock: Clock | None = None  # which clock an sla_warning / sla_breached event is about
    to_status: Status | None = None  # the status the event moved the incident to, if it moved it


@dataclass(frozen=True)
class Clocks:
    """The SLA figures an incident stores (columns of the same names)."""

    responded_at: datetime | None
    response_due_at: datetime
    response_warn_at: datetime
    resolve_due_at: datetime | None  # None while on hold
    resolve_warn_at: datetime | None  # None while on hold
    resolve_spent_seconds: int  # counted seconds up to the start of the running stretch, or in all when stopped
    sla_notices: int
    sla_next_check_at: datetime | None  # the next warning or breach still to announce; None when none
    phase: Phase  # not stored: the incident's status says it

    def stored(self) -> dict:
        """The figures as the incident's column values."""
        return {name: getattr(self, name) for name in STORED}


STORED = ("responded_at", "response_due_at", "response_warn_at", "resolve_due_at", "resolve_warn_at",
          "resolve_spent_seconds", "sla_notices", "sla_next_check_at")


def bit(clock: Clock, kind: EventKind) -> int:
    return NOTICE_BITS[clock, kind]


def derive(*, created_at: datetime, moments: Iterable[Moment], targets: Targets, calendar: Calendar) -> Clocks:
    """The incident's clocks from its timeline (moments in timeline order)."""
    responded_at = None
    notices = 0
    phase = Phase.RUNNING
    stretches: list[tuple[datetime, datetime | None]] = []  # the resolve clock's running stretches
    running_since: datetime | None = created_at
    for moment in moments:
        if responded_at is None and _responds(moment):
            responded_at = moment.at
        if moment.kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED) and moment.clock is not None:
            notices |= bit(moment.clock, moment.kind)
            if moment.kind == EventKind.SLA_BREACHED:  # a breach supersedes a warning not yet given
                notices |= bit(moment.clock, EventKind.SLA_WARNING)
        if moment.to_status is None:
            continue
        after = phase_of(moment.to_status)
        if phase == Phase.RUNNING and after != Phase.RUNNING:
            stretches.append((running_since, moment.at))
            running_since = None
        elif phase != Phase.RUNNING and after == Phase.RUNNING:
            running_since = moment.at
        phase = after
    if phase == Phase.RUNNING:
        stretches.append((running_since, None))

    response_target = targets.response_minutes * 60
    resolve_target = targets.resolve_minutes * 60
    response_due = calendar.add(created_at, response_target)
    response_warn = calendar.add(created_at, warn_seconds(response_target))
    resolve_due = resolve_warn = None
    if phase != Phase.PAUSED:
        resolve_due = _reaches(stretches, resolve_target, calendar)
        resolve_warn = _reaches(stretches, warn_seconds(resolve_target), calendar)
    spent = sum(calendar.seconds_between(start, end) for start, end in stretches if end is not None)

    pending = []
    if responded_at is None and phase != Phase.STOPPED:
        pending += _pending(Clock.RESPONSE, notices, response_warn, response_due)
    if phase == Phase.RUNNING:
        pending += _pending(Clock.RESOLVE, notices, resolve_warn, resolve_due)
    return Clocks(
        responded_at=responded_at, response_due_at=response_due, response_warn_at=response_warn,
        resolve_due_at=resolve_due, resolve_warn_at=resolve_warn, resolve_spent_seconds=spent,
        sla_notices=notices, sla_next_check_at=min(pending, default=None), phase=phase,
    )


def warn_seconds(target_seconds: int) -> int:
    return math.ceil(target_seconds * WARN_FRACTION)


def _responds(moment: Moment) -> bool:
    """The first assignment, or the first comment by a technician or an admin, answers the incident."""
    return moment.kind == EventKind.ASSIGNED or (moment.kind == EventKind.COMMENTED and moment.by_staff)


def _reaches(stretches: list[tuple[datetime, datetime | None]], target: int, calendar: Calendar) -> datetime:
    """The instant the clock's counted time reaches `target` seconds: inside the stretch where it
    did, or projected from the last stretch as if it had kept running (a met clock's due time)."""
    spent = 0
    for start, end in stretches:
        counted = None if end is None else calendar.seconds_between(start, end)
        if counted is None or spent + counted >= target:
            return calendar.add(start, target - spent)
        spent += counted
    start, end = stretches[-1]
    before = spent - calendar.seconds_between(start, end)
    return calendar.add(start, target - before)


def _pending(clock: Clock, notices: int, warn_at: datetime, due_at: datetime) -> list[datetime]:
    if notices & bit(clock, EventKind.SLA_BREACHED):
        return []
    if notices & bit(clock, EventKind.SLA_WARNING):
        return [due_at]
    return [warn_at, due_at]


def response_state(*, responded_at: datetime | None, due_at: datetime, now: datetime) -> ClockState:
    if responded_at is not None:
        return ClockState.MET if responded_at < due_at else ClockState.BREACHED
    return ClockState.BREACHED if now >= due_at else ClockState.RUNNING


def resolve_state(*, phase: Phase, due_at: datetime | None, spent_seconds: int, target_seconds: int,
                  now: datetime) -> ClockState:
    if phase == Phase.RUNNING:
        return ClockState.BREACHED if now >= due_at else ClockState.RUNNING
    if spent_seconds >= target_seconds:
        return ClockState.BREACHED
    return ClockState.PAUSED if phase == Phase.PAUSED else ClockState.MET
