"""Which mail each incident event writes to the outbox. Called only from the service, inside
its transaction, so a rolled-back change sends nothing and a committed one is never forgotten.

Bodies are rendered now, from the incident as this change leaves it; delivery happens later,
outside the request (app/mail)."""
from datetime import datetime

from flask import render_template
from sqlalchemy import select

from app.auth.roles import Role
from app.extensions import db
from app.incidents.enums import Clock, EventKind, SlaCalendar
from app.incidents.references import incident_url
from app.models import Incident, IncidentEvent, OutboxMessage, User


def incident_created(incident: Incident) -> None:
    """A confirmation to the reporter, and the new incident to every active admin."""
    queued: set[str] = set()
    _queue(incident, "created_confirmation", incident.reporter, "Created", queued)
    for admin in _active_admins():
        _queue(incident, "created", admin, "Created", queued)


def incident_assigned(incident: Incident, event: IncidentEvent, *, previous_technician: User | None) -> None:
    """The (new) technician, and the reporter."""
    label = "Reassigned" if previous_technician else "Assigned"
    queued: set[str] = set()
    extra = {"previous_technician": previous_technician}
    _queue(incident, "assigned", incident.technician, label, queued, **extra)
    _queue(incident, "assigned_reporter", incident.reporter, label, queued, **extra)


def incident_unassigned(incident: Incident, event: IncidentEvent, *, previous_technician: User) -> None:
    """The reporter: their incident lost its technician and waits to be assigned again."""
    _queue(incident, "unassigned_reporter", incident.reporter, "Unassigned", set(),
           previous_technician=previous_technician)


def status_changed(incident: Incident, event: IncidentEvent) -> None:
    """A move (start, on hold, resumed, resolved, closed, reopened). CORE STUB: the resolution
    still goes to the reporter only; the notifications helper mails every watcher."""
    if event.kind == EventKind.RESOLVED:
        _queue(incident, "resolved", incident.reporter, "Resolved", set())


def comment_added(incident: Incident, event: IncidentEvent) -> None:
    """A public comment. CORE STUB: nobody yet; the notifications helper mails every watcher."""


def sla_warning(incident: Incident, *, clock: Clock, due_at: datetime, seconds_left: int) -> None:
    """A clock passed 80 %: its technician, or every active admin while nobody is assigned."""
    label = f"SLA warning: {clock.value} due {_when(due_at)}"
    queued: set[str] = set()
    extra = _sla_context(incident, clock, due_at, seconds_left)
    if incident.technician is not None and incident.technician.active:
        _queue(incident, "sla_warning", incident.technician, label, queued, **extra)
        return
    for admin in _active_admins():
        _queue(incident, "sla_warning", admin, label, queued, **extra)


def sla_breached(incident: Incident, *, clock: Clock, due_at: datetime, seconds_left: int) -> None:
    """A clock ran out: its technician, if any, and every active admin."""
    label = f"SLA breached: {clock.value} was due {_when(due_at)}"
    queued: set[str] = set()
    extra = _sla_context(incident, clock, due_at, seconds_left)
    _queue(incident, "sla_breached", incident.technician, label, queued, **extra)
    for admin in _active_admins():
        _queue(incident, "sla_breached", admin, label, queued, **extra)


def _sla_context(incident: Incident, clock: Clock, due_at: datetime, seconds_left: int) -> dict:
    business = SlaCalendar(incident.sla_calendar) == SlaCalendar.BUSINESS
    return {
        "clock": clock.value,
        "due": _when(due_at),
        "left": _duration(abs(seconds_left)),
        "overdue": seconds_left < 0,
        "counted": "in business hours" if business else "around the clock",
        "target": _duration(60 * (incident.response_target_minutes if clock == Clock.RESPONSE
                                  else incident.resolve_target_minutes)),
    }


def _when(moment: datetime) -> str:
    """As the web pages show times: UTC to the minute."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: int) -> str:
    """'2 d 3 h', '1 h 5 min', '45 s': the two largest units, enough to act on."""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "min")]
    while parts and parts[0][0] == 0:
        parts.pop(0)
    if not parts:
        return f"{secs} s"
    return " ".join(f"{value} {unit}" for value, unit in parts[:2] if value)


def _active_admins() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
    ))


def _queue(incident: Incident, template: str, recipient: User | None, event_label: str,
           queued: set[str], **extra) -> None:
    # One mail per address per event: an admin who reports an incident gets the confirmation only.
    if recipient is None or not recipient.active or not recipient.email:
        return
    address = recipient.email.strip().lower()
    if address in queued:
        return
    queued.add(address)
    context = {
        "incident": incident,
        "recipient": recipient,
        "event_label": event_label,
        "link": incident_url(incident.id),
        **extra,
    }
    db.session.add(OutboxMessage(
        incident_id=incident.id,
        event=template,
        recipient=recipient.email,
        subject=f"[{incident.reference}] {event_label}: {incident.title}",
        body_text=render_template(f"email/{template}.txt", **context),
        body_html=render_template(f"email/{template}.html", **context),
    ))
