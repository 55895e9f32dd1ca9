"""Read side: the incidents a user may see, filtered, searched, sorted and paged."""
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, union_all

from app.auth.roles import Role
from app.exceptions import NotFound
from app.extensions import db
from app.incidents import listed, paging, search, sla, tallies
from app.incidents.enums import Category, Priority, Severity, SlaStanding, Status, Urgency
from app.incidents.lifecycle import can_see, sees_internal
from app.models import Incident, IncidentEvent, User, utcnow

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25
SORTS = {
    "created_at": Incident.created_at,
    "updated_at": Incident.updated_at,
    "severity": Incident.severity,
    "priority": Incident.priority,
    "resolve_due_at": Incident.resolve_due_at,  # soonest first; on hold (no due time) last either way
}
DEFAULT_SORT = "-created_at"


@dataclass
class IncidentFilters:
    """What a list view asks for; every field optional."""

    status: list[Status] = field(default_factory=list)
    severity: list[Severity] = field(default_factory=list)
    category: list[Category] = field(default_factory=list)
    priority: list[Priority] = field(default_factory=list)
    urgency: list[Urgency] = field(default_factory=list)
    technician_id: int | None = None
    unassigned: bool = False
    reporter_id: int | None = None
    q: str | None = None
    sla: list[SlaStanding] = field(default_factory=list)
    now: datetime | None = None
    """The instant `sla` is judged at; `list_incidents` pins it to now, so a page and its total agree."""


@dataclass
class Page:
    """One page of a list. `page` is None when it was reached by a cursor (keyset pagination);
    `next_cursor` continues after its last item, None when nothing follows; `prev_cursor` reads
    the page before its first item, None when nothing comes before."""

    items: list[listed.ListedIncident]
    page: int | None
    per_page: int
    total: int
    next_cursor: str | None = None
    prev_cursor: str | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        if self.page is None:
            return self.next_cursor is not None
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        if self.page is None:
            return self.prev_cursor is not None
        return self.page > 1


def get_incident(*, actor: User, incident_id: int) -> Incident:
    """One incident this user may see; NotFound otherwise (no existence leak)."""
    incident = db.session.get(Incident, incident_id)
    if incident is None or not can_see(actor, incident):
        raise NotFound(f"Incident {incident_id} was not found.")
    return incident


def visible_to(actor: User) -> Select:
    """Incidents this user may see."""
    return matching(actor, IncidentFilters())


def _terms(actor: User, filters: IncidentFilters) -> list[paging.Term]:
    """The equality and IN filters, as (column, allowed values): who may see what, then the filters."""
    terms: list[paging.Term] = []
    if actor.role == Role.REPORTER:
        terms.append(("reporter_id", (actor.id,)))
    for name in ("status", "severity", "category", "priority", "urgency"):
        if getattr(filters, name):
            terms.append((name, tuple(dict.fromkeys(getattr(filters, name)))))
    if filters.unassigned:
        terms.append(("technician_id", (None,)))
    elif filters.technician_id is not None:
        terms.append(("technician_id", (filters.technician_id,)))
    if filters.reporter_id is not None:
        terms.append(("reporter_id", (filters.reporter_id,)))
    return terms


def _where(terms: list[paging.Term], seek: frozenset[str] | None = None) -> list[ColumnElement[bool]]:
    """The WHERE clauses of `terms`; when `seek` is given, only those columns may use an index."""
    clauses = []
    for name, values in terms:
        column = getattr(Incident, name)
        if seek is not None and name not in seek:
            column = paging.unindexed(column)
        if values == (None,):
            clauses.append(column.is_(None))
        else:
            clauses.append(column == values[0] if len(values) == 1 else column.in_(values))
    return clauses


def _searching(filters: IncidentFilters) -> bool:
    return bool(filters.q and filters.q.strip())


def _standing(filters: IncidentFilters) -> list[ColumnElement[bool]]:
    """The `sla` filter (any of its values) as a WHERE clause, judged at `filters.now`."""
    if not filters.sla:
        return []
    now = filters.now or utcnow()
    return [or_(*(sla.standing(value, now) for value in dict.fromkeys(filters.sla)))]


def matching(actor: User, filters: IncidentFilters) -> Select:
    """Every incident `actor` may see that matches `filters` (the planner picks the path)."""
    query = select(Incident).where(*_where(_terms(actor, filters)), *_standing(filters))
    return query.where(search.matches(filters.q, staff=sees_internal(actor))) if _searching(filters) else query


