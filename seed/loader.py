"""Load `seed/*.json` idempotently: what exists is left alone, what is missing is created."""
import json
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select

from app.auth.service import create_user
from app.extensions import db
from app.incidents import service, watchers
from app.models import Incident, OutboxMessage, User, utcnow

SEED_DIR = Path(__file__).resolve().parent


def _read(name: str) -> dict:
    return json.loads((SEED_DIR / name).read_text(encoding="utf-8"))


def reset_database() -> None:
    """Delete every row of every table of the models, children first (the schema stays)."""
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(delete(table))
    db.session.commit()


def seed_users() -> int:
    """Create the demo users that do not exist yet; returns how many were created."""
    data = _read("users.json")
    created = 0
    for entry in data["users"]:
        if db.session.scalar(select(User.id).where(User.username == entry["username"])) is None:
            create_user(password=data["password"], **entry)
            created += 1
    return created


def seed_incidents(now: datetime | None = None) -> int:
    """Replay each sample incident's story through the service; returns how many were created.

    Mail for this invented history is not queued: the outbox rows it caused are removed."""
    now = now or utcnow()
    users = {u.username: u for u in db.session.scalars(select(User))}
    first_new_mail = (db.session.scalar(select(func.max(OutboxMessage.id))) or 0) + 1
    created = 0
    for entry in _read("incidents.json")["incidents"]:
        reporter = users[entry["reporter"]]
        exists = db.session.scalar(select(Incident.id).where(
            Incident.title == entry["title"], Incident.reporter_id == reporter.id))
        if exists is not None:
            continue
        incident = service.create_incident(
            actor=reporter, title=entry["title"], description=entry["description"],
            severity=entry["severity"], urgency=entry.get("urgency"), category=entry["category"],
            at=now - timedelta(hours=entry["hours_ago"]))
        for step in entry["steps"]:
            _replay(step, incident, users, now - timedelta(hours=step["hours_ago"]))
        created += 1
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.id >= first_new_mail))
    db.session.commit()
    return created


def _replay(step: dict, incident: Incident, users: dict[str, User], at: datetime) -> None:
    actor = users[step["actor"]]
    action = step["action"]
    if action == "assign":
        service.assign_incident(actor=actor, incident=incident, technician_id=users[step["technician"]].id, at=at)
    elif action == "start":
        service.start_incident(actor=actor, incident=incident, at=at)
    elif action == "hold":
        service.hold_incident(actor=actor, incident=incident, reason=step["reason"], at=at)
    elif action == "resolve":
        service.resolve_incident(actor=actor, incident=incident, resolution_notes=step["resolution_notes"], at=at)
    elif action == "close":
        service.close_incident(actor=actor, incident=incident, at=at)
    elif action == "reopen":
        service.reopen_incident(actor=actor, incident=incident, reason=step["reason"], at=at)
    elif action == "comment":
        service.add_comment(actor=actor, incident=incident, body=step["body"], internal=step.get("internal", False),
                            at=at)
    elif action == "watch":
        watchers.watch(actor=actor, incident=incident)
    else:
        raise ValueError(f"unknown seed action {action!r}")
