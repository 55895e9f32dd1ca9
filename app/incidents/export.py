"""CSV out of the portal: the incident export and the one cell rule every CSV follows.

- `safe_cell` is the CSV-injection guard (OWASP "CSV Injection"): a spreadsheet runs a cell that
  starts with `=`, `+`, `-` or `@` as a formula (tab and CR can hide one), so such a cell gets a
  leading `'`, which spreadsheets read as "text". Every CSV the portal writes goes through
  `csv_chunks`, which applies it to every cell, or is told the rows were guarded where they were
  made (the incident export, below).
- `incident_rows` reads the incidents a list filter matches in windows of ids, so an export of a
  million rows holds one window in memory at a time, and every window is one seek along the
  primary key (a window by id range, not "the next N matches": with a filter on, SQLite's planner
  would pick the filter's index and sort all the remaining matches again for every batch).
- The export reads its columns as the database stores them (`_stored`) and the usernames once
  instead of joining them into every row: turning every time into a datetime and every enum into
  a member, only to write them back out as text, was most of an export's time (issue 19 asks for
  100,000 rows/s; having SQLite cut the times into text was slower than `_time_cell`). Its rows are
  written ready for the CSV: the cells a person typed (title, usernames) through `safe_cell`, the
  rest the portal's own words, numbers and times, which never start like a formula.
- A row with no comma, quote or line break in a cell (nearly all of them) is written as the cells'
  plain join; the csv module writes the rest, and a property test holds the two to the same bytes.
"""
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from enum import Enum
from itertools import chain, islice
from typing import Any

from sqlalchemy import Integer, String, func, select, type_coerce
from sqlalchemy.engine import Dialect

from app.extensions import db
from app.incidents import clocks, queries
from app.incidents.enums import Severity, Status
from app.incidents.references import reference
from app.models import Incident, User, utcnow
from app.times import utc_text

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
        return utc_text(value)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def safe_cell(value: Any) -> str:
    """The cell's text, with a `'` in front when a spreadsheet would read it as a formula."""
    text = value if type(value) is str else text_of(value)
    return "'" + text if text[:1] in _FORMULA_FIRST else text


def csv_chunks(header: Sequence[str], rows: Iterable[Iterable[Any]], *, rows_guarded: bool = False) -> Iterator[bytes]:
    """UTF-8 CSV (RFC 4180, CRLF line ends), a header row first, every cell through `safe_cell`,
    yielded a few hundred rows at a time: memory stays flat however many rows come.

    `rows_guarded`: the rows' cells are text already, and the producer put every cell that could
    start like a formula through `safe_cell` itself (`incident_rows`); they are written as given."""
    scratch = io.StringIO()
    writer = csv.writer(scratch)
    lines = [_csv_line([safe_cell(name) for name in header], writer, scratch)]
    rows = iter(rows) if rows_guarded else ([safe_cell(value) for value in row] for row in rows)
    while chunk := list(islice(rows, ROWS_PER_CHUNK)):
        lines += [_csv_line(cells, writer, scratch) for cells in chunk]
        yield _crlf_text(lines)
        lines = []
    yield _crlf_text(lines)


def _csv_line(cells: Sequence[str], writer, scratch: io.StringIO) -> str:
    """One row as the csv module writes it (RFC 4180's minimal quoting), without its line end.
    A row with no comma, quote or line break in any cell is the cells' plain join (a fifth of
    `writerow`'s time: issue 19's export), unless it is one empty cell (written `""`); any other
    row goes through `writer`, which writes into `scratch`."""
    line = ",".join(cells)
    if (line.count(",") == len(cells) - 1 and '"' not in line and "\n" not in line and "\r" not in line
            and (line or len(cells) != 1)):
        return line
    scratch.seek(0)
    scratch.truncate()
    writer.writerow(cells)
    return scratch.getvalue()[:-2]


def _crlf_text(lines: list[str]) -> bytes:
    """`lines` as UTF-8, each ended by CRLF (the csv module's line end)."""
    lines.append("")
    return "\r\n".join(lines).encode("utf-8") if len(lines) > 1 else b""


def incident_csv(*, actor: User, filters: queries.IncidentFilters) -> Iterator[bytes]:
    """The incident export, INCIDENT_COLUMNS, as CSV chunks (what both blueprints serve)."""
    return csv_chunks(INCIDENT_COLUMNS, incident_rows(actor=actor, filters=filters), rows_guarded=True)