def _page_query(actor: User, filters: IncidentFilters, sort: str, *, offset: int, limit: int,
                cursor: str | None, part: paging.Part | None = None) -> Select:
    """The rows of one page: their ids first, read along one index walk (app.incidents.paging)
    without touching a table row or a join for the rows skipped; then those rows with their people.
    `part` reads only the rows with a value of a nullable sort key, or only the others."""
    terms = _terms(actor, filters)
    extra = _standing(filters)
    if part == paging.Part.NULLS:
        terms.append((paging.nullable_key(sort), (None,)))
    elif part == paging.Part.VALUED:
        extra.append(getattr(Incident, paging.nullable_key(sort)).is_not(None))
    if _searching(filters):
        # The search index names the candidate rows; no other index may compete with it.
        path = paging.Path()
        extra.append(search.matches(filters.q, staff=sees_internal(actor)))
    else:
        path = paging.choose(terms, sort, branching=offset + limit <= paging.MAX_BRANCH_ROWS)
    if cursor:
        extra.append(paging.after(cursor, sort))
    page = listed.rows().order_by(*paging.order_by(sort))
    if path.branch is None:
        ids = select(Incident.id).where(*_where(terms, path.seek), *extra)
        ids = ids.order_by(*paging.order_by(sort)).limit(limit).offset(offset)
        return page.where(Incident.id.in_(ids))
    walks = []
    for value in next(values for name, values in terms if name == path.branch):
        one = [(name, (value,) if name == path.branch else allowed) for name, allowed in terms]
        walk = select(Incident.id).where(*_where(one, path.seek), *extra)
        walks.append(select(walk.order_by(*paging.order_by(sort)).limit(offset + limit).subquery().c.id))
    return page.where(Incident.id.in_(union_all(*walks))).limit(limit).offset(offset)


def _search_page(actor: User, filters: IncidentFilters, sort: str, *, offset: int,
                 limit: int) -> tuple[list[listed.ListedIncident], int | None]:
    """A page of search results and the number of matches from one pass over the search index
    (its prefix lookups are the costly part): the ids with a window count, then their rows.
    The total is None when the page is past the end (no row to carry it)."""
    ids = (select(Incident.id, func.count().over().label("total"))
           .where(*_where(_terms(actor, filters), frozenset()), *_standing(filters),
                  search.matches(filters.q, staff=sees_internal(actor)))
           .order_by(*paging.order_by(sort, nulls_last=True)).limit(limit).offset(offset))
    found = db.session.execute(ids).all()
    if not found:
        return [], None
    rows = {row.id: row for row in listed.read(listed.rows().where(Incident.id.in_([f.id for f in found])))}
    return [rows[f.id] for f in found], found[0].total


def list_incidents(*, actor: User, filters: IncidentFilters, sort: str = DEFAULT_SORT,
                   page: int = 1, per_page: int = DEFAULT_PER_PAGE, cursor: str | None = None) -> Page:
    """A page of the incidents this user may see, newest first unless `sort` says otherwise.

    `page` skips rows with OFFSET, which costs more the deeper it goes; `cursor` (a page's
    `next_cursor`, or its `prev_cursor` to go back) seeks to the same place through the index, so
    every page costs the same. Going back walks the reversed sort from the cursor and turns the
    rows round (app.incidents.paging)."""
    if sort.lstrip("-") not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    if filters.sla and filters.now is None:
        filters = replace(filters, now=utcnow())
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    offset = (page - 1) * per_page
    if cursor:
        # One row more than asked says whether another page follows (or, going back, precedes),
        # without counting.
        backwards = paging.is_before(cursor)
        walk = paging.reverse(sort) if backwards else sort
        rows = _rows(actor, filters, walk, offset=0, limit=per_page + 1, cursor=cursor, backwards=backwards)
        items = rows[:per_page]
        if backwards:
            items.reverse()
        result = Page(items=items, page=None, per_page=per_page,
                      total=count_incidents(actor=actor, filters=filters))
        beyond = len(rows) > per_page
        # The cursor's own row lies on the other side, so that way there is always a page.
        more, earlier = (bool(items), beyond) if backwards else (beyond, bool(items))
    else:
        if _searching(filters):
            items, total = _search_page(actor, filters, sort, offset=offset, limit=per_page)
        else:
            items = _rows(actor, filters, sort, offset=offset, limit=per_page, cursor=None)
            total = None
        if total is None:
            total = count_incidents(actor=actor, filters=filters)
        result = Page(items=items, page=page, per_page=per_page, total=total)
        more = result.has_next and bool(items)
        earlier = page > 1 and bool(items)
    if more:
        result.next_cursor = paging.encode_cursor(result.items[-1], sort)
    if earlier:
        result.prev_cursor = paging.encode_cursor(result.items[0], sort, before=True)
    return result


