"""Migration 0007 on a populated database made at 0006: every existing incident gets urgency medium
and the matrix's priority for its severity; down and up again round-trips."""
import itertools

import flask_migrate
import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.incidents.enums import Severity, Urgency
from app.incidents.priority import priority_of
from tests.schema import differences_from_the_models

STATUSES_AT_0006 = ["open", "assigned", "in_progress", "resolved", "closed"]


def _populate() -> dict[int, Severity]:
    """Users and incidents as 0006 stores them (severity as its rank), in every status and severity."""
    db.session.execute(text(
        "INSERT INTO users (id, username, username_key, name, email, role, password_hash, active, "
        "session_version, created_at) VALUES (1, 'ann', 'ann', 'Ann', 'ann@example.test', 'reporter', 'x', 1, 0, "
        "'2024-01-01 00:00:00'), (2, 'tom', 'tom', 'Tom', 'tom@example.test', 'technician', 'x', 1, 0, "
        "'2024-01-01 00:00:00')"))
    expected = {}
    for n, (status, severity) in enumerate(itertools.product(STATUSES_AT_0006, Severity), start=1):
        db.session.execute(text(
            "INSERT INTO incidents (id, title, description, severity, category, status, reporter_id, technician_id, "
            "created_at, updated_at, version) VALUES (:id, :title, 'd', :rank, 'other', :status, 1, :tech, "
            "'2024-01-02 00:00:00', '2024-01-02 00:00:00', 1)"),
            {"id": n, "title": f"Incident {n}", "rank": severity.rank, "status": status,
             "tech": None if status == "open" else 2})
        expected[n] = severity
    db.session.commit()
    return expected


@pytest.mark.sqlite_only
def test_upgrade_fills_urgency_and_priority_then_round_trips(tmp_path):
    """At 0006 with 20 incidents -> 0007: medium urgency, the matrix's priority, the index; on to
    the head, the models match; 0006 again drops it all; 0007 again fills it again."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        flask_migrate.upgrade(revision="0006")
        expected = _populate()
        for _ in range(2):
            flask_migrate.upgrade(revision="0007")
            rows = db.session.execute(text("SELECT id, urgency, priority FROM incidents ORDER BY id")).all()
            assert {row.id: (row.urgency, row.priority) for row in rows} == {
                n: (Urgency.MEDIUM.value, priority_of(severity, Urgency.MEDIUM).value)
                for n, severity in expected.items()}
            indexes = {row[1] for row in db.session.execute(text("PRAGMA index_list(incidents)"))}
            assert {"ix_incidents_priority_created", "ix_incidents_urgency_created"} <= indexes
            db.session.commit()
            flask_migrate.upgrade()
            assert differences_from_the_models() == []
            db.session.commit()
            flask_migrate.downgrade(revision="0006")
            columns = {row[1] for row in db.session.execute(text("PRAGMA table_info(incidents)"))}
            assert not {"urgency", "priority"} & columns
            assert db.session.execute(text("SELECT count(*) FROM incidents")).scalar() == len(expected)
            db.session.commit()
        db.engine.dispose()
