"""Incidents as the API writes them, written out by hand.

`IncidentSummarySchema`, `IncidentSchema` and `IncidentPageSchema` (app/api/schemas.py) document the
shapes and stay the contract: the OpenAPI document is made from them, and
tests/test_api_incident_json.py holds every answer written here equal to their `dump` of the same
incident, field for field, across every status, clock and calendar. Writing a page through
marshmallow cost about 250 Python calls per incident (most of a computed list's time); this is a
dictionary per incident. One `now` serves a whole page, so every item's clocks are read at the
same instant."""
from datetime import datetime
from typing import Any

from app.incidents.markdown import render_or_none
from app.incidents.queries import Page
from app.incidents.sla import view as sla_view
from app.models import Incident, User, utcnow
from app.times import utc_text


def _time(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def _person(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.id, "username": user.username, "name": user.name}


def _clocks(incident: Incident, now: datetime) -> dict[str, Any]:
    view = sla_view(incident, now)
    response, resolve = view["response"], view["resolve"]
    return {
        "response": {"due_at": _time(response["due_at"]), "state": response["state"],
                     "remaining_seconds": response["remaining_seconds"]},
        "resolve": {"due_at": _time(resolve["due_at"]), "state": resolve["state"],
                    "remaining_seconds": resolve["remaining_seconds"]},
        "paused": view["paused"],
    }


def summary(incident: Incident, now: datetime | None = None) -> dict[str, Any]:
    """One incident as a list shows it (IncidentSummarySchema)."""
    return {
        "id": incident.id,
        "reference": incident.reference,
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity.value,
        "urgency": incident.urgency.value,
        "priority": incident.priority.value,
        "category": incident.category.value,
        "status": incident.status.value,
        "reporter": _person(incident.reporter),
        "technician": _person(incident.technician),
        "resolution_notes": incident.resolution_notes,
        "created_at": _time(incident.created_at),
        "updated_at": _time(incident.updated_at),
        "assigned_at": _time(incident.assigned_at),
        "resolved_at": _time(incident.resolved_at),
        "closed_at": _time(incident.closed_at),
        "version": incident.version,
        "responded_at": _time(incident.responded_at),
        "response_due_at": _time(incident.response_due_at),
        "resolve_due_at": _time(incident.resolve_due_at),
        "sla": _clocks(incident, now or utcnow()),
    }


def full(incident: Incident) -> dict[str, Any]:
    """One incident with its Markdown rendered (IncidentSchema): what reading, reporting or
    changing it answers."""
    written = summary(incident)
    for name in ("description", "resolution_notes"):
        written[f"{name}_html"] = render_or_none(written[name])
    return written


def page(listed: Page) -> dict[str, Any]:
    """One page of a listing (IncidentPageSchema)."""
    now = utcnow()
    return {
        "items": [summary(incident, now) for incident in listed.items],
        "page": listed.page,
        "per_page": listed.per_page,
        "total": listed.total,
        "next": listed.next_cursor,
        "prev": listed.prev_cursor,
    }
