"""SQLite's EXPLAIN QUERY PLAN for every list, filter, sort, search and dashboard query: no full scan
of incidents, and no sort of more than the page (the walk along the index stops after the page).

The data is bulk-loaded and ANALYZEd like a `flask seed --bulk` database, so the planner sees the
statistics it would see in production. PostgreSQL plans differently (and weighs LIMIT itself):
these tests run on SQLite only."""
import re

import pytest

from app.extensions import db
from app.incidents import paging, reports
from app.incidents.enums import Category, Priority, Severity, Status, Urgency
from app.incidents.queries import IncidentFilters, list_incidents
from app.incidents.reports import Grouping
from app.models import utcnow
from tests import factories
from tests.perf_helpers import BULK_PASSWORD, load, recording, user
from tests.web_helpers import login

pytestmark = pytest.mark.sqlite_only

TABLES = ("incidents", "incident_events", "incident_tallies")
FULL_SCAN = re.compile(rf"^SCAN ({'|'.join(TABLES)})(?: AS \w+)?$")
SORTS = ["-created_at", "created_at", "-updated_at", "updated_at", "-severity", "severity", "priority", "-priority"]
FILTERS = {
    "none": {},
    "status": {"status": [Status.OPEN]},
    "several statuses": {"status": [Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS]},
    "severity": {"severity": [Severity.HIGH]},
    "several severities": {"severity": [Severity.HIGH, Severity.CRITICAL]},
    "category": {"category": [Category.NETWORK]},
    "priority": {"priority": [Priority.P1]},
    "several priorities": {"priority": [Priority.P1, Priority.P2]},
    "urgency": {"urgency": [Urgency.HIGH]},
    "priority+status": {"priority": [Priority.P2], "status": [Status.OPEN]},
    "status+severity": {"status": [Status.OPEN], "severity": [Severity.HIGH]},
    "technician": {"technician_id": "bulk-tech-001"},
    "technician+statuses": {"technician_id": "bulk-tech-001", "status": [Status.ASSIGNED, Status.IN_PROGRESS]},
    "unassigned": {"unassigned": True},
    "unassigned+open": {"unassigned": True, "status": [Status.OPEN]},
    "reporter": {"reporter_id": "bulk-reporter-001"},
    "everything": {"status": [Status.RESOLVED, Status.CLOSED], "severity": [Severity.LOW],
                   "category": [Category.SERVER, Category.OTHER], "technician_id": "bulk-tech-002"},
}
SEARCHES = {"search": {"q": "db"}, "search+status": {"q": "web", "status": [Status.OPEN, Status.ASSIGNED]},
            "comment word": {"q": "vendor"}, "resolution notes word": {"q": "verified"},
            "words from title and comments": {"q": "db waiting"}}


@pytest.fixture
def bulk(app, people):
    """2,000 generated incidents, indexed and ANALYZEd as `flask seed --bulk` leaves them."""
    load(2_000)
    return app


def _filters(spec: dict) -> IncidentFilters:
    values = dict(spec)
    for key in ("technician_id", "reporter_id"):
        if key in values:
            values[key] = user(values[key]).id
    return IncidentFilters(**values)


def _plan(statement: str, parameters) -> list[tuple[int, int, str]]:
    """(id, parent, detail) rows of the statement's query plan."""
    rows = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
    return [(row[0], row[1], row[3]) for row in rows]


def assert_indexed(statements, *, sorts_matches: bool = False) -> None:
    """No full scan of an incident table; sorting only at the top of the statement, over the page
    already picked (unless a search must sort its matches)."""
    for statement, parameters in statements:
        if not any(table in statement for table in TABLES):
            continue
        plan = _plan(statement, parameters)
        shown = "\n".join(detail for _, _, detail in plan) + "\n" + statement
        assert not [detail for _, _, detail in plan if FULL_SCAN.match(detail)], shown
        if not sorts_matches:
            nested_sorts = [d for _, parent, d in plan if d.startswith("USE TEMP B-TREE") and parent != 0]
            assert not nested_sorts, shown


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("name", FILTERS)
def test_lists_walk_an_index_and_never_sort_the_table(bulk, people, name, sort):
    """Page 1, a page reached by cursor, and a deep OFFSET page: each along an index."""
    filters = _filters(FILTERS[name])
    admin = people["admin"]
    with recording() as statements:
        first = list_incidents(actor=admin, filters=filters, sort=sort, per_page=10)
        deep = list_incidents(actor=admin, filters=filters, sort=sort, per_page=100, page=12)
    if first.next_cursor:
        with recording() as more:
            list_incidents(actor=admin, filters=filters, sort=sort, per_page=10, cursor=first.next_cursor)
        statements += more
    assert first.total > 0 or name == "everything"
    assert deep.page == 12
    assert_indexed(statements)


