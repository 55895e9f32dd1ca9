"""Read side: the incidents a user may see, filtered, searched, sorted and paged."""
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select

from app.exceptions import NotFound
from app.extensions import db
from app.incidents import search, tallies
from app.incidents.lifecycle import Category, Role, Severity, Status, can_see
from app.models import Incident, IncidentEvent, User

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25
SORTS = {
    "created_at": Incident.created_at,
    "updated_at": Incident.updated_at,
    "severity": Incident.severity,
}
DEFAULT_SORT = "-created_at"


@dataclass
class IncidentFilters:
    """What a list view asks for; every field optional."""

    status: list[Status] = field(default_factory=list)
    severity: list[Severity] = field(default_factory=list)
    category: list[Category] = field(default_factory=list)
    technician_id: int | None = None
    unassigned: bool = False
    reporter_id: int | None = None
    q: str | None = None


@dataclass
class Page:
    items: list[Incident]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def get_incident(*, actor: User, incident_id: int) -> Incident:
    """One incident this user may see; NotFound otherwise (no existence leak)."""
    incident = db.session.get(Incident, incident_id)
    if incident is None or not can_see(actor, incident):
        raise NotFound(f"Incident {incident_id} was not found.")
    return incident


def visible_to(actor: User) -> Select:
    """Incidents this user may see."""
    query = select(Incident)
    if actor.role == Role.REPORTER:
        query = query.where(Incident.reporter_id == actor.id)
    return query


def _apply_filters(query: Select, filters: IncidentFilters) -> Select:
    if filters.status:
        query = query.where(Incident.status.in_(filters.status))
    if filters.severity:
        query = query.where(Incident.severity.in_(filters.severity))
    if filters.category:
        query = query.where(Incident.category.in_(filters.category))
    if filters.unassigned:
        query = query.where(Incident.technician_id.is_(None))
    elif filters.technician_id is not None:
        query = query.where(Incident.technician_id == filters.technician_id)
    if filters.reporter_id is not None:
        query = query.where(Incident.reporter_id == filters.reporter_id)
    if filters.q and filters.q.strip():
        query = query.where(search.matches(filters.q))
    return query


def _order(query: Select, sort: str) -> Select:
    descending = sort.startswith("-")
    column = SORTS[sort.lstrip("-")]
    if descending:
        return query.order_by(column.desc(), Incident.id.desc())
    return query.order_by(column.asc(), Incident.id.asc())


def list_incidents(*, actor: User, filters: IncidentFilters, sort: str = DEFAULT_SORT,
                   page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> Page:
    """A page of the incidents this user may see, newest first unless `sort` says otherwise."""
    if sort.lstrip("-") not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    query = _apply_filters(visible_to(actor), filters)
    total = count_incidents(actor=actor, filters=filters, query=query)
    items = list(db.session.scalars(_order(query, sort).limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total or 0)


def timeline(*, incident: Incident) -> list[IncidentEvent]:
    """The incident's events, oldest first."""
    return list(db.session.scalars(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)
    ))


def _tally_scope(actor: User, filters: IncidentFilters) -> str | None:
    """The tally scope that answers this count exactly, or None when only a real count can."""
    if filters.q and filters.q.strip():
        return None
    scopes = []
    if actor.role == Role.REPORTER:
        scopes.append(f"reporter:{actor.id}")
    if filters.reporter_id is not None:
        scopes.append(f"reporter:{filters.reporter_id}")
    if filters.unassigned:
        scopes.append(f"tech:{tallies.UNASSIGNED}")
    elif filters.technician_id is not None:
        scopes.append(f"tech:{filters.technician_id}")
    distinct = set(scopes)
    if len(distinct) > 1:
        return None
    return distinct.pop() if distinct else "all"


def count_incidents(*, actor: User, filters: IncidentFilters, query: Select | None = None) -> int:
    """How many visible incidents match: from the tallies when they can say, else counted."""
    scope = _tally_scope(actor, filters)
    if scope is not None:
        return tallies.count(scope=scope, status=filters.status, severity=filters.severity,
                             category=filters.category)
    query = query if query is not None else _apply_filters(visible_to(actor), filters)
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def count_by(column, *, actor: User, filters: IncidentFilters | None = None) -> dict[Any, int]:
    """How many visible incidents per value of status, severity or category (from the tallies
    when they can answer; otherwise one indexed GROUP BY)."""
    filters = filters or IncidentFilters()
    scope = _tally_scope(actor, filters)
    if scope is not None and not filters.severity and not filters.category:
        return tallies.group(column.key, scope=scope, status=filters.status)
    subquery = _apply_filters(visible_to(actor), filters).order_by(None).subquery()
    col = subquery.c[column.key]
    return {value: n for value, n in db.session.execute(select(col, func.count()).group_by(col))}
