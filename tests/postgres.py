"""The PostgreSQL side of the fixtures: used when TEST_DATABASE_URL names a PostgreSQL database.

The suite is migrated once into a template database; the test database is made from it, and
after each test every table is emptied (identities restarted), so each test starts as it does on
SQLite: an empty, migrated schema with ids from 1. Extra apps get their own database from the template.
"""
import os
from itertools import count

import flask_migrate
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL, Engine

from app import create_app
from app.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
ENABLED = TEST_DATABASE_URL.startswith("postgresql")
SQLITE_ONLY = "sqlite_only"
_DESELECTED = pytest.StashKey[list[str]]()


def configure(config: pytest.Config) -> None:
    """Register the marker for tests about SQLite itself (its pragmas, its files)."""
    config.addinivalue_line("markers", f"{SQLITE_ONLY}: about SQLite itself; not run when TEST_DATABASE_URL is set")


def report_header() -> str:
    """Which database this run uses, on the first lines of the report."""
    if not ENABLED:
        return "database: SQLite (a migrated template file copied per test)"
    return f"database: PostgreSQL {make_url(TEST_DATABASE_URL).render_as_string(hide_password=True)}"


def deselect_sqlite_only(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, drop the tests marked sqlite_only or asking for the SQLite file (`db_path`)."""
    if not ENABLED:
        return
    keep, dropped = [], []
    for item in items:
        sqlite_only = item.get_closest_marker(SQLITE_ONLY) or "db_path" in getattr(item, "fixturenames", ())
        (dropped if sqlite_only else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    config.stash[_DESELECTED] = [item.nodeid for item in dropped]


def collection_report(config: pytest.Config) -> list[str]:
    """Say how many SQLite-only tests a PostgreSQL run left out, and which."""
    if not ENABLED:
        return []
    names = config.stash.get(_DESELECTED, [])
    return [f"PostgreSQL run: {len(names)} SQLite-only test(s) deselected"] + [f"  {name}" for name in names]


class Server:
    """The PostgreSQL databases of one test run: a migrated template and the test database."""

    def __init__(self, url: str):
        # Each pytest-xdist worker ("gw0", "gw1", ...) has databases of its own beside the others'.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        self.url_object = make_url(url)
        if worker:
            self.url_object = self.url_object.set(database=f"{self.url_object.database}_{worker}")
        self.name = self.url_object.database
        self.template = f"{self.name}_template"
        self._admin = create_engine(self.url_object.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self._extra: list[str] = []
        self._numbers = count(1)
        self._cleaner: Engine | None = None
        self._tables = ""

    @property
    def url(self) -> str:
        """The test database's URL, password included (the app needs it)."""
        return self.url_object.render_as_string(hide_password=False)

    def _url_for(self, name: str) -> URL:
        return self.url_object.set(database=name)

    def _recreate(self, name: str, *, template: str | None = None) -> None:
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            source = f' TEMPLATE "{template}"' if template else ""
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"{source}')

    def prepare(self) -> None:
        """Migrate a fresh template once, then make the test database from it."""
        self._recreate(self.template)
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=self._url_for(self.template).render_as_string(False))
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
        self._recreate(self.name, template=self.template)
        self._cleaner = create_engine(self.url_object, isolation_level="AUTOCOMMIT")
        with self._cleaner.connect() as connection:
            tables = connection.scalars(text(
                "SELECT quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = current_schema() AND tablename <> 'alembic_version' ORDER BY tablename"))
            self._tables = ", ".join(tables)

    def empty(self) -> None:
        """Back to the migrated, empty state: what the test left open is closed, every row goes."""
        with self._cleaner.connect() as connection:
            # A connection the test leaked (a thread, a second app) would block TRUNCATE.
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            connection.exec_driver_sql(f"TRUNCATE {self._tables} RESTART IDENTITY CASCADE")

    def fresh_database(self, *, migrated: bool = True) -> str:
        """A new database of its own (for a second app in one test): migrated, or with no schema at all."""
        name = f"{self.name}_{next(self._numbers)}"
        self._recreate(name, template=self.template if migrated else None)
        self._extra.append(name)
        return self._url_for(name).render_as_string(hide_password=False)

    def drop_extra(self) -> None:
        """Remove the databases made by fresh_database()."""
        with self._admin.connect() as connection:
            for name in self._extra:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._extra.clear()

    def close(self) -> None:
        """Drop what this run made besides the test database, close every pool."""
        self.drop_extra()
        self._cleaner.dispose()
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self._admin.dispose()
