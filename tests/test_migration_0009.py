"""Migration 0009 on a populated database made at 0008: every incident's reporter, and its technician
when it has one, become its watchers (once when they are the same person); every user keeps all
notification categories on; existing events are public; the models match at the head; down to 0008
(internal notes deleted, so that code cannot show them) and up again round-trips."""
import flask_migrate
import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from tests.schema import differences_from_the_models

# id -> (status, reporter id, technician id)
INCIDENTS = {
    1: ("open", 1, None),
    2: ("assigned", 1, 2),
    3: ("in_progress", 4, 2),
    4: ("resolved", 2, 2),  # a technician who reported their own incident and works on it
    5: ("closed", 4, 5),
}
EXPECTED_WATCHERS = {(1, 1), (2, 1), (2, 2), (3, 4), (3, 2), (4, 2), (5, 4), (5, 5)}


def _populate() -> None:
    db.session.execute(text(
        "INSERT INTO users (id, username, username_key, name, email, role, password_hash, active, session_version, "
        "created_at) VALUES "
        "(1, 'ann', 'ann', 'Ann', 'ann@example.test', 'reporter', 'x', 1, 0, '2024-01-01 00:00:00'), "
        "(2, 'tom', 'tom', 'Tom', 'tom@example.test', 'technician', 'x', 1, 0, '2024-01-01 00:00:00'), "
        "(3, 'ada', 'ada', 'Ada', 'ada@example.test', 'admin', 'x', 1, 0, '2024-01-01 00:00:00'), "
        "(4, 'bob', 'bob', 'Bob', 'bob@example.test', 'reporter', 'x', 1, 0, '2024-01-01 00:00:00'), "
        "(5, 'tia', 'tia', 'Tia', 'tia@example.test', 'technician', 'x', 0, 0, '2024-01-01 00:00:00')"))
    for n, (status, reporter, technician) in INCIDENTS.items():
        db.session.execute(text(
            "INSERT INTO incidents (id, title, description, severity, category, urgency, priority, status, "
            "reporter_id, technician_id, created_at, updated_at, assigned_at, version, sla_calendar, "
            "response_target_minutes, resolve_target_minutes, resolve_spent_seconds, sla_notices) "
            "VALUES (:id, :title, 'd', 2, 'other', 'medium', 'P3', :status, :reporter, :tech, "
            "'2024-01-02 10:00:00', '2024-01-02 10:00:00', :assigned, 1, 'business', 240, 1440, 0, 0)"),
            {"id": n, "title": f"Incident {n}", "status": status, "reporter": reporter, "tech": technician,
             "assigned": None if technician is None else "2024-01-02 10:30:00"})
        db.session.execute(text(
            "INSERT INTO incident_events (incident_id, actor_id, kind, created_at, to_status, body) "
            "VALUES (:n, :reporter, 'created', '2024-01-02 10:00:00', 'open', NULL), "
            "(:n, :reporter, 'commented', '2024-01-02 10:05:00', NULL, 'Still broken.')"),
            {"n": n, "reporter": reporter})
    db.session.commit()


def _scalar(sql: str):
    return db.session.execute(text(sql)).scalar()


@pytest.mark.sqlite_only
def test_upgrade_fills_watchers_keeps_switches_on_then_round_trips(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        flask_migrate.upgrade(revision="0008")
        _populate()
        for _ in range(2):
            flask_migrate.upgrade(revision="0009")
            watchers = set(db.session.execute(text("SELECT incident_id, user_id FROM incident_watchers")).all())
            assert watchers == EXPECTED_WATCHERS
            assert _scalar("SELECT count(*) FROM users WHERE notify_comments AND notify_status AND notify_sla") == 5
            assert _scalar("SELECT count(*) FROM incident_events WHERE internal") == 0
            assert _scalar("SELECT count(*) FROM incident_events") == 2 * len(INCIDENTS)
            assert _scalar("SELECT count(*) FROM attachments") == 0
            db.session.execute(text(  # the new shapes take rows
                "INSERT INTO attachments (incident_id, filename, size, content_type, sha256, uploaded_by_id, "
                "created_at) VALUES (1, 'log.txt', 3, 'text/plain', :sha, 1, '2024-01-03 00:00:00')"),
                {"sha": "a" * 64})
            db.session.execute(text(
                "INSERT INTO incident_events (incident_id, actor_id, kind, created_at, body, internal) "
                "VALUES (1, 2, 'commented', '2024-01-03 00:00:00', 'Staff only.', 1)"))
            db.session.commit()
            flask_migrate.upgrade()
            assert differences_from_the_models() == []
            db.session.commit()
            flask_migrate.downgrade(revision="0008")
            tables = {row[0] for row in db.session.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
            assert not {"incident_watchers", "attachments"} & tables
            user_columns = {row[1] for row in db.session.execute(text("PRAGMA table_info(users)"))}
            assert not {"notify_comments", "notify_status", "notify_sla"} & user_columns
            assert _scalar("SELECT count(*) FROM incidents") == len(INCIDENTS)
            # The internal note is gone (0008 would show it to the reporter); the public events stay.
            assert _scalar("SELECT count(*) FROM incident_events WHERE body = 'Staff only.'") == 0
            assert _scalar("SELECT count(*) FROM incident_events") == 2 * len(INCIDENTS)
            db.session.commit()
        db.engine.dispose()
