"""How a page of incidents is read at any size: one index walked in the order asked, stopped after
the page, and keyset cursors that seek into that walk instead of skipping rows with OFFSET.

Why the page query names its path: SQLite's planner does not weigh LIMIT. Asked for
`status = 'open' AND technician_id IS NULL ORDER BY severity`, it seeks the narrower
(technician_id, status) index and sorts every match: cheap at 1k incidents, most of a second at 1M.
So `choose()` picks the index that already holds the rows in the order asked, with the longest run
of equality filters in front of the sort columns, and the other filters are written `+column`
(SQLite's documented way to say "no index for this term"), leaving the planner nothing to sort.
A filter on several values of that run's first column (status IN open, assigned) becomes one
ordered walk per value, merged; the merge sorts at most (walks x page) rows.

A sort key that may be null (`resolve_due_at`, null while an incident is on hold) puts those rows
last in either direction. SQLite and PostgreSQL disagree on where NULL sorts, and `NULLS LAST`
would make SQLite sort instead of walk, so the list is read as two parts, each one index walk: the
rows holding a value (`Part.VALUED`), then the others by id (`Part.NULLS`). A cursor says which
part its row is in.

A cursor points one way: `next` reads the rows after its row, `prev` the rows before it. The rows
before a row are those after it in the reversed sort (every column's direction flipped, so the
nulls part comes first, then the valued part from its far end), read that way and turned back:
going back costs one index walk too, and crosses the valued/nulls boundary as going forward does.
A `prev` cursor is therefore decoded in the reversed sort."""
import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, literal, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.exceptions import InvalidInput
from app.incidents.enums import Priority, Severity
from app.models import MAX_ID, Incident

# What each sort orders by; the tie-breakers are the trailing columns of the indexes.
SORT_KEYS = {
    "created_at": ("created_at", "id"),
    "updated_at": ("updated_at", "id"),
    "severity": ("severity", "created_at", "id"),
    "priority": ("priority", "created_at", "id"),
    "resolve_due_at": ("resolve_due_at", "id"),
}
# Sort keys whose first column may be null; those rows come last (see the module's docstring).
NULLABLE = frozenset({"resolve_due_at"})
# Walking one index per value costs (offset + page) rows per walk; deeper than this, one walk
# filtering the values as it goes costs less.
MAX_BRANCH_ROWS = 1_000
INDEXES = sorted(tuple(column.name for column in index.columns) for index in Incident.__table__.indexes)

Term = tuple[str, tuple]
"""One filter: a column of incidents and the values it may take ((None,) means IS NULL)."""


@dataclass(frozen=True)
class Path:
    """The index walk a page query takes: the columns it seeks by equality, and the first of them
    when that one has several values (then one walk per value, merged)."""

    seek: frozenset[str] = frozenset()
    branch: str | None = None


class unindexed(FunctionElement):
    """A column the SQLite planner may not look up through an index (`+column`); elsewhere the
    plain column, as PostgreSQL's planner weighs LIMIT itself."""

    inherit_cache = True

    def __init__(self, column: ColumnElement):
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _plain(element: unindexed, compiler, **kw) -> str:
    return compiler.process(element.clauses.clauses[0], **kw)


@compiles(unindexed, "sqlite")
def _unary_plus(element: unindexed, compiler, **kw) -> str:
    return "+" + compiler.process(element.clauses.clauses[0], **kw)


def choose(terms: list[Term], sort: str, *, branching: bool) -> Path:
    """The walk for these filters and sort: an index whose columns are equality filters followed by
    the sort key (sort columns pinned by a one-value filter may sit in the equality run), the run
    as long as possible. Several values are allowed in the run's first column only, if `branching`."""
    key = SORT_KEYS[sort.lstrip("-")]
    single = {column for column, values in terms if len(values) == 1}
    several = {column for column, values in terms if len(values) > 1}
    best, best_score = Path(), (0, 0)
    for columns in INDEXES:
        for length in range(len(columns)):
            run = columns[:length]
            if any(column not in single | several for column in run):
                break
            pinned = 0
            while pinned < len(key) and key[pinned] in run and key[pinned] in single:
                pinned += 1
            # Columns after the key (carried for the reports) change no order: every key ends with id.
            if columns[length:length + len(key) - pinned] != key[pinned:]:
                continue
            branched = [column for column in run if column in several]
            if branched and (branched != [run[0]] or not branching):
                continue
            score = (len(run), -len(branched))
            if score > best_score:
                best, best_score = Path(frozenset(run), run[0] if branched else None), score
    return best


class Part(Enum):
    """Which rows of a sort on a nullable key one walk reads: those with a value, or the rest."""

    VALUED = "valued"
    NULLS = "nulls"


