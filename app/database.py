"""Database wiring: SQLite pragmas, PostgreSQL without JIT, write transactions that take the lock
up front, and a bounded wait for that lock (a busy database answers 503 in seconds instead of
hanging a worker)."""
import logging
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.exceptions import Unavailable
from app.extensions import db
from config import Config

log = logging.getLogger(__name__)

# Set while a write transaction begins: how many seconds it may wait for the write lock.
_write_lock_wait: ContextVar[float | None] = ContextVar("write_lock_wait", default=None)
# The advisory lock key every write transaction takes on PostgreSQL (any fixed bigint will do).
POSTGRES_WRITE_LOCK = 7_301_002
POSTGRES_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout that ran out


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record) -> None:
    """WAL, foreign keys and a busy timeout on every SQLite connection; we issue BEGIN ourselves.

    In WAL mode readers never wait, so the busy timeout is the wait for the write lock."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    busy_ms = _milliseconds(write_lock_timeout())
    connection_record.info["busy_ms"] = busy_ms
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


@event.listens_for(Engine, "connect")
def _configure_postgres(dbapi_connection, connection_record) -> None:
    """No JIT compilation on PostgreSQL connections. The portal's statements are short; the
    planner's estimate for a search (subplans for words in the timeline, costed in full though
    they run only for the few incidents a comment names) crossed jit_above_cost, and at 1,000,000
    incidents the server spent 0.57 s compiling a search that ran in 20 ms."""
    if type(dbapi_connection).__module__.partition(".")[0] != "psycopg":
        return
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()  # a setting made in a transaction that rolls back would not stay


@event.listens_for(Engine, "begin")
def _begin(conn) -> None:
    """Writers take the write lock first: BEGIN IMMEDIATE on SQLite (they queue on the busy timeout
    instead of failing with 'database is locked' when two upgrade a read snapshot at once), and on
    PostgreSQL one transaction-scoped advisory lock, so that every read-check-write use case
    (counters, tallies, unique names) is serialized there exactly as on SQLite. Either wait is
    bounded by the write transaction's lock timeout."""
    wait = _write_lock_wait.get()
    if conn.dialect.name == "sqlite":
        if wait is None:
            conn.exec_driver_sql("BEGIN")
            return
        with _busy_timeout(conn, _milliseconds(wait)):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql" and wait is not None:
        conn.exec_driver_sql("SELECT set_config('lock_timeout', %s, true)", (f"{_milliseconds(wait)}ms",))
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({POSTGRES_WRITE_LOCK})")


@contextmanager
def _busy_timeout(conn, busy_ms: int) -> Iterator[None]:
    """This SQLite connection waits `busy_ms` for the lock for the duration (its own setting otherwise)."""
    usual = conn.info.get("busy_ms")
    if busy_ms == usual:
        yield
        return
    conn.exec_driver_sql(f"PRAGMA busy_timeout = {busy_ms}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {usual}")


@contextmanager
def write_transaction(*, wait_seconds: float | None = None) -> Iterator[None]:
    """One use case = one transaction holding the write lock from its first read; commits once.

    Objects loaded earlier in the request are expired and re-read inside it, so every decision
    is made on current data. Unavailable (503) when the lock is not had within `wait_seconds`
    (WRITE_LOCK_TIMEOUT_SECONDS by default): nothing was written, and the caller may try again."""
    session = db.session
    session.rollback()
    _take_write_lock(write_lock_timeout() if wait_seconds is None else wait_seconds)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


def check_writable(*, wait_seconds: float) -> None:
    """Take the write lock and give it straight back, writing nothing: the readiness probe.
    Unavailable when the lock cannot be had within `wait_seconds`."""
    db.session.rollback()
    _take_write_lock(wait_seconds)
    db.session.rollback()


def write_lock_timeout() -> float:
    """Seconds a writer waits for the lock: WRITE_LOCK_TIMEOUT_SECONDS (the environment's outside an app)."""
    if has_app_context():
        return float(current_app.config["WRITE_LOCK_TIMEOUT_SECONDS"])
    return Config.WRITE_LOCK_TIMEOUT_SECONDS


def _take_write_lock(wait_seconds: float) -> None:
    """Begin the session's transaction holding the write lock, waiting at most `wait_seconds`."""
    token = _write_lock_wait.set(wait_seconds)
    try:
        db.session.connection()
    except OperationalError as exc:
        db.session.rollback()
        if not _is_lock_timeout(exc):
            raise
        log.warning("Write refused: the database's write lock was not free within %g s", wait_seconds)
        raise Unavailable(f"The database is busy: its write lock was not free within {wait_seconds:g} s. "
                          "Nothing was saved; please try again in a moment.",
                          retry_after=math.ceil(wait_seconds)) from exc
    finally:
        _write_lock_wait.reset(token)


def _is_lock_timeout(exc: OperationalError) -> bool:
    """SQLite's 'database is locked' (SQLITE_BUSY) or PostgreSQL's lock_timeout."""
    original = exc.orig
    if isinstance(original, sqlite3.OperationalError):
        return getattr(original, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
    return getattr(original, "sqlstate", None) == POSTGRES_LOCK_NOT_AVAILABLE


def _milliseconds(seconds: float) -> int:
    """Seconds as the whole milliseconds both databases take (at least 1: PostgreSQL reads 0 as no limit)."""
    return max(1, round(seconds * 1000))


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
    (FTS5 tables on SQLite, GIN expression indexes on PostgreSQL), not by the models."""
    if type_ == "table" and name and name.startswith("incidents_fts"):
        return False
    return not (type_ == "index" and name and name.startswith("ix_incidents_search"))
