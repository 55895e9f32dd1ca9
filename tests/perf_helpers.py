"""Helpers shared by the performance tests: bulk data in steps, and the SQL statements a block runs."""
from contextlib import contextmanager

from sqlalchemy import event, select

from app.extensions import db
from app.models import Incident, User
from seed import bulk

BULK_PASSWORD = "demo1234"  # seed.bulk.ensure_bulk_users' default


class Statements(list):
    """(SQL, parameters) of every statement run on the app's engine while recording."""


@contextmanager
def recording():
    """Collect every statement the engine sends to the database inside the block."""
    seen = Statements()

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def load(n: int) -> None:
    """Append `n` generated incidents with timelines (the same loader as `flask seed --bulk`)."""
    bulk.load(n)


def user(username: str) -> User:
    """The user called `username`."""
    return db.session.scalar(select(User).where(User.username == username))


def first_bulk_incident() -> Incident:
    """The oldest generated incident (there in every step of a growing dataset)."""
    return db.session.scalar(select(Incident).order_by(Incident.id).limit(1))
