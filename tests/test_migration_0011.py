"""Migration 0011 on a populated database made at 0010: the incidents and people stay, saved_views
starts empty and takes rows (shared false unless said, names unique per owner), the models match
at the head; down to 0010 drops the table, and up again round-trips."""
import flask_migrate
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.extensions import db
from tests.schema import differences_from_the_models
from tests.test_migration_0010 import _populate, _scalar


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _view(view_id: int, owner_id: int, name: str) -> None:
    db.session.execute(text(
        "INSERT INTO saved_views (id, owner_id, name, filters, sort, created_at) "
        "VALUES (:id, :owner, :name, :filters, '-priority', '2024-01-03 00:00:00')"),
        {"id": view_id, "owner": owner_id, "name": name, "filters": '{"status": ["open"], "technician": "me"}'})


@pytest.mark.sqlite_only
def test_upgrade_keeps_the_data_adds_an_empty_table_then_round_trips(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        flask_migrate.upgrade(revision="0010")
        _populate()
        for _ in range(2):
            flask_migrate.upgrade(revision="0011")
            assert "saved_views" in _tables()
            assert _scalar("SELECT count(*) FROM saved_views") == 0
            assert _scalar("SELECT count(*) FROM incidents") == 2
            assert _scalar("SELECT count(*) FROM incident_events") == 4
            _view(1, 1, "Open")
            _view(2, 2, "Open")  # another owner may use the same name
            db.session.commit()
            assert _scalar("SELECT count(*) FROM saved_views WHERE shared") == 0  # the server default
            with pytest.raises(IntegrityError):
                _view(3, 1, "Open")
            db.session.rollback()
            assert _scalar("SELECT filters FROM saved_views WHERE id = 1") == \
                '{"status": ["open"], "technician": "me"}'
            flask_migrate.upgrade()
            assert differences_from_the_models() == []
            db.session.commit()
            flask_migrate.downgrade(revision="0010")
            assert "saved_views" not in _tables()
            assert _scalar("SELECT count(*) FROM users") == 2
            assert _scalar("SELECT count(*) FROM incidents") == 2
            db.session.commit()
        db.engine.dispose()
