"""Test data built through the real service functions, so every row is one the app could make."""
from itertools import count

from app.auth.roles import Role
from app.auth.service import create_user, update_user
from app.incidents import service
from app.incidents.enums import Status
from app.models import Incident, User

PASSWORD = "password123"
_seq = count(1)


def make_user(role: Role | str = Role.REPORTER, *, username: str | None = None, active: bool = True,
              password: str = PASSWORD) -> User:
    """A user of `role`; deactivated afterwards when `active=False`."""
    role = Role(role)
    username = username or f"{role.value}{next(_seq)}"
    user = create_user(username=username, password=password, role=role, name=username.title(),
                       email=f"{username}@example.test")
    if not active:
        update_user(user=user, active=False)
    return user


def make_incident(reporter: User, **fields) -> Incident:
    """An open incident reported by `reporter`."""
    n = next(_seq)
    return service.create_incident(actor=reporter, title=fields.pop("title", f"Incident {n}"),
                                   description=fields.pop("description", f"Description {n}"), **fields)


def bring_to(status: Status, *, incident: Incident, admin: User, technician: User) -> Incident:
    """Walk an open incident along the happy path until it reaches `status`."""
    path = [Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED]
    if status == Status.ON_HOLD:
        path = [Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD]
    steps = {
        Status.ASSIGNED: lambda: service.assign_incident(actor=admin, incident=incident,
                                                         technician_id=technician.id),
        Status.IN_PROGRESS: lambda: service.start_incident(actor=technician, incident=incident),
        Status.ON_HOLD: lambda: service.hold_incident(actor=technician, incident=incident,
                                                      reason="Waiting on the vendor."),
        Status.RESOLVED: lambda: service.resolve_incident(actor=technician, incident=incident,
                                                          resolution_notes="Fixed it."),
        Status.CLOSED: lambda: service.close_incident(actor=admin, incident=incident),
    }
    for step in path[: path.index(status) + 1] if status != Status.OPEN else []:
        steps[step]()
    assert incident.status == status
    return incident
