"""Which mail each incident event writes to the outbox. Called only from the service, inside
its transaction, so a rolled-back change sends nothing and a committed one is never forgotten."""
from flask import current_app, render_template
from sqlalchemy import select

from app.extensions import db
from app.incidents.lifecycle import Role
from app.models import Incident, OutboxMessage, User


def incident_created(incident: Incident) -> None:
    """All active admins, and a confirmation to the reporter."""
    admins = db.session.scalars(select(User).where(User.role == Role.ADMIN, User.active.is_(True)))
    for admin in admins:
        _queue(incident, "created", admin, event_label="New incident")
    _queue(incident, "created_confirmation", incident.reporter, event_label="Received")


def incident_assigned(incident: Incident, *, previous_technician: User | None) -> None:
    """The (new) technician and the reporter."""
    label = "Reassigned" if previous_technician else "Assigned"
    _queue(incident, "assigned", incident.technician, event_label=label)
    if incident.reporter_id != incident.technician_id:
        _queue(incident, "assigned_reporter", incident.reporter, event_label=label)


def incident_resolved(incident: Incident) -> None:
    """The reporter, with the resolution notes."""
    _queue(incident, "resolved", incident.reporter, event_label="Resolved")


def _queue(incident: Incident, template: str, recipient: User, *, event_label: str) -> None:
    if recipient is None or not recipient.active or not recipient.email:
        return
    context = {
        "incident": incident,
        "recipient": recipient,
        "event_label": event_label,
        "link": f"{current_app.config['APP_BASE_URL']}/ui/incidents/{incident.id}",
    }
    db.session.add(OutboxMessage(
        incident_id=incident.id,
        event=template,
        recipient=recipient.email,
        subject=f"[{incident.reference}] {event_label}: {incident.title}",
        body_text=render_template(f"email/{template}.txt", **context),
        body_html=render_template(f"email/{template}.html", **context),
    ))