@pytest.mark.parametrize("who", ["admin", "bulk-reporter-001"])
@pytest.mark.parametrize("name", SEARCHES)
def test_searches_go_through_the_search_index(bulk, people, name, who):
    """The full-text indexes name the matches (incidents, and events mapped to their incident by
    primary key); no scan of incidents or events (the sort is over the matches). For a reporter,
    internal notes are left out of the same lookups."""
    actor = people["admin"] if who == "admin" else user(who)
    with recording() as statements:
        page = list_incidents(actor=actor, filters=_filters(SEARCHES[name]), per_page=25)
        deep = list_incidents(actor=actor, filters=_filters(SEARCHES[name]), per_page=10, page=3)
    assert page.total > 0 or who != "admin"
    assert deep.total == page.total
    assert any("incidents_fts_events" in statement for statement, _ in statements)
    assert any("incidents_fts " in statement for statement, _ in statements)
    assert_indexed(statements, sorts_matches=True)


@pytest.mark.parametrize("who", ["admin", "bulk-tech-001", "bulk-reporter-001"])
def test_dashboards_are_indexed_walks_and_tallies(bulk, client, who):
    """Every statement of the dashboard page, for each role."""
    login(client, who, factories.PASSWORD if who == "admin" else BULK_PASSWORD)
    with recording() as statements:
        assert client.get("/").status_code == 200
    assert any("incident_tallies" in statement for statement, _ in statements)
    assert_indexed(statements)


def test_html_list_and_detail_are_indexed(bulk, client):
    """The HTML list with filters, and an incident page with its timeline."""
    login(client, "admin", factories.PASSWORD)
    with recording() as statements:
        assert client.get("/ui/incidents/?status=open&status=assigned&sort=-severity").status_code == 200
        assert client.get("/ui/incidents/1500").status_code == 200
    assert_indexed(statements)


def test_the_walk_has_the_longest_run_of_equality_filters():
    """The choice itself: equality filters in front of the sort key; several values only up front."""
    key = paging.choose
    assert key([], "-created_at", branching=True) == paging.Path()
    assert key([("status", ("open",))], "-created_at", branching=True).seek == {"status"}
    assert key([("status", ("open",)), ("severity", (3,))], "-created_at",
               branching=True).seek == {"status", "severity"}
    assert key([("status", ("open", "assigned"))], "created_at",
               branching=True) == paging.Path(frozenset({"status"}), "status")
    assert key([("status", ("open", "assigned"))], "created_at", branching=False) == paging.Path()
    assert key([("technician_id", (None,)), ("status", ("open",))], "-severity",
               branching=True).seek == {"status"}
    assert key([("reporter_id", (7,))], "-updated_at", branching=True) == paging.Path()


@pytest.mark.parametrize("grouping", [None, *Grouping])
def test_reports_read_their_indexes_only(bulk, people, grouping):
    """A summary, the daily report and the service levels: each statement on incidents reads an
    index (one skipping only over the grouping's values; never a walk of the whole table along an
    unrelated index, as the `ANY(category)` SQLite once chose for the backlog, or along created_at
    from the beginning of time). Ungrouped, and the
    backlog's open incidents in every grouping, an index that holds every column the statement
    needs (no table row)."""
    admin, period = people["admin"], reports.last_days(30, utcnow().date())
    with recording() as statements:
        summary = reports.summary(actor=admin, period=period, group_by=grouping)
        reports.service_levels(actor=admin, period=period, group_by=grouping)
        reports.daily(actor=admin, period=period)
    assert sum(group.created for group in summary.groups) > 0
    assert_indexed(statements, sorts_matches=True)
    for statement, parameters in statements:
        if "FROM incidents" not in statement:
            continue
        searches = [detail for _, _, detail in _plan(statement, parameters) if " incidents " in f"{detail} "]
        shown = "\n".join(searches) + "\n" + statement
        skipping = {column for detail in searches for column in re.findall(r"ANY\((\w+)\)", detail)}
        assert searches and skipping <= ({reports.KEY_COLUMNS[grouping].key} if grouping else set()), shown
        assert not [detail for detail in searches if detail.endswith("(created_at<?)")], shown  # all the past
        covered = searches if grouping is None else [d for d in searches if "ix_incidents_status_created" in d]
        assert all("COVERING INDEX" in detail for detail in covered), shown
