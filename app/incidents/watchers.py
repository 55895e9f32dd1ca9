"""Who watches an incident: the people its events are mailed to (app.incidents.notifications).

The reporter and the assigned technician watch automatically (the service adds them); anyone
who may see an incident may watch it, a reporter only their own; an admin may add or remove anyone
who may see it. Watching is not a change of the incident: no event, no new version."""
from sqlalchemy import or_, select

from app.auth.roles import Role
from app.database import write_transaction
from app.exceptions import InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.incidents.lifecycle import can_see
from app.models import Incident, IncidentWatcher, User, utcnow


def watchers_of(incident: Incident) -> list[User]:
    """Everyone watching, by name (inactive accounts included: they are listed, never mailed)."""
    return list(db.session.scalars(
        select(User).join(IncidentWatcher, IncidentWatcher.user_id == User.id)
        .where(IncidentWatcher.incident_id == incident.id).order_by(User.name, User.id)
    ))


def is_watching(user: User, incident: Incident) -> bool:
    return db.session.get(IncidentWatcher, (incident.id, user.id)) is not None


def addable(incident: Incident) -> list[User]:
    """The people an admin may add: active, allowed to see the incident, not watching yet; by name."""
    watching = select(IncidentWatcher.user_id).where(IncidentWatcher.incident_id == incident.id)
    # Narrowed in SQL (no other reporter can see it) so thousands of reporters are not read; can_see decides.
    users = db.session.scalars(select(User).where(
        User.active.is_(True), User.id.not_in(watching),
        or_(User.role != Role.REPORTER, User.id == incident.reporter_id)).order_by(User.name, User.id))
    return [user for user in users if can_see(user, incident)]


def add_automatically(incident: Incident, user: User | None) -> None:
    """Inside the caller's transaction: the reporter on creation, a technician on assignment."""
    if user is not None and db.session.get(IncidentWatcher, (incident.id, user.id)) is None:
        db.session.add(IncidentWatcher(incident_id=incident.id, user_id=user.id, created_at=utcnow()))


def watch(*, actor: User, incident: Incident, user_id: int | None = None) -> User:
    """`actor` watches the incident, or (admins) makes `user_id` watch it. Watching twice is watching."""
    if not can_see(actor, incident):
        raise NotFound(f"Incident {incident.id} was not found.")
    user = actor if user_id is None or user_id == actor.id else _other(actor, user_id)
    if not can_see(user, incident):
        raise InvalidInput.field("user_id", f"{user.username} may not see {incident.reference}.")
    with write_transaction():
        add_automatically(incident, user)
    return user


def unwatch(*, actor: User, incident: Incident, user_id: int) -> None:
    """Stop watching (yourself, or anyone for an admin). NotFound when that person was not watching."""
    if not can_see(actor, incident):
        raise NotFound(f"Incident {incident.id} was not found.")
    if user_id != actor.id and actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins may remove other watchers.")
    with write_transaction():
        row = db.session.get(IncidentWatcher, (incident.id, user_id))
        if row is None:
            raise NotFound(f"User {user_id} is not watching {incident.reference}.")
        db.session.delete(row)


def _other(actor: User, user_id: int) -> User:
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins may add other people as watchers.")
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise InvalidInput.field("user_id", "Must be the id of an active user.")
    return user
