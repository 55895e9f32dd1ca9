"""The home page: what the dashboard shows each role, from indexed queries."""
from dataclasses import dataclass

from flask import render_template
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from app.auth.roles import Role
from app.caching import response_cache
from app.incidents import reports
from app.incidents.enums import Severity, Status
from app.incidents.lifecycle import ACTIVE_STATUSES
from app.incidents.queries import count_by, list_incidents
from app.models import Incident, User, utcnow
from app.web import bp
from app.web.listing import ME, NOBODY, ListQuery, parse_list_query

PANEL_SIZE = 10
SERVICE_DAYS = 30


@dataclass
class Panel:
    """One table of the dashboard: the first rows of the incident list for `query`, whose
    "View all" link is that list, so the table and the link cannot disagree."""

    title: str
    query: ListQuery
    incidents: list[Incident]
    total: int
    optional: bool = False
    """Hidden when empty (a prompt to act, not a view people look for)."""
    times: tuple[str, ...] = ("age",)
    """The time column the table shows (the `incident_table` macro's `times`): how old each incident
    is, or for a panel sorted by last change, when that was (what the panel is about)."""


@dataclass
class Dashboard:
    """The panels, the counts by status (all visible) and by severity (`active` only), and for
    staff the service levels of the last SERVICE_DAYS days (MTTA, MTTR, SLA met)."""

    panels: list[Panel]
    by_status: dict[Status, int]
    by_severity: dict[Severity, int]
    active: ListQuery
    service: reports.ServiceLevel | None = None
    service_period: reports.Period | None = None


def _list_query(user: User, **args) -> ListQuery:
    """The incident list's query for these query-string arguments, read as the list page reads them."""
    return parse_list_query(MultiDict(args), user)


def _panel(user: User, title: str, optional: bool = False, **args) -> Panel:
    """The panel showing the first PANEL_SIZE incidents of the list these arguments ask for; a list
    in order of last change shows when that was, any other how old each incident is."""
    query = _list_query(user, **args)
    page = list_incidents(actor=user, filters=query.filters, sort=query.sort, per_page=PANEL_SIZE)
    times = ("updated",) if query.sort.lstrip("-") == "updated_at" else ("age",)
    return Panel(title=title, query=query, incidents=page.items, total=page.total, optional=optional, times=times)


def dashboard_for(user: User) -> Dashboard:
    """Reporters: their incidents. Technicians: their queue first. Admins: triage and oldest open.
    Anyone with resolved incidents they reported: those, to close or reopen."""
    active = [status.value for status in ACTIVE_STATUSES]
    panels: list[Panel] = []
    if user.role == Role.TECHNICIAN:
        panels.append(_panel(user, "My queue", technician=ME,
                             status=[Status.ASSIGNED.value, Status.IN_PROGRESS.value, Status.ON_HOLD.value],
                             sort="-severity"))
    if user.role == Role.ADMIN:
        panels.append(_panel(user, "Unassigned — to triage", status=Status.OPEN.value, technician=NOBODY,
                             sort="-severity"))
        panels.append(_panel(user, "Oldest active incidents", status=active, sort="created_at"))
    panels.append(_panel(user, "Resolved — please confirm and close", optional=True, reporter=ME,
                         status=Status.RESOLVED.value))
    panels.append(_panel(user, "Reported by me", optional=user.role != Role.REPORTER, reporter=ME))
    if user.role != Role.REPORTER:
        panels.append(_panel(user, "Recently updated", sort="-updated_at"))
    active_only = _list_query(user, status=active)
    board = Dashboard(
        panels=panels,
        by_status=count_by(Incident.status, actor=user),
        by_severity=count_by(Incident.severity, actor=user, filters=active_only.filters),
        active=active_only,
    )
    if reports.may_read_reports(user):
        board.service_period = reports.last_days(SERVICE_DAYS, utcnow().date())
        board.service = reports.service_levels(actor=user, period=board.service_period)[0]
    return board


@bp.route("/")
@login_required
def dashboard():
    """The role-aware home page; its body shows only data, so it is reused until the next commit."""
    body = response_cache.fragment("web/_dashboard_body.html", lambda: {
        "board": dashboard_for(current_user), "statuses": list(Status), "severities": list(Severity)})
    return render_template("web/dashboard.html", body=body)
