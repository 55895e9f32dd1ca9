"""What the dashboard shows each role, from indexed queries."""
from dataclasses import dataclass, field

from app.auth.roles import Role
from app.incidents.enums import Severity, Status
from app.incidents.lifecycle import ACTIVE_STATUSES
from app.incidents.queries import IncidentFilters, count_by, list_incidents
from app.models import Incident, User

PANEL_SIZE = 10


@dataclass
class Panel:
    """One table of the dashboard and the list view that shows all of it."""

    title: str
    incidents: list[Incident]
    total: int
    link_args: dict = field(default_factory=dict)
    optional: bool = False
    """Hidden when empty (a prompt to act, not a view people look for)."""


@dataclass
class Dashboard:
    """The panels, and the counts by status (all visible) and by severity (active only)."""

    panels: list[Panel]
    by_status: dict[Status, int]
    by_severity: dict[Severity, int]


def _panel(user: User, title: str, filters: IncidentFilters, link_args: dict, sort="-created_at",
           optional: bool = False) -> Panel:
    page = list_incidents(actor=user, filters=filters, sort=sort, per_page=PANEL_SIZE)
    return Panel(title=title, incidents=page.items, total=page.total, link_args=link_args, optional=optional)


def dashboard_for(user: User) -> Dashboard:
    """Reporters: their incidents. Technicians: their queue first. Admins: triage and oldest open.
    Anyone with resolved incidents they reported: those, to close or reopen."""
    active = list(ACTIVE_STATUSES)
    panels: list[Panel] = []
    if user.role == Role.TECHNICIAN:
        panels.append(_panel(user, "My queue",
                             IncidentFilters(technician_id=user.id, status=[Status.ASSIGNED, Status.IN_PROGRESS]),
                             {"technician": "me", "status": ["assigned", "in_progress"], "sort": "-severity"},
                             sort="-severity"))
    if user.role == Role.ADMIN:
        panels.append(_panel(user, "Unassigned — to triage",
                             IncidentFilters(status=[Status.OPEN], unassigned=True),
                             {"status": "open", "technician": "none", "sort": "-severity"}, sort="-severity"))
        panels.append(_panel(user, "Oldest active incidents", IncidentFilters(status=active),
                             {"status": [s.value for s in active], "sort": "created_at"}, sort="created_at"))
    panels.append(_panel(user, "Resolved — please confirm and close",
                         IncidentFilters(reporter_id=user.id, status=[Status.RESOLVED]),
                         {"reporter": "me", "status": "resolved"}, optional=True))
    mine = IncidentFilters(reporter_id=user.id)
    panels.append(_panel(user, "Reported by me", mine, {"reporter": "me"}, optional=user.role != Role.REPORTER))
    if user.role != Role.REPORTER:
        panels.append(_panel(user, "Recently updated", IncidentFilters(), {"sort": "-updated_at"},
                             sort="-updated_at"))
    return Dashboard(
        panels=panels,
        by_status=count_by(Incident.status, actor=user),
        by_severity=count_by(Incident.severity, actor=user, filters=IncidentFilters(status=active)),
    )