def nullable_key(sort: str) -> str | None:
    """The sort's first column when it may be null (the list is then read in two parts), else None."""
    name = SORT_KEYS[sort.lstrip("-")][0]
    return name if name in NULLABLE else None


def order_by(sort: str, *, nulls_last: bool = False) -> list[ColumnElement]:
    """The ORDER BY of `sort` (`-` first: descending), tie-breakers included. `nulls_last` puts
    the rows without a value last in one statement, for a query that sorts its rows anyway (a
    search's matches); a walk along an index reads the two parts apart instead."""
    columns = [getattr(Incident, name) for name in SORT_KEYS[sort.lstrip("-")]]
    ordered = [column.desc() if sort.startswith("-") else column.asc() for column in columns]
    if nulls_last and nullable_key(sort):
        ordered.insert(0, columns[0].is_(None).asc())
    return ordered


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value.value if isinstance(value, Severity) else value


BEFORE = "before"
"""The first element of a cursor that reads backwards (no sort is called that)."""


def reverse(sort: str) -> str:
    """The same sort, every column the other way (the order a `prev` cursor reads in)."""
    return sort[1:] if sort.startswith("-") else f"-{sort}"


def encode_cursor(incident: Incident, sort: str, *, before: bool = False) -> str:
    """An opaque token meaning "after this incident, in this sort order" (or "before" it)."""
    values = [_json_value(getattr(incident, name)) for name in SORT_KEYS[sort.lstrip("-")]]
    raw = json.dumps([BEFORE, sort, *values] if before else [sort, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _raw(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def is_before(cursor: str) -> bool:
    """Whether the cursor reads the rows before its row (a `prev`: walk the reversed sort); a
    broken one is left to `after()` to refuse."""
    try:
        raw = _raw(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(raw, list) and len(raw) > 1 and raw[0] == BEFORE


def _decode(cursor: str, sort: str) -> list[Any]:
    """The key values of a cursor walked in `sort`: a `next` cursor of the list in that sort, or
    a `prev` cursor of the list in the reversed sort."""
    raw = _raw(cursor)
    if isinstance(raw, list) and raw[:1] == [BEFORE]:
        raw, sort = raw[1:], reverse(sort)
    names = SORT_KEYS[sort.lstrip("-")]
    if not isinstance(raw, list) or len(raw) != len(names) + 1 or raw[0] != sort:
        raise ValueError("another list's cursor")
    values = []
    for name, value in zip(names, raw[1:], strict=True):
        if name == "id":
            if type(value) is not int or not 0 < value <= MAX_ID:
                raise ValueError("bad id")
        elif name in NULLABLE and value is None:
            pass  # the row is among the nulls, read last
        elif name == "severity":
            value = Severity(value)
        elif name == "priority":
            value = Priority(value)
        else:
            # Stored naive UTC: a date that cannot be moved to UTC (year 1 at +14:00) is no cursor.
            value = datetime.fromisoformat(value)
            if value.tzinfo is not None:
                value = value.astimezone(UTC)
        values.append(value)
    return values


def _position(cursor: str, sort: str) -> list[Any]:
    """The sort key values of the cursor's row; 422 naming `cursor` when it is not one of this list's."""
    try:
        return _decode(cursor, sort)
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput.field("cursor", "Not a cursor of this list in this sort order; start again "
                                           "from the first page.") from None


def in_nulls(cursor: str, sort: str) -> bool:
    """Whether the cursor's row is among a nullable key's nulls (only that part is left to read)."""
    return nullable_key(sort) is not None and _position(cursor, sort)[0] is None


def after(cursor: str, sort: str) -> ColumnElement[bool]:
    """Rows strictly after the cursor's row in `sort` order, within its part: one row-value
    comparison, which the chosen index answers by seeking straight to it, however deep. (A row
    with a null key fails the comparison, so the valued part's condition never lets one in.)
    `sort` is the order walked: a `prev` cursor of a list is read in its list's reversed sort."""
    values = _position(cursor, sort)
    columns = [getattr(Incident, name) for name in SORT_KEYS[sort.lstrip("-")]]
    if values[0] is None:  # among the nulls, which run by their tie-breakers
        return and_(columns[0].is_(None), _beyond(columns[1:], values[1:], sort))
    return _beyond(columns, values, sort)


def _beyond(columns: list, values: list[Any], sort: str) -> ColumnElement[bool]:
    key = tuple_(*columns)
    bound = tuple_(*(literal(value, Integer() if column.key == "id" else column.type)
                     for column, value in zip(columns, values, strict=True)))
    return key < bound if sort.startswith("-") else key > bound
