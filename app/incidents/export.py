"""CSV out of the portal: the incident export and the one cell rule every CSV follows.

- `safe_cell` is the CSV-injection guard (OWASP "CSV Injection"): a spreadsheet runs a cell that
  starts with `=`, `+`, `-` or `@` as a formula (tab and CR can hide one), so such a cell gets a
  leading `'`, which spreadsheets read as "text". Every CSV the portal writes goes through
  `csv_chunks`, which applies it to every cell.
- `incident_rows` reads the incidents a list filter matches in windows of ids, so an export of a
  million rows holds one window in memory at a time, and every window is one seek along the
  primary key (a window by id range, not "the next N matches": with a filter on, SQLite's planner
  would pick the filter's index and sort all the remaining matches again for every batch).
"""
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.incidents import clocks, queries
from app.incidents.references import reference
from app.models import Incident, User, utcnow

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(FORMULA_STARTS)
ROWS_PER_CHUNK = 500
ID_WINDOW = 5_000

INCIDENT_COLUMNS = ("id", "reference", "title", "status", "severity", "urgency", "priority", "category",
                    "reporter", "technician", "created_at", "responded_at", "resolved_at", "closed_at",
                    "response_due_at", "resolve_due_at", "response_state", "resolve_state")


def text_of(value: Any) -> str:
    """A value as a CSV cell shows it: times in UTC ISO 8601 with `Z` (as the API writes them),
    enums by value, None as empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.isoformat(timespec="seconds")[:19] + "Z"  # isoformat: a third of strftime's time
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def safe_cell(value: Any) -> str:
    """The cell's text, with a `'` in front when a spreadsheet would read it as a formula."""
    text = value if type(value) is str else text_of(value)
    return "'" + text if text[:1] in _FORMULA_FIRST else text


def csv_chunks(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> Iterator[bytes]:
    """UTF-8 CSV (RFC 4180, CRLF line ends), a header row first, every cell through `safe_cell`,
    yielded a few hundred rows at a time: memory stays flat however many rows come."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(name) for name in header])
    for count, row in enumerate(rows, 1):
        writer.writerow([safe_cell(value) for value in row])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def incident_rows(*, actor: User, filters: queries.IncidentFilters,
                  now: datetime | None = None) -> Iterator[tuple]:
    """The incidents `actor` may see that match the list's `filters`, by id, as INCIDENT_COLUMNS.

    The states are the clocks' at `now` (one instant for the whole export). Incidents created
    after the export started are not in it: it stops at the highest id it saw first."""
    now = now or utcnow()
    if filters.sla and filters.now is None:
        filters = replace(filters, now=now)
    reporter, technician = aliased(User), aliased(User)
    columns = (Incident.id, Incident.title, Incident.status, Incident.severity, Incident.urgency,
               Incident.priority, Incident.category, reporter.username.label("reporter"),
               technician.username.label("technician"), Incident.created_at,
               Incident.responded_at, Incident.resolved_at, Incident.closed_at, Incident.response_due_at,
               Incident.resolve_due_at, Incident.resolve_spent_seconds, Incident.resolve_target_minutes)
    matching = (queries.matching(actor, filters).with_only_columns(*columns)
                .join(reporter, reporter.id == Incident.reporter_id)
                .outerjoin(technician, technician.id == Incident.technician_id))
    last_id = db.session.scalar(select(func.max(Incident.id))) or 0
    after = 0
    while after < last_id:
        window = matching.where(Incident.id > after, Incident.id <= after + ID_WINDOW).order_by(Incident.id)
        # Core rows, unpacked by position: the ORM's per-row work would be most of an export's time.
        for row in db.session.connection().execute(window):
            yield _incident_row(*row, now=now)
        after += ID_WINDOW


def _incident_row(incident_id, title, status, severity, urgency, priority, category, reporter_name,
                  technician_name, created_at, responded_at, resolved_at, closed_at, response_due_at,
                  resolve_due_at, spent_seconds, target_minutes, *, now: datetime) -> tuple:
    response = clocks.response_state(responded_at=responded_at, due_at=response_due_at, now=now)
    resolve = clocks.resolve_state(phase=clocks.phase_of(status), due_at=resolve_due_at, spent_seconds=spent_seconds,
                                   target_seconds=target_minutes * 60, now=now)
    return (str(incident_id), reference(incident_id), title, status.value, severity.value, urgency.value,
            priority.value, category.value, reporter_name, technician_name, text_of(created_at),
            text_of(responded_at), text_of(resolved_at), text_of(closed_at), text_of(response_due_at),
            text_of(resolve_due_at), response.value, resolve.value)
