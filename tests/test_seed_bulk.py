"""`flask seed --bulk N`: realistic, consistent, indexed, and counted exactly."""
from sqlalchemy import func, inspect, select, text

from app.extensions import db
from app.incidents import tallies
from app.incidents.enums import Status
from app.incidents.priority import MATRIX
from app.incidents.queries import IncidentFilters, list_incidents, timeline
from app.models import Incident, IncidentTally, User


def _schema_objects() -> set:
    """Index names of the incident tables, plus the triggers on SQLite (the bulk load sets them aside)."""
    inspector = inspect(db.engine)
    objects = {(table, index["name"]) for table in ("incidents", "incident_events")
               for index in inspector.get_indexes(table)}
    if db.engine.dialect.name == "sqlite":
        objects |= set(db.session.execute(text("SELECT type, name FROM sqlite_master WHERE type = 'trigger'")))
    return objects


def _tally_rows() -> dict:
    return {(t.scope, t.status, t.severity, t.category): t.n
            for t in db.session.scalars(select(IncidentTally)) if t.n}


def test_bulk_load_is_consistent_and_leaves_the_schema_whole(runner):
    """N incidents over every status, valid timelines, indexes and triggers back, tallies exact."""
    runner.invoke(args=["seed"])
    schema = _schema_objects()
    result = runner.invoke(args=["seed", "--bulk", "600"])
    assert result.exit_code == 0, result.output
    assert "Appended 600 generated incident(s)" in result.output
    assert _schema_objects() == schema
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 606
    statuses = dict(db.session.execute(select(Incident.status, func.count()).group_by(Incident.status)).all())
    assert set(statuses) == set(Status) and statuses[Status.CLOSED] > statuses[Status.OPEN]
    mixes = set(db.session.execute(select(Incident.severity, Incident.urgency, Incident.priority).distinct()).all())
    assert {(severity, urgency) for severity, urgency, _ in mixes} == set(MATRIX)
    assert all(priority == MATRIX[severity, urgency] for severity, urgency, priority in mixes)
    for incident in db.session.scalars(select(Incident).where(Incident.id > 6).limit(50)):
        events = timeline(incident=incident, viewer=incident.reporter)
        moves = [e for e in events if e.to_status is not None]
        assert moves[-1].to_status == incident.status and incident.version == len(moves)
        assert all(b.created_at >= a.created_at for a, b in zip(events, events[1:], strict=False))
        assert (incident.technician_id is None) == (incident.status == Status.OPEN)
        reporter = db.session.get(User, incident.reporter_id)
        assert reporter.username.startswith("bulk-reporter")
    kept = _tally_rows()
    tallies.rebuild()
    db.session.commit()
    assert _tally_rows() == kept


def test_bulk_data_is_searchable_and_appends(runner):
    """The search index covers generated rows; a second load appends after the first."""
    for _ in range(2):
        result = runner.invoke(args=["seed", "--bulk", "300"])
        assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 606
    admin = db.session.scalar(select(User).where(User.username == "admin1"))
    sample = db.session.scalar(select(Incident).where(Incident.id == 400))
    host = sample.title.rsplit(" ", 1)[-1]
    found = list_incidents(actor=admin, filters=IncidentFilters(q=host), per_page=100)
    assert sample.id in [item.id for item in found.items]
    assert all(host.split("-")[0] in i.title.lower() for i in found.items)


def test_bulk_refuses_a_non_positive_count(runner):
    """A clear usage error, nothing written."""
    result = runner.invoke(args=["seed", "--bulk", "0"])
    assert result.exit_code == 2 and "--bulk" in result.output
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
