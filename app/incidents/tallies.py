"""Exact incident counts without scanning incidents: one row per (scope, status, severity,
category) holding how many incidents have those values. The service adjusts them in the same
transaction as every change; `rebuild()` recomputes them from scratch (bulk loads, repairs)."""
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, delete, func, insert, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.incidents.enums import Category, Severity, Status
from app.models import Incident, IncidentTally

Key = tuple[str, Status, Severity, Category]
UNASSIGNED = 0


def scopes_of(incident: Incident) -> tuple[str, str, str]:
    """The three scopes an incident counts in."""
    return ("all", f"tech:{incident.technician_id or UNASSIGNED}", f"reporter:{incident.reporter_id}")


def snapshot(incident: Incident) -> list[Key]:
    """The tally rows this incident currently adds one to."""
    return [(scope, incident.status, incident.severity, incident.category) for scope in scopes_of(incident)]


def move(before: Iterable[Key], after: Iterable[Key]) -> None:
    """-1 on the rows an incident left, +1 on the rows it joined (no-op when nothing moved)."""
    before, after = list(before), list(after)
    deltas: dict[Key, int] = {}
    for key in before:
        deltas[key] = deltas.get(key, 0) - 1
    for key in after:
        deltas[key] = deltas.get(key, 0) + 1
    for key, delta in deltas.items():
        if delta:
            _add(key, delta)


def _add(key: Key, delta: int) -> None:
    scope, status, severity, category = key
    dialect = db.session.get_bind().dialect.name
    dialect_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
    statement = dialect_insert(IncidentTally).values(scope=scope, status=status, severity=severity,
                                                      category=category, n=delta)
    statement = statement.on_conflict_do_update(
        index_elements=["scope", "status", "severity", "category"],
        set_={"n": IncidentTally.n + delta},
    )
    db.session.execute(statement)


def count(*, scope: str, status: Iterable[Status] = (), severity: Iterable[Severity] = (),
          category: Iterable[Category] = ()) -> int:
    """How many incidents in `scope` match the (optional) value lists."""
    query = select(func.coalesce(func.sum(IncidentTally.n), 0)).where(IncidentTally.scope == scope)
    query = _where_in(query, status=status, severity=severity, category=category)
    return int(db.session.scalar(query))


def group(column_name: str, *, scope: str, status: Iterable[Status] = ()) -> dict[Any, int]:
    """Counts in `scope` per value of status, severity or category."""
    column = getattr(IncidentTally, column_name)
    query = select(column, func.sum(IncidentTally.n)).where(IncidentTally.scope == scope).group_by(column)
    query = _where_in(query, status=status)
    return {value: int(n) for value, n in db.session.execute(query) if n}


def _where_in(query, **lists):
    for name, values in lists.items():
        values = list(values)
        if values:
            query = query.where(getattr(IncidentTally, name).in_(values))
    return query


def rebuild() -> None:
    """Recompute every tally with three GROUP BYs over incidents (after bulk loads)."""
    db.session.execute(delete(IncidentTally))
    dims = (Incident.status, Incident.severity, Incident.category)
    tech_scope = literal("tech:") + cast(func.coalesce(Incident.technician_id, UNASSIGNED), String)
    reporter_scope = literal("reporter:") + cast(Incident.reporter_id, String)
    parts = [
        select(scope.label("scope"), *dims, func.count().label("n")).group_by(scope, *dims)
        for scope in (literal("all"), tech_scope, reporter_scope)
    ]
    columns = ["scope", "status", "severity", "category", "n"]
    db.session.execute(insert(IncidentTally).from_select(columns, union_all(*parts)))
