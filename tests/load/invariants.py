"""What the database must hold whatever happened to the server: a sound file, every incident with
its `created` event first and its created mail, a version that counts its changes, and tallies
that agree with the incidents. Read after the server is gone, through the app's own models."""
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select, text

from app import create_app
from app.extensions import db
from app.incidents import tallies
from app.incidents.enums import EventKind
from app.models import Incident, IncidentEvent, IncidentTally, OutboxMessage


@dataclass
class Figures:
    """What the database held when it was checked."""

    incidents: int
    events: Counter
    mails: int
    comment_mails: int = 0


def check(database_url: str, *, admins: int) -> Figures:
    """Raise AssertionError naming the first broken invariant; return the figures otherwise.

    Assumes the workload's requests each make one change (an edit, a move or a comment), so an
    incident's version is the number of its events that are not comments."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        try:
            return _check(admins)
        finally:
            db.session.remove()
            db.engine.dispose()


def _check(admins: int) -> Figures:
    session = db.session
    if session.get_bind().dialect.name == "sqlite":
        assert session.execute(text("PRAGMA integrity_check")).scalars().all() == ["ok"]
        assert session.execute(text("PRAGMA foreign_key_check")).all() == []
    incidents = session.scalars(select(Incident).order_by(Incident.id)).all()
    events: dict[int, list[IncidentEvent]] = {incident.id: [] for incident in incidents}
    for event in session.scalars(select(IncidentEvent).order_by(IncidentEvent.id)):
        assert event.incident_id in events, f"event {event.id} of a missing incident {event.incident_id}"
        events[event.incident_id].append(event)
    mails = Counter(session.execute(select(OutboxMessage.incident_id, OutboxMessage.event)).all())
    for incident in incidents:
        kinds = [event.kind for event in events[incident.id]]
        assert kinds and kinds[0] == EventKind.CREATED and kinds.count(EventKind.CREATED) == 1, \
            f"{incident.reference}: half-written (events {kinds})"
        changes = sum(1 for kind in kinds if kind != EventKind.COMMENTED)
        assert incident.version == changes, f"{incident.reference}: version {incident.version}, {changes} changes"
        assert mails[(incident.id, "created_confirmation")] == 1, f"{incident.reference}: no confirmation mail"
        assert mails[(incident.id, "created")] == admins, f"{incident.reference}: admins' mail missing"
        if incident.technician_id is None:
            # Its only watcher is its reporter: one mail for each public comment somebody else wrote.
            by_others = sum(1 for event in events[incident.id] if event.kind == EventKind.COMMENTED
                            and not event.internal and event.actor_id != incident.reporter_id)
            assert mails[(incident.id, "commented")] == by_others, f"{incident.reference}: comment mail"
    _check_tallies(incidents)
    return Figures(incidents=len(incidents),
                   events=Counter(event.kind.value for rows in events.values() for event in rows),
                   mails=sum(mails.values()),
                   comment_mails=sum(n for (_, event), n in mails.items() if event == "commented"))


def _check_tallies(incidents: list[Incident]) -> None:
    """The running counts the service keeps in the same transactions equal a fresh count."""
    expected = Counter(key for incident in incidents for key in tallies.snapshot(incident))
    stored = {(row.scope, row.status, row.severity, row.category): row.n
              for row in db.session.scalars(select(IncidentTally)) if row.n}
    assert stored == dict(expected), "incident tallies disagree with the incidents"
