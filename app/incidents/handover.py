"""A technician leaving duty (deactivated, or given another role) hands over their active incidents,
in the same transaction as the account change: to another active technician (`reassign_to`) or
back to `open` for triage (`unassign`). A change that says neither is refused with the list, so no
incident is left with someone who cannot act on it."""
from sqlalchemy import select

from app.auth.roles import Role
from app.exceptions import InvalidInput, TransitionNotAllowed
from app.extensions import db
from app.incidents import service
from app.incidents.lifecycle import ACTIVE_STATUSES, can_hold_incidents
from app.models import MAX_ID, Incident, User, utcnow


class IncidentsHeld(TransitionNotAllowed):
    """The technician still holds active incidents; the refusal lists them (problem+json `incidents`)."""

    def __init__(self, technician: User, incidents: list[Incident]):
        references = ", ".join(incident.reference for incident in incidents)
        super().__init__(f"{technician.username} holds {len(incidents)} active incident(s) ({references}). "
                         "Say where they go: reassign_to (the id of another active technician) or "
                         "unassign: true (back to open).")
        self.extra = {"incidents": [
            {"id": incident.id, "reference": incident.reference, "title": incident.title,
             "status": incident.status.value}
            for incident in incidents
        ]}


def held_incidents(technician: User) -> list[Incident]:
    """The technician's active incidents (assigned, in progress or on hold), oldest first."""
    return list(db.session.scalars(
        select(Incident).where(Incident.technician_id == technician.id, Incident.status.in_(ACTIVE_STATUSES))
        .order_by(Incident.id)
    ))


def leaves_duty(user: User, *, role=None, active: bool | None = None) -> bool:
    """True when this change of role or active flag leaves a technician unable to hold incidents.
    (An already deactivated technician counts: it repairs incidents stranded before this rule.)"""
    if user.role != Role.TECHNICIAN or (role is None and active is None):
        return False
    stays = (role is None or Role(role) == Role.TECHNICIAN) and (user.active if active is None else active)
    return not stays


def hand_over(*, actor: User, user: User, role=None, active: bool | None = None,
              reassign_to: int | None = None, unassign: bool = False) -> list[Incident]:
    """Inside the account change's transaction, before it: if the change takes a technician off
    duty, move each of their active incidents to `reassign_to` or back to `open` (`unassign`), or
    refuse with the list (409) when the change says neither. Returns the incidents moved."""
    leaving = leaves_duty(user, role=role, active=active)
    _check_choice(user, leaving=leaving, reassign_to=reassign_to, unassign=unassign)
    incidents = held_incidents(user) if leaving else []
    if incidents and reassign_to is None and not unassign:
        raise IncidentsHeld(user, incidents)
    why = "was deactivated" if active is False else "is no longer a technician"
    note = f"Handed over: {user.username} {why}."
    now = utcnow()
    for incident in incidents:
        service.hand_over_incident(actor=actor, incident=incident, technician_id=reassign_to, note=note, now=now)
    return incidents


def _check_choice(user: User, *, leaving: bool, reassign_to, unassign: bool) -> None:
    """One place for the incidents to go, only when a technician leaves, and a technician who can take them."""
    asked = [name for name, given in (("reassign_to", reassign_to is not None), ("unassign", bool(unassign)))
             if given]
    if len(asked) == 2:
        raise InvalidInput({name: ["Send reassign_to or unassign, not both."] for name in asked})
    if asked and not leaving:
        raise InvalidInput({name: ["Only when deactivating a technician or giving them another role."]
                            for name in asked})
    if reassign_to is None:
        return
    in_range = isinstance(reassign_to, int) and not isinstance(reassign_to, bool) and 0 < reassign_to <= MAX_ID
    target = db.session.get(User, reassign_to) if in_range else None
    if not can_hold_incidents(target) or target.id == user.id:
        raise InvalidInput.field("reassign_to", "Must be the id of another active technician.")
