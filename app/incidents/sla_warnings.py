"""SLA warnings (SPEC "Priority and SLA"): at 80 % of a clock and at its breach, once each per
clock, a timeline event (`sla_warning`, `sla_breached`) and mail through the outbox.

`check(now)` is one pass, run by the background loop that delivers the outbox (every
SLA_CHECK_SECONDS) and by `flask sla check`. It visits the incidents whose `sla_next_check_at`
has come (an index walk) and settles each in a write transaction of its own:

- Under the write lock the incident is re-read and its clocks refreshed from its timeline, then
  what is due is decided from its instants and `sla_notices`, the bitmask of the notices its
  timeline already holds. A second process checking at the same moment waits for the lock, then
  finds those notices there: each is written once however many processes check, and a restart
  starts from the timeline itself (a hand-edited column cannot make a notice repeat).
- A breach that is due before its warning was given (the check ran late) is written alone: the
  warning would only say what the breach says.
- `sla.refresh` then derives `sla_notices` and `sla_next_check_at` from the timeline, so the bits
  are never written two ways and `flask sla recompute --check` agrees with them.
"""
import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, or_, select

from app.database import lock_for_update, write_transaction
from app.exceptions import Unavailable
from app.extensions import db
from app.incidents import clocks, notifications, sla
from app.incidents.clocks import Phase
from app.incidents.enums import Clock, EventKind
from app.models import Incident, IncidentEvent

log = logging.getLogger(__name__)

BATCH = 200  # incidents read per index step; each is settled in its own short transaction


@dataclass(frozen=True)
class Notice:
    """One warning or breach due on one clock of an incident."""

    clock: Clock
    kind: EventKind
    due_at: datetime  # the clock's due instant (a warning says how long is left until it)
    fell_due_at: datetime  # when this notice became due: the 80 % instant, or the due instant


@dataclass
class CheckResult:
    """What one pass wrote, and the incidents it could not settle (left for the next pass).

    `visited` counts the incidents found due, `warnings` and `breaches` the notices written: an
    incident another process settled first is visited and gets nothing."""

    visited: int = 0
    warnings: int = 0
    breaches: int = 0
    failed: list[int] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.warnings + self.breaches


def check(now: datetime) -> CheckResult:
    """Give every warning and breach due at `now` that is not yet on its incident's timeline.

    An incident that fails (a bad SLA setting, a bug) is logged and skipped, so one cannot hold
    back the warnings of the others; a busy database (Unavailable) ends the pass, to be retried."""
    result = CheckResult()
    after: tuple[datetime, int] | None = None
    while batch := _due_batch(now, after):
        for incident_id, next_check_at in batch:
            after = (next_check_at, incident_id)
            result.visited += 1
            try:
                notices = settle(incident_id=incident_id, now=now)
            except Unavailable:
                raise
            except Exception:
                result.failed.append(incident_id)
                log.exception("SLA check of incident %s failed; it is retried at the next pass", incident_id)
                continue
            for notice in notices:
                if notice.kind == EventKind.SLA_BREACHED:
                    result.breaches += 1
                else:
                    result.warnings += 1
    return result


def _due_batch(now: datetime, after: tuple[datetime, int] | None) -> list[tuple[int, datetime]]:
    """The next incidents, in (sla_next_check_at, id) order, whose next check has come.

    A keyset walk over ix_incidents_sla_next_check: a settled incident leaves the range (its next
    instant lies after `now`, or it has none), and one that failed is passed over, not retried
    until the pass ends."""
    db.session.rollback()  # a fresh snapshot: see what other processes have settled meanwhile
    query = select(Incident.id, Incident.sla_next_check_at).where(Incident.sla_next_check_at <= now)
    if after is not None:
        at, incident_id = after
        query = query.where(or_(Incident.sla_next_check_at > at,
                                and_(Incident.sla_next_check_at == at, Incident.id > incident_id)))
    rows = db.session.execute(query.order_by(Incident.sla_next_check_at, Incident.id).limit(BATCH))
    return [(incident_id, at) for incident_id, at in rows]


def settle(*, incident_id: int, now: datetime) -> list[Notice]:
    """Write the notices of one incident due at `now` (events, mail, the refreshed clocks); one
    transaction. Returns what it wrote: nothing when another process was first."""
    with write_transaction():
        incident = db.session.get(Incident, incident_id)
        if incident is None:
            return []
        lock_for_update(incident)
        sla.refresh(incident)  # the bits as the timeline has them, whatever the columns said
        notices = due_notices(incident, now)
        for notice in notices:
            _announce(incident, notice, now)
        if notices:
            sla.refresh(incident)
    return notices


def due_notices(incident: Incident, now: datetime) -> list[Notice]:
    """The notices due at `now` that the incident's timeline does not hold yet (from its stored
    clocks and `sla_notices`; the same rule as `clocks.derive`'s next check instant)."""
    phase = sla.phase_of(incident)
    due = []
    if incident.responded_at is None and phase != Phase.STOPPED:
        due += _due_on(Clock.RESPONSE, incident.sla_notices, incident.response_warn_at,
                       incident.response_due_at, now)
    if phase == Phase.RUNNING:
        due += _due_on(Clock.RESOLVE, incident.sla_notices, incident.resolve_warn_at,
                       incident.resolve_due_at, now)
    return due


def _due_on(clock: Clock, notices: int, warn_at: datetime, due_at: datetime, now: datetime) -> list[Notice]:
    if notices & clocks.bit(clock, EventKind.SLA_BREACHED):
        return []
    if due_at <= now:  # breached: announced once, covering a warning the check was too late for
        return [Notice(clock, EventKind.SLA_BREACHED, due_at, due_at)]
    if warn_at <= now and not notices & clocks.bit(clock, EventKind.SLA_WARNING):
        return [Notice(clock, EventKind.SLA_WARNING, due_at, warn_at)]
    return []


def _announce(incident: Incident, notice: Notice, now: datetime) -> None:
    """The timeline event (the portal's own: no actor) and the mail.

    A notice that fell due more than SLA_NOTICE_MAX_DELAY_SECONDS ago goes on the timeline only:
    the first check after an upgrade (migration 0008 derives clocks for every old incident) or a
    bulk import would otherwise mail every admin once per long-overdue incident."""
    mailed = (now - notice.fell_due_at).total_seconds() <= current_app.config["SLA_NOTICE_MAX_DELAY_SECONDS"]
    changes = {"clock": notice.clock.value, "due_at": notice.due_at.isoformat()}
    if not mailed:
        changes["mailed"] = False
    db.session.add(IncidentEvent(incident_id=incident.id, actor_id=None, kind=notice.kind, created_at=now,
                                 changes=changes))
    if not mailed:
        return
    seconds_left = sla.view(incident, now)[notice.clock.value]["remaining_seconds"]
    mail = notifications.sla_breached if notice.kind == EventKind.SLA_BREACHED else notifications.sla_warning
    mail(incident, clock=notice.clock, due_at=notice.due_at, seconds_left=seconds_left)
