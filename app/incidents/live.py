"""What an open incident page needs to know to tell its reader that the incident changed, and the
people its timeline names.

A page polls `state` (app/web/detail.py, every few seconds): the incident's version moves with
every change of its fields, and the last event's id with every comment and attachment too (those
leave the version alone). Both are read as the viewer may see them: a reporter's page is never
told about an internal note, not even that one was written."""
from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.incidents.lifecycle import sees_internal
from app.models import Incident, IncidentEvent, User


@dataclass(frozen=True)
class LiveState:
    """Where an incident stands for one viewer, and who moved it last."""

    version: int
    last_event_id: int
    by: User | None
    """Who recorded the last event this viewer may see; None when the portal did (an SLA notice)."""


def state(*, incident: Incident, viewer: User) -> LiveState:
    """The incident's version and its last event visible to `viewer`: one indexed query."""
    query = select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
    if not sees_internal(viewer):
        query = query.where(IncidentEvent.internal.is_(False))
    last = db.session.scalars(query.order_by(IncidentEvent.id.desc()).limit(1)).first()
    return LiveState(version=incident.version, last_event_id=last.id if last else 0,
                     by=last.actor if last else None)


def people_named(usernames: set[str]) -> dict[str, User]:
    """The users behind the usernames an event recorded (an assignment's old and new technician),
    by username: the timeline names every person the same way. Users are never deleted, so each
    name is found; one query for the whole timeline."""
    names = {name for name in usernames if name}
    if not names:
        return {}
    return {user.username: user for user in db.session.scalars(select(User).where(User.username.in_(names)))}
