"""Fixtures: an app on its own real SQLite file (WAL), or on PostgreSQL when TEST_DATABASE_URL is set;
a client, a CLI runner, people."""
import shutil
from pathlib import Path

import flask_migrate
import pytest

from app import create_app
from app.auth.roles import Role
from app.extensions import db
from tests import factories, postgres


def pytest_configure(config):
    postgres.configure(config)


def pytest_report_header(config):
    return postgres.report_header()


def pytest_collection_modifyitems(config, items):
    postgres.deselect_sqlite_only(config, items)


def pytest_report_collectionfinish(config, start_path, items):
    return postgres.collection_report(config)


@pytest.fixture(scope="session")
def pg_server():
    """With TEST_DATABASE_URL set: the run's PostgreSQL databases, migrated once."""
    server = postgres.Server(postgres.TEST_DATABASE_URL)
    server.prepare()
    yield server
    server.close()


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory) -> Path:
    """An empty database built once by the migrations; each test starts from a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def db_path(tmp_path, schema_template) -> Path:
    """This test's own database file, migrated to the latest schema."""
    path = tmp_path / "portal.db"
    shutil.copy(schema_template, path)
    return path


@pytest.fixture
def database_url(request):
    """This test's database: a copy of the SQLite template, or the PostgreSQL test database
    (TEST_DATABASE_URL), emptied after the test."""
    if not postgres.ENABLED:
        yield f"sqlite:///{request.getfixturevalue('db_path')}"
        return
    server = request.getfixturevalue("pg_server")
    yield server.url
    server.empty()


@pytest.fixture
def app(database_url, tmp_path):
    """The app in testing config, with an app context held for the test; uploaded files go to the
    test's own folder, never the repository's instance/."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url,
                     ATTACHMENT_DIR=str(tmp_path / "attachments"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for the app's `flask` commands."""
    return app.test_cli_runner()


@pytest.fixture
def people(app):
    """One admin, two technicians, two reporters."""
    return {
        "admin": factories.make_user(Role.ADMIN, username="admin"),
        "tech": factories.make_user(Role.TECHNICIAN, username="tech"),
        "tech_other": factories.make_user(Role.TECHNICIAN, username="techother"),
        "reporter": factories.make_user(Role.REPORTER, username="reporter"),
        "reporter_other": factories.make_user(Role.REPORTER, username="reporterother"),
    }


@pytest.fixture
def make_app(request, tmp_path, schema_template):
    """Build another app with config overrides, on its own migrated database file."""
    built = []
    server = request.getfixturevalue("pg_server") if postgres.ENABLED else None

    def build(**overrides):
        if server is not None:
            url = server.fresh_database()
        else:
            path = tmp_path / f"app{len(built)}.db"
            shutil.copy(schema_template, path)
            url = f"sqlite:///{path}"
        overrides.setdefault("ATTACHMENT_DIR", str(tmp_path / f"attachments-{len(built)}"))
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, **overrides)
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            db.engine.dispose()
    if server is not None:
        server.drop_extra()
