"""Migration 0006 on a populated database made at 0005: the account lock's columns go and every
account, incident and throttle row stays as it was; down and up again round-trips."""
import flask_migrate
import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db

USER_COLUMNS = "id, username, username_key, name, email, role, password_hash, active, session_version"


def _populate() -> list[tuple]:
    """Two users as 0005 stores them (one mid-lock), an incident, a throttle row."""
    db.session.execute(text(
        "INSERT INTO users (id, username, username_key, name, email, role, password_hash, active, failed_logins, "
        "locked_until, session_version, created_at) VALUES "
        "(1, 'ann', 'ann', 'Ann', 'ann@example.test', 'reporter', 'h1', 1, 0, NULL, 0, '2024-01-01 00:00:00'), "
        "(2, 'Tom', 'tom', 'Tom', 'tom@example.test', 'technician', 'h2', 1, 4, '2024-01-01 00:05:00', 3, "
        "'2024-01-01 00:00:00')"))
    db.session.execute(text(
        "INSERT INTO incidents (id, title, description, severity, category, status, reporter_id, technician_id, "
        "created_at, updated_at, version) VALUES (1, 't', 'd', 2, 'other', 'assigned', 1, 2, "
        "'2024-01-02 00:00:00', '2024-01-02 00:00:00', 2)"))
    db.session.execute(text("INSERT INTO login_throttles (key, failures, updated_at) VALUES "
                            "('k', 3, '2024-01-02 00:00:00')"))
    db.session.commit()
    users = db.session.execute(text(f"SELECT {USER_COLUMNS} FROM users ORDER BY id")).all()
    db.session.commit()  # end the read: a snapshot held open would still show the old schema
    return users


@pytest.mark.sqlite_only
def test_upgrade_drops_the_lock_columns_and_keeps_every_row_then_round_trips(tmp_path):
    """0005 with users (one locked), an incident and a throttle row -> 0006: the two columns are gone,
    the rows are intact (users rebuilt by nothing: plain DROP COLUMN); 0005 again re-adds them
    (failed_logins 0); 0006 again drops them."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        flask_migrate.upgrade(revision="0005")
        users = _populate()
        for _ in range(2):
            flask_migrate.upgrade(revision="0006")
            columns = {row[1] for row in db.session.execute(text("PRAGMA table_info(users)"))}
            assert not {"failed_logins", "locked_until"} & columns
            assert db.session.execute(text(f"SELECT {USER_COLUMNS} FROM users ORDER BY id")).all() == users
            assert db.session.execute(text("SELECT technician_id FROM incidents")).scalar() == 2
            assert db.session.execute(text("SELECT failures FROM login_throttles")).scalar() == 3
            db.session.commit()
            flask_migrate.downgrade(revision="0005")
            restored = db.session.execute(text("SELECT failed_logins, locked_until FROM users ORDER BY id")).all()
            assert [tuple(row) for row in restored] == [(0, None), (0, None)]
            db.session.commit()
        db.engine.dispose()