def _rows(actor: User, filters: IncidentFilters, sort: str, *, offset: int, limit: int,
          cursor: str | None, backwards: bool = False) -> list[listed.ListedIncident]:
    """The rows of a page. On a nullable sort key: the rows holding a value, then, if the page is
    not full, the others (nulls last in either direction), each part along its own index walk.
    `backwards` (a `prev` cursor, `sort` already reversed): the list's last part, the nulls, first."""
    def read(part: paging.Part | None, *, skip: int, take: int, after: str | None) -> list[listed.ListedIncident]:
        return listed.read(_page_query(actor, filters, sort, offset=skip, limit=take, cursor=after, part=part))

    key = paging.nullable_key(sort)
    if key is None:
        return read(None, skip=offset, take=limit, after=cursor)
    if backwards:
        if not paging.in_nulls(cursor, sort):  # the nulls all come after a valued row
            return read(paging.Part.VALUED, skip=0, take=limit, after=cursor)
        rows = read(paging.Part.NULLS, skip=0, take=limit, after=cursor)
        return rows if len(rows) == limit else rows + read(paging.Part.VALUED, skip=0, take=limit - len(rows),
                                                           after=None)
    if cursor and paging.in_nulls(cursor, sort):
        return read(paging.Part.NULLS, skip=0, take=limit, after=cursor)
    rows = read(paging.Part.VALUED, skip=offset, take=limit, after=cursor)
    if len(rows) == limit:
        return rows
    skip = 0
    if offset and not rows and not cursor:
        # The page starts past the valued rows: skip what is left of the offset among the nulls.
        valued = count_incidents(actor=actor, filters=filters) - _count_nulls(actor, filters, key)
        skip = max(0, offset - valued)
    return rows + read(paging.Part.NULLS, skip=skip, take=limit - len(rows), after=None)


def _count_nulls(actor: User, filters: IncidentFilters, key: str) -> int:
    """How many matching incidents have no value in `key` (a seek on its index: few, the incidents on hold)."""
    query = matching(actor, filters).where(getattr(Incident, key).is_(None)).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(query)) or 0


def timeline(*, incident: Incident, viewer: User) -> list[IncidentEvent]:
    """The incident's events as `viewer` may see them, oldest first: internal ones for staff only."""
    query = select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
    if not sees_internal(viewer):
        query = query.where(IncidentEvent.internal.is_(False))
    return list(db.session.scalars(query.order_by(IncidentEvent.id)))


def _tally_scope(actor: User, filters: IncidentFilters) -> str | None:
    """The tally scope that answers this count exactly, or None when only a real count can (the
    tallies count by status, severity and category, not by priority, urgency or SLA standing)."""
    if (filters.q and filters.q.strip()) or filters.priority or filters.urgency or filters.sla:
        return None
    scopes = []
    if actor.role == Role.REPORTER:
        scopes.append(tallies.reporter_scope(actor.id))
    if filters.reporter_id is not None:
        scopes.append(tallies.reporter_scope(filters.reporter_id))
    if filters.unassigned:
        scopes.append(tallies.tech_scope(None))
    elif filters.technician_id is not None:
        scopes.append(tallies.tech_scope(filters.technician_id))
    distinct = set(scopes)
    if len(distinct) > 1:
        return None
    return distinct.pop() if distinct else tallies.ALL


def count_incidents(*, actor: User, filters: IncidentFilters) -> int:
    """How many visible incidents match: from the tallies when they can say, else counted."""
    scope = _tally_scope(actor, filters)
    if scope is not None:
        return tallies.count(scope=scope, status=filters.status, severity=filters.severity,
                             category=filters.category)
    query = matching(actor, filters).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(query)) or 0


def count_by(column, *, actor: User, filters: IncidentFilters | None = None) -> dict[Any, int]:
    """How many visible incidents per value of status, severity or category (from the tallies
    when they can answer; otherwise one indexed GROUP BY)."""
    filters = filters or IncidentFilters()
    scope = _tally_scope(actor, filters)
    if scope is not None:
        return tallies.group(column.key, scope=scope, status=filters.status, severity=filters.severity,
                             category=filters.category)
    subquery = matching(actor, filters).order_by(None).subquery()
    col = subquery.c[column.key]
    return {value: n for value, n in db.session.execute(select(col, func.count()).group_by(col))}
