"""The database layer behaves the same on SQLite and on PostgreSQL (`make test` runs it on both)."""
import subprocess
import threading
from datetime import UTC, datetime, timedelta, timezone

import flask_migrate
import pytest
from sqlalchemy import inspect, make_url, select, text

from app import create_app
from app.auth.service import authenticate
from app.extensions import db
from app.incidents import service
from app.models import Incident, LoginThrottle
from tests import factories, postgres
from tests.schema import TABLES, differences_from_the_models


@pytest.fixture
def blank_database_url(request, tmp_path):
    """A database with no schema at all: a new SQLite file, or a new PostgreSQL database."""
    if not postgres.ENABLED:
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    server = request.getfixturevalue("pg_server")
    yield server.fresh_database(migrated=False)
    server.drop_extra()


def test_migrations_build_the_schema_agree_with_the_models_and_undo(blank_database_url):
    """`flask db upgrade` from nothing, autogenerate finds no difference, downgrade leaves no table."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=blank_database_url)
    with app.app_context():
        flask_migrate.upgrade()
        diff = differences_from_the_models()
        built = set(inspect(db.engine).get_table_names())
        flask_migrate.downgrade(revision="base")
        left = set(inspect(db.engine).get_table_names())
        flask_migrate.upgrade()
        rebuilt = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert diff == []
    assert built >= set(TABLES)
    assert left == {"alembic_version"}
    assert rebuilt == built


def test_times_and_enums_are_stored_portably(app, people):
    """Times go in as naive UTC and come back aware; enums are lowercase strings, severity its rank."""
    at = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    incident = service.create_incident(actor=people["reporter"], title="Disk full", description="On db1",
                                       severity="high", category="network", at=at)
    row = db.session.execute(text(
        "SELECT CAST(created_at AS VARCHAR(40)), status, category, severity FROM incidents WHERE id = :id"),
        {"id": incident.id}).one()
    assert row[0].startswith("2026-03-01 10:30:00")
    assert tuple(row[1:]) == ("open", "network", 3)
    db.session.expire_all()
    loaded = db.session.get(Incident, incident.id)
    assert loaded.created_at == at
    assert loaded.created_at.tzinfo is UTC


def test_concurrent_writers_never_lose_an_update(app, people):
    """Failed logins counted by several threads at once all land: write transactions are serialized
    (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so read-then-write is safe."""
    threads, attempts = 4, 10
    app.config["LOGIN_THROTTLE_FAILURES"] = app.config["LOGIN_THROTTLE_ADDRESS_FAILURES"] = threads * attempts + 1
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def fail_to_log_in() -> None:
        with app.app_context():
            try:
                start.wait()
                for _ in range(attempts):
                    assert authenticate(username="reporter", password="not-the-password", address="192.0.2.1") is None
            except BaseException as exc:  # reported by the main thread below
                errors.append(exc)
            finally:
                db.session.remove()

    workers = [threading.Thread(target=fail_to_log_in) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    # Three counts, each hit by every failure: this username from this address, this address, and
    # the account's own tally that admins read.
    assert db.session.scalars(select(LoginThrottle.failures)).all() == [threads * attempts] * 3


def test_a_backup_restores_into_a_working_database(app, runner, people, tmp_path, request):
    """`flask backup PATH` (docs/deploy.md) restores: the SQLite copy is itself a database; the
    PostgreSQL archive goes into an empty database with pg_restore. Either serves the incident."""
    incident_id = factories.make_incident(people["reporter"], title="Survives the restore").id
    revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    target = tmp_path / "portal.backup"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    if postgres.ENABLED:
        server = request.getfixturevalue("pg_server")
        request.addfinalizer(server.drop_extra)
        url = server.fresh_database(migrated=False)
        libpq_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        restore = subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq_url}", str(target)],
                                 capture_output=True, text=True, timeout=60)
        assert restore.returncode == 0, restore.stderr
    else:
        url = f"sqlite:///{target}"
    restored = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with restored.app_context():
        assert db.session.get(Incident, incident_id).title == "Survives the restore"
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == revision
        db.engine.dispose()



def test_postgresql_connections_run_without_jit(app):
    """JIT compiling cost a search at 1M incidents 0.57 s for 20 ms of work (app/database.py): every
    PostgreSQL connection of the pool has it off, including after a rolled-back transaction. On
    SQLite there is no such setting: the connection is SQLite's, with its pragmas."""
    for _ in range(2):
        with db.engine.connect() as connection:
            if postgres.ENABLED:
                assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
            else:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            connection.rollback()
