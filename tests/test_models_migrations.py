"""The migrations build the schema from nothing and agree with the models."""
import sqlite3

import flask_migrate
import pytest

from app import create_app
from app.extensions import db
from tests.schema import TABLES, differences_from_the_models


def test_upgrade_builds_an_empty_file_and_autogenerate_finds_no_difference(tmp_path):
    """`flask db upgrade` on an empty file, then the models and the schema compare equal."""
    path = tmp_path / "fresh.db"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        flask_migrate.upgrade()
        diff = differences_from_the_models()
        db.engine.dispose()
    assert diff == []
    tables = {row[0] for row in sqlite3.connect(path).execute("select name from sqlite_master where type='table'")}
    assert set(TABLES) <= tables


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(app):
    """Every connection gets the pragmas the app relies on."""
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        busy_ms = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert busy_ms == app.config["WRITE_LOCK_TIMEOUT_SECONDS"] * 1000


def test_downgrade_then_upgrade_round_trips(tmp_path):
    """The initial migration can be undone and redone."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'round.db'}")
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        flask_migrate.upgrade()
        assert db.inspect(db.engine).has_table("incidents")
        db.engine.dispose()