def incident_rows(*, actor: User, filters: queries.IncidentFilters,
                  now: datetime | None = None) -> Iterator[tuple[str, ...]]:
    """The incidents `actor` may see that match the list's `filters`, by id, as INCIDENT_COLUMNS,
    every cell text and guarded (`csv_chunks(..., rows_guarded=True)`).

    The states are the clocks' at `now` (one instant for the whole export). Incidents created
    after the export started are not in it: it stops at the highest id it saw first."""
    return chain.from_iterable(_windows(actor=actor, filters=filters, now=now or utcnow()))


def _windows(*, actor: User, filters: queries.IncidentFilters, now: datetime) -> Iterator[list[tuple[str, ...]]]:
    """The rows, a window of ids at a time (a generator: nothing is read before the first row is
    asked for)."""
    if filters.sla and filters.now is None:
        filters = replace(filters, now=now)
    times = (Incident.created_at, Incident.responded_at, Incident.resolved_at, Incident.closed_at,
             Incident.response_due_at, Incident.resolve_due_at)
    columns = (Incident.id, Incident.title, _stored(Incident.status), _stored(Incident.severity, Integer),
               _stored(Incident.urgency), _stored(Incident.priority), _stored(Incident.category),
               Incident.reporter_id, Incident.technician_id, *(_stored(column) for column in times),
               Incident.resolve_spent_seconds, Incident.resolve_target_minutes)
    matching = queries.matching(actor, filters).with_only_columns(*columns)
    last_id = db.session.scalar(select(func.max(Incident.id))) or 0
    stored_now = _stored_time(now, db.session.get_bind().dialect)
    names = _Usernames(db.session.execute(select(User.id, User.username)))
    after = 0
    while after < last_id:
        window = matching.where(Incident.id > after, Incident.id <= after + ID_WINDOW).order_by(Incident.id)
        yield [_incident_row(row, names, stored_now) for row in db.session.connection().execute(window).all()]
        after += ID_WINDOW


class _Usernames(dict):
    """User id -> the username's cell (guarded), None -> ''. Users are few beside incidents: their
    names are read once, not joined into every row; one made while the export runs (and given an
    incident it has yet to write) is read when first needed."""

    def __init__(self, rows: Iterable[tuple[int, str]]):
        super().__init__((user_id, safe_cell(username)) for user_id, username in rows)
        self[None] = ""

    def __missing__(self, user_id: int) -> str:
        cell = self[user_id] = safe_cell(db.session.scalar(select(User.username).where(User.id == user_id)))
        return cell


def _stored(column, as_type=String):
    """`column` as the database hands it back, without the model type's conversion of each value."""
    return type_coerce(column, as_type)


def _time_cell(value: Any) -> str:
    """A time read through `_stored`, written as `text_of` writes a time (UTC, seconds, `Z`)."""
    if value is None:
        return ""
    if type(value) is str:
        return f"{value[:10]}T{value[11:19]}Z"
    return utc_text(value)  # PostgreSQL's naive UTC


def _stored_time(moment: datetime, dialect: Dialect) -> Any:
    """`moment` in the form the database hands back a time column read through `_stored`: the
    text SQLite keeps ('YYYY-MM-DD HH:MM:SS.ffffff', which sorts as the instants do, and every
    writer pads the microseconds), a naive UTC datetime from PostgreSQL. Compared with each other,
    the stored forms order as the instants do, which is all the clocks' state rules ask of them."""
    bind = Incident.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    return bind(moment) if bind else moment


_SEVERITY_OF_RANK = {member.rank: member.value for member in Severity}
_PHASE_OF_STATUS = {member.value: clocks.phase_of(member) for member in Status}


def _incident_row(row: Sequence, names: dict, now: Any) -> tuple[str, ...]:
    """One incident's CSV cells from its `_windows` columns (a hot loop: positional, no keywords)."""
    (incident_id, title, status, severity_rank, urgency, priority, category, reporter_id, technician_id,
     created_at, responded_at, resolved_at, closed_at, response_due_at, resolve_due_at, spent_seconds,
     target_minutes) = row
    response = clocks.response_state(responded_at=responded_at, due_at=response_due_at, now=now)
    resolve = clocks.resolve_state(phase=_PHASE_OF_STATUS[status], due_at=resolve_due_at,
                                   spent_seconds=spent_seconds, target_seconds=target_minutes * 60, now=now)
    return (str(incident_id), reference(incident_id), safe_cell(title), status, _SEVERITY_OF_RANK[severity_rank],
            urgency, priority, category, names[reporter_id], names[technician_id], _time_cell(created_at),
            _time_cell(responded_at), _time_cell(resolved_at), _time_cell(closed_at), _time_cell(response_due_at),
            _time_cell(resolve_due_at), response.value, resolve.value)
