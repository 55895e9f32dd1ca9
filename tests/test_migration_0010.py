"""Migration 0010 on a populated database made at 0009: existing events get `via` NULL (they came
through the web or the API), the three new tables start empty and take rows, the models match at the
head; down to 0009 drops the three tables and the column, and up again round-trips."""
import flask_migrate
import pytest
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from tests.schema import differences_from_the_models

NEW_TABLES = {"inbound_messages", "webhook_endpoints", "webhook_deliveries"}


def _populate() -> None:
    db.session.execute(text(
        "INSERT INTO users (id, username, username_key, name, email, role, password_hash, active, session_version, "
        "created_at) VALUES "
        "(1, 'ann', 'ann', 'Ann', 'ann@example.test', 'reporter', 'x', true, 0, '2024-01-01 00:00:00'), "
        "(2, 'ada', 'ada', 'Ada', 'ada@example.test', 'admin', 'x', true, 0, '2024-01-01 00:00:00')"))
    for n in (1, 2):
        db.session.execute(text(
            "INSERT INTO incidents (id, title, description, severity, category, urgency, priority, status, "
            "reporter_id, technician_id, created_at, updated_at, version, sla_calendar, "
            "response_target_minutes, resolve_target_minutes, resolve_spent_seconds, sla_notices) "
            "VALUES (:id, :title, 'd', 2, 'other', 'medium', 'P3', 'open', 1, NULL, "
            "'2024-01-02 10:00:00', '2024-01-02 10:00:00', 1, 'business', 240, 1440, 0, 0)"),
            {"id": n, "title": f"Incident {n}"})
        db.session.execute(text(
            "INSERT INTO incident_events (incident_id, actor_id, kind, created_at, to_status, body, internal) "
            "VALUES (:n, 1, 'created', '2024-01-02 10:00:00', 'open', NULL, false), "
            "(:n, 2, 'commented', '2024-01-02 10:05:00', NULL, 'Looking.', false)"), {"n": n})
    db.session.commit()


def _scalar(sql: str):
    return db.session.execute(text(sql)).scalar()


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


@pytest.mark.sqlite_only
def test_upgrade_keeps_events_adds_empty_tables_then_round_trips(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        flask_migrate.upgrade(revision="0009")
        _populate()
        for _ in range(2):
            flask_migrate.upgrade(revision="0010")
            assert _scalar("SELECT count(*) FROM incident_events") == 4
            assert _scalar("SELECT count(*) FROM incident_events WHERE via IS NULL") == 4
            assert _tables() >= NEW_TABLES
            for table in NEW_TABLES:
                assert _scalar(f"SELECT count(*) FROM {table}") == 0
            db.session.execute(text(  # the new shapes take rows
                "INSERT INTO inbound_messages (message_key, message_id, sender, subject, outcome, incident_id, "
                "event_id, received_at) VALUES (:key, '<m@x>', 'ann@example.test', 'Hi', 'commented', 1, 2, "
                "'2024-01-03 00:00:00')"), {"key": "a" * 64})
            db.session.execute(text(
                "INSERT INTO webhook_endpoints (id, url, description, events, secret_encrypted, created_at, "
                "updated_at) VALUES (1, 'https://hooks.example.test/', '', '[\"*\"]', 'enc', "
                "'2024-01-03 00:00:00', '2024-01-03 00:00:00')"))
            db.session.execute(text(
                "INSERT INTO webhook_deliveries (endpoint_id, incident_id, event_type, webhook_id, payload, status, "
                "attempts, next_attempt_at, created_at) VALUES (1, 1, 'incident.created', 'msg_1', '{}', "
                "'pending', 0, '2024-01-03 00:00:00', '2024-01-03 00:00:00')"))
            db.session.execute(text("UPDATE incident_events SET via = 'email' WHERE id = 2"))
            db.session.commit()
            assert _scalar("SELECT replied FROM inbound_messages") in (0, False)  # the server default
            flask_migrate.upgrade()
            assert differences_from_the_models() == []
            db.session.commit()
            flask_migrate.downgrade(revision="0009")
            assert not NEW_TABLES & _tables()
            event_columns = {row[1] for row in db.session.execute(text("PRAGMA table_info(incident_events)"))}
            assert "via" not in event_columns
            assert _scalar("SELECT count(*) FROM incidents") == 2
            assert _scalar("SELECT count(*) FROM incident_events") == 4
            db.session.commit()
        db.engine.dispose()
