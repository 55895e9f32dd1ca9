"""Exact incident counts without scanning incidents: one row per (scope, status, severity,
category) holding how many incidents have those values. The service adjusts them in the same
transaction as every change; `rebuild()` recomputes them from scratch (bulk loads, repairs).

A scope is `all`, `tech:<id>` (`tech:0`: unassigned) or `reporter:<id>`; the builders below
spell them, in Python and in SQL, and nothing else does."""
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, func, insert, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.incidents.enums import Category, Severity, Status
from app.models import Incident, IncidentTally

Key = tuple[str, Status, Severity, Category]
ALL = "all"
TECH = "tech:"
REPORTER = "reporter:"
UNASSIGNED = 0  # the technician id of the unassigned incidents' scope


def tech_scope(technician_id: int | None) -> str:
    """The scope of one technician's incidents; None gives the unassigned ones."""
    return f"{TECH}{technician_id or UNASSIGNED}"


def reporter_scope(reporter_id: int) -> str:
    """The scope of one reporter's incidents."""
    return f"{REPORTER}{reporter_id}"


def scopes_of(incident: Incident) -> tuple[str, str, str]:
    """The three scopes an incident counts in."""
    return ALL, tech_scope(incident.technician_id), reporter_scope(incident.reporter_id)


def scope_columns(technician_id: ColumnElement, reporter_id: ColumnElement) -> tuple[ColumnElement[str], ...]:
    """`scopes_of` as SQL over a row's technician and reporter ids, for set-based rebuilds and loads."""
    return (literal(ALL),
            literal(TECH) + cast(func.coalesce(technician_id, UNASSIGNED), String),
            literal(REPORTER) + cast(reporter_id, String))


def snapshot(incident: Incident) -> list[Key]:
    """The tally rows this incident currently adds one to."""
    return [(scope, incident.status, incident.severity, incident.category) for scope in scopes_of(incident)]


def move(before: Iterable[Key], after: Iterable[Key]) -> None:
    """-1 on the rows an incident left, +1 on the rows it joined (no-op when nothing moved): one
    upsert statement for all of them."""
    deltas: dict[Key, int] = {}
    for key in before:
        deltas[key] = deltas.get(key, 0) - 1
    for key in after:
        deltas[key] = deltas.get(key, 0) + 1
    rows = [{"scope": scope, "status": status, "severity": severity, "category": category, "n": delta}
            for (scope, status, severity, category), delta in deltas.items() if delta]
    if rows:
        _add(rows)


def _add(rows: list[dict]) -> None:
    """Add each row's `n` to its tally row, making the row when missing. The keys are distinct (one
    statement may not touch a row twice on PostgreSQL)."""
    dialect = db.session.get_bind().dialect.name
    dialect_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
    statement = dialect_insert(IncidentTally).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["scope", "status", "severity", "category"],
        set_={"n": IncidentTally.n + statement.excluded.n},
    )
    db.session.execute(statement)


def count(*, scope: str, status: Iterable[Status] = (), severity: Iterable[Severity] = (),
          category: Iterable[Category] = ()) -> int:
    """How many incidents in `scope` match the (optional) value lists."""
    query = select(func.coalesce(func.sum(IncidentTally.n), 0))
    return int(db.session.scalar(_matching(query, scope, status=status, severity=severity, category=category)))


def group(column_name: str, *, scope: str, status: Iterable[Status] = (), severity: Iterable[Severity] = (),
          category: Iterable[Category] = ()) -> dict[Any, int]:
    """Counts in `scope` per value of status, severity or category, among those matching the
    (optional) value lists."""
    column = getattr(IncidentTally, column_name)
    query = _matching(select(column, func.sum(IncidentTally.n)).group_by(column), scope,
                      status=status, severity=severity, category=category)
    return {value: int(n) for value, n in db.session.execute(query) if n}


def _matching(query, scope: str, **lists):
    """`query` narrowed to `scope` and to each non-empty value list."""
    query = query.where(IncidentTally.scope == scope)
    for name, values in lists.items():
        values = list(values)
        if values:
            query = query.where(getattr(IncidentTally, name).in_(values))
    return query


def rebuild() -> int:
    """Recompute every tally with three GROUP BYs over incidents (after bulk loads, or to repair
    them); returns how many incidents were counted. The caller commits."""
    db.session.execute(delete(IncidentTally))
    dims = (Incident.status, Incident.severity, Incident.category)
    parts = [
        select(scope.label("scope"), *dims, func.count().label("n")).group_by(scope, *dims)
        for scope in scope_columns(Incident.technician_id, Incident.reporter_id)
    ]
    columns = ["scope", "status", "severity", "category", "n"]
    db.session.execute(insert(IncidentTally).from_select(columns, union_all(*parts)))
    return count(scope=ALL)
