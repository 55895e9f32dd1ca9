"""Database wiring: SQLite pragmas, write transactions that take the lock up front."""
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.extensions import db

_begin_immediate: ContextVar[bool] = ContextVar("begin_immediate", default=False)
# The advisory lock key every write transaction takes on PostgreSQL (any fixed bigint will do).
POSTGRES_WRITE_LOCK = 7_301_002


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record) -> None:
    """WAL, foreign keys and a busy timeout on every SQLite connection; we issue BEGIN ourselves."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    busy_ms = current_app.config["SQLITE_BUSY_TIMEOUT_MS"] if has_app_context() else 30_000
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin(conn) -> None:
    """Writers take the write lock first: BEGIN IMMEDIATE on SQLite (they queue on the busy timeout
    instead of failing with 'database is locked' when two upgrade a read snapshot at once), and on
    PostgreSQL one transaction-scoped advisory lock, so that every read-check-write use case
    (counters, tallies, unique names) is serialized there exactly as on SQLite."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _begin_immediate.get() else "BEGIN")
    elif conn.dialect.name == "postgresql" and _begin_immediate.get():
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({POSTGRES_WRITE_LOCK})")


@contextmanager
def write_transaction() -> Iterator[None]:
    """One use case = one transaction holding the write lock from its first read; commits once.

    Objects loaded earlier in the request are expired and re-read inside it, so every decision
    is made on current data."""
    session = db.session
    session.rollback()
    token = _begin_immediate.set(True)
    try:
        session.connection()
    finally:
        _begin_immediate.reset(token)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


def lock_for_update(instance) -> None:
    """Re-read a row and lock it (FOR UPDATE on PostgreSQL; SQLite already holds the db lock).

    `OF` the instance's own table: PostgreSQL refuses to lock the nullable side of the outer joins
    that eager-load its relationships (an incident's technician)."""
    db.session.refresh(instance, with_for_update={"of": type(instance)})


def init_app(app: Flask) -> None:
    """Create the SQLite file's folder so a fresh clone starts without setup."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic filter: the search index objects are made by hand-written migration SQL
    (FTS5 tables on SQLite, a GIN expression index on PostgreSQL), not by the models."""
    if type_ == "table" and name and name.startswith("incidents_fts"):
        return False
    return not (type_ == "index" and name == "ix_incidents_search")
