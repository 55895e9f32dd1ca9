"""`flask sla recompute [--check]`: every incident's stored SLA figures against what its timeline
gives (SPEC "Priority and SLA": "a command rebuilds them from events and --check exits non-zero on
any drift").

The walk goes by id in batches: one query for the batch's stored figures, one for its timelines
(`sla.moments_of`), then `sla.derive` for each, the same function the service stores after every
change. Reading takes no lock. Only the incidents that drifted are read again inside a write
transaction and fixed there (`sla.store`, which leaves the incidents' versions alone), so a clean
database is checked without ever holding up a writer, and a fix is decided on current data.
"""
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from app.database import write_transaction
from app.extensions import db
from app.incidents import clocks, sla
from app.incidents.clocks import Clocks
from app.models import Incident

BATCH = 1000
FIX_CHUNK = 200  # incidents fixed per write transaction
KEEP = 20  # drifted incidents kept for the report; the count covers them all

_COLUMNS = (Incident.id, Incident.created_at, Incident.sla_calendar, Incident.response_target_minutes,
            Incident.resolve_target_minutes, *(getattr(Incident, name) for name in clocks.STORED))


@dataclass(frozen=True)
class Drift:
    """One incident whose stored figures differ from its timeline's: field -> (stored, derived)."""

    incident_id: int
    fields: dict[str, tuple[Any, Any]]


@dataclass
class RecomputeResult:
    checked: int = 0
    drifted: int = 0
    fixed: int = 0
    examples: list[Drift] = field(default_factory=list)  # the first KEEP drifted incidents


def recompute(*, check_only: bool, batch: int = BATCH) -> RecomputeResult:
    """Compare every incident's SLA columns with its timeline; unless `check_only`, store the fix."""
    result = RecomputeResult()
    after = 0
    while True:
        db.session.rollback()  # each batch is read from one fresh snapshot
        rows = _batch(after, batch)
        if not rows:
            return result
        after = rows[-1].id
        result.checked += len(rows)
        drifts = _drifts(rows)
        result.drifted += len(drifts)
        result.examples.extend(drifts[:KEEP - len(result.examples)])
        if drifts and not check_only:
            result.fixed += _fix([drift.incident_id for drift in drifts])


def _batch(after: int, size: int) -> list:
    return list(db.session.execute(
        select(*_COLUMNS).where(Incident.id > after).order_by(Incident.id).limit(size)
    ))


def _drifts(rows: list) -> list[Drift]:
    timelines = sla.moments_of([row.id for row in rows])
    drifts = []
    for row in rows:
        changed = _differences(row, sla.derive(row, timelines[row.id]))
        if changed:
            drifts.append(Drift(row.id, changed))
    return drifts


def _differences(stored: Any, derived: Clocks) -> dict[str, tuple[Any, Any]]:
    return {name: (getattr(stored, name), value) for name, value in derived.stored().items()
            if getattr(stored, name) != value}


def _fix(incident_ids: list[int]) -> int:
    """Store the derived figures of those incidents that still drift, under the write lock, a
    chunk per transaction (re-read there: a change committed since the check refreshed them
    itself). Chunks keep each hold of the lock short when a whole table drifts (a changed
    SLA_BUSINESS_HOURS moves every business-hours due time)."""
    fixed = 0
    for start in range(0, len(incident_ids), FIX_CHUNK):
        chunk = incident_ids[start:start + FIX_CHUNK]
        with write_transaction():
            incidents = db.session.scalars(
                select(Incident).options(lazyload("*")).where(Incident.id.in_(chunk)).order_by(Incident.id))
            timelines = sla.moments_of(chunk)
            for incident in incidents:
                derived = sla.derive(incident, timelines[incident.id])
                if _differences(incident, derived):
                    sla.store(incident, derived)
                    fixed += 1
    return fixed


def describe(value: Any) -> str:
    """A stored or derived figure as the report prints it."""
    if isinstance(value, datetime):
        return value.isoformat()
    return "null" if value is None else str(value)
