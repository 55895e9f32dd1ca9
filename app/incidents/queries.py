"""Read side: the incidents a user may see, filtered, searched, sorted and paged."""
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, or_, select

from app.exceptions import NotFound
from app.extensions import db
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
    if filters.q:
        pattern = f"%{_escape_like(filters.q.strip())}%"
        query = query.where(or_(Incident.title.ilike(pattern, escape="\\"),
                                Incident.description.ilike(pattern, escape="\\")))
    return query


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(db.session.scalars(_order(query, sort).limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total or 0)


def timeline(*, incident: Incident) -> list[IncidentEvent]:
    """The incident's events, oldest first."""
    return list(db.session.scalars(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)
    ))


def count_by(column, *, actor: User, filters: IncidentFilters | None = None) -> dict[Any, int]:
    """How many visible incidents per value of `column` (indexed GROUP BY, no Python loop)."""
    query = _apply_filters(visible_to(actor), filters or IncidentFilters()).order_by(None).subquery()
    col = query.c[column.key]
    rows = db.session.execute(select(col, func.count()).group_by(col))
    return {value: count for value, count in rows}
