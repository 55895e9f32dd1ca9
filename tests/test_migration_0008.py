"""Migration 0008 on a populated database made at 0007: every incident, in every status, gets its
priority's default targets and the clocks its timeline gives (figures worked out by hand below);
the models match at the head; down to 0007 and up again round-trips."""
import flask_migrate
import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from tests.schema import differences_from_the_models

DAY = "2024-01-02"  # a Tuesday; the default business calendar is Mon-Fri 09:00-17:00 UTC
# id -> (status, severity rank, priority, created, [(kind, time, actor id)])
INCIDENTS = {
    1: ("open", 3, "P2", "10:00", []),
    2: ("assigned", 3, "P2", "10:00", [("assigned", "10:30", 3)]),
    3: ("in_progress", 4, "P1", "10:00", [("assigned", "10:05", 3), ("status_changed", "10:10", 2)]),
    4: ("on_hold", 3, "P2", "10:00", [("assigned", "10:10", 3), ("status_changed", "10:20", 2),
                                      ("on_hold", "11:00", 2)]),
    5: ("resolved", 3, "P2", "10:00", [("assigned", "10:10", 3), ("status_changed", "10:20", 2),
                                       ("resolved", "12:00", 2)]),
    6: ("closed", 3, "P2", "10:00", [("assigned", "10:10", 3), ("status_changed", "10:20", 2),
                                     ("resolved", "12:00", 2), ("closed", "13:00", 3)]),
    7: ("assigned", 3, "P2", "10:00", [("assigned", "10:10", 3), ("status_changed", "10:20", 2),
                                       ("resolved", "12:00", 2), ("reopened", "14:00", 1)]),
    8: ("open", 3, "P2", "10:00", [("commented", "10:05", 1), ("commented", "10:20", 3)]),
    9: ("open", 2, "P3", "16:00", []),
}
# The status each kind of event moves to, as the service writes them (a comment moves nothing).
TO_STATUS = {"created": "open", "assigned": "assigned", "status_changed": "in_progress", "on_hold": "on_hold",
             "resolved": "resolved", "closed": "closed", "reopened": "assigned"}
# id -> (responded_at, response_due_at, resolve_due_at, resolve_spent_seconds, sla_next_check_at), by hand:
EXPECTED = {
    1: (None, "2024-01-02 11:00:00", "2024-01-02 18:00:00", 0, "2024-01-02 10:48:00"),
    2: ("2024-01-02 10:30:00", "2024-01-02 11:00:00", "2024-01-02 18:00:00", 0, "2024-01-02 16:24:00"),
    3: ("2024-01-02 10:05:00", "2024-01-02 10:15:00", "2024-01-02 14:00:00", 0, "2024-01-02 13:12:00"),
    4: ("2024-01-02 10:10:00", "2024-01-02 11:00:00", None, 3600, None),  # paused after an hour
    5: ("2024-01-02 10:10:00", "2024-01-02 11:00:00", "2024-01-02 18:00:00", 7200, None),
    6: ("2024-01-02 10:10:00", "2024-01-02 11:00:00", "2024-01-02 18:00:00", 7200, None),
    # Two hours spent before the resolution; reopened at 14:00, six hours left: due 20:00, 80 % at 18:24.
    7: ("2024-01-02 10:10:00", "2024-01-02 11:00:00", "2024-01-02 20:00:00", 7200, "2024-01-02 18:24:00"),
    8: ("2024-01-02 10:20:00", "2024-01-02 11:00:00", "2024-01-02 18:00:00", 0, "2024-01-02 16:24:00"),
    # P3 on business hours from Tuesday 16:00: 4 h response is 1 h on Tuesday and 3 h on Wednesday.
    9: (None, "2024-01-03 12:00:00", "2024-01-05 16:00:00", 0, "2024-01-03 11:12:00"),
}


def _populate() -> None:
    db.session.execute(text(
        "INSERT INTO users (id, username, username_key, name, email, role, password_hash, active, session_version, "
        "created_at) VALUES "
        "(1, 'ann', 'ann', 'Ann', 'ann@example.test', 'reporter', 'x', 1, 0, '2024-01-01 00:00:00'), "
        "(2, 'tom', 'tom', 'Tom', 'tom@example.test', 'technician', 'x', 1, 0, '2024-01-01 00:00:00'), "
        "(3, 'ada', 'ada', 'Ada', 'ada@example.test', 'admin', 'x', 1, 0, '2024-01-01 00:00:00')"))
    for n, (status, rank, priority, created, events) in INCIDENTS.items():
        db.session.execute(text(
            "INSERT INTO incidents (id, title, description, severity, category, urgency, priority, status, "
            "reporter_id, technician_id, created_at, updated_at, version) VALUES (:id, :title, 'd', :rank, "
            "'other', 'medium', :priority, :status, 1, :tech, :created, :created, 1)"),
            {"id": n, "title": f"Incident {n}", "rank": rank, "priority": priority, "status": status,
             "tech": None if status == "open" else 2, "created": f"{DAY} {created}:00"})
        for kind, when, actor in [("created", created, 1), *events]:
            db.session.execute(text(
                "INSERT INTO incident_events (incident_id, actor_id, kind, created_at, to_status) VALUES (:n, :actor, "
                ":kind, :at, :to)"), {"n": n, "actor": actor, "kind": kind, "at": f"{DAY} {when}:00",
                                     "to": TO_STATUS.get(kind)})
    db.session.commit()


def _stored() -> dict[int, tuple]:
    rows = db.session.execute(text(
        "SELECT id, responded_at, response_due_at, resolve_due_at, resolve_spent_seconds, sla_next_check_at "
        "FROM incidents ORDER BY id"))
    return {row[0]: tuple(value[:19] if isinstance(value, str) else value for value in row[1:]) for row in rows}


@pytest.mark.sqlite_only
def test_upgrade_derives_the_clocks_from_each_timeline_then_round_trips(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        flask_migrate.upgrade(revision="0007")
        _populate()
        for _ in range(2):
            flask_migrate.upgrade(revision="0008")
            assert _stored() == EXPECTED
            targets = db.session.execute(text(
                "SELECT priority, sla_calendar, response_target_minutes, resolve_target_minutes FROM incidents")).all()
            assert set(targets) == {("P1", "24x7", 15, 240), ("P2", "24x7", 60, 480), ("P3", "business", 240, 1440)}
            assert db.session.execute(text("SELECT count(*) FROM sla_policies")).scalar() == 0
            db.session.execute(text(  # the portal's own events have no actor
                "INSERT INTO incident_events (incident_id, actor_id, kind, created_at) "
                "VALUES (1, NULL, 'sla_warning', '2024-01-02 10:48:00')"))
            db.session.commit()
            flask_migrate.upgrade()
            assert differences_from_the_models() == []
            db.session.commit()
            flask_migrate.downgrade(revision="0007")
            columns = {row[1] for row in db.session.execute(text("PRAGMA table_info(incidents)"))}
            assert not {"responded_at", "resolve_due_at", "sla_notices"} & columns
            assert db.session.execute(text("SELECT count(*) FROM incidents")).scalar() == len(INCIDENTS)
            assert db.session.execute(text("SELECT count(*) FROM incident_events WHERE actor_id IS NULL")).scalar() == 0
            db.session.commit()
        db.engine.dispose()
