"""PostgreSQL for `make bench-pg`: the same datasets and endpoints as `make bench`, on Debian's
PostgreSQL (scripts/pg-server, PostgreSQL's default settings, durability on, as the compose file's
postgres:15 runs). The server's files live in BENCH_PG_DIR (/var/tmp/portal-bench-pg), kept between
runs: a dataset is built once per size into a database `portal_<size>` (bench/datasets.py keeps
its stamp in that folder, as beside the SQLite files), and each run works on a copy made from it
as a template (`CREATE DATABASE ... TEMPLATE`, a file copy inside the server), dropped afterwards."""
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
# Outside the checkout: the server's account must reach it (a clone in a 0700 temp folder would
# not let it through). scripts/pg-server makes it 0700, refuses one another account owns.
FOLDER = Path(os.environ.get("BENCH_PG_DIR", "/var/tmp/portal-bench-pg"))  # noqa: S108


@dataclass(frozen=True)
class Database:
    """One database on the benchmark's server."""

    server: str  # postgresql+psycopg://user:password@127.0.0.1:port
    name: str

    @property
    def url(self) -> str:
        return f"{self.server}/{self.name}"


@contextmanager
def server() -> Iterator[str]:
    """The benchmark's server, running until the block ends; yields its URL (no database)."""
    started = subprocess.run([str(ROOT / "scripts" / "pg-server"), "start", str(FOLDER)], cwd=ROOT, check=True,
                             stdout=subprocess.PIPE, text=True)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(ROOT / "scripts" / "pg-server"), "stop", str(FOLDER)], cwd=ROOT, check=False)


def version(server_url: str) -> str:
    """The server's version, e.g. `15.10`."""
    return _scalar(Database(server_url, "postgres"), "SHOW server_version").split()[0]


def _scalar(database: Database, sql: str, **params):
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def _autocommit(database: Database, *statements: str) -> None:
    """Statements that cannot run in a transaction (CREATE / DROP / ALTER DATABASE, VACUUM)."""
    engine = create_engine(database.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def _maintenance(server_url: str, *statements: str) -> None:
    _autocommit(Database(server_url, "postgres"), *statements)


def count_incidents(database: Database) -> int:
    return _scalar(database, "SELECT count(*) FROM incidents")


def exists(database: Database) -> bool:
    return bool(_scalar(Database(database.server, "postgres"),
                        "SELECT count(*) FROM pg_database WHERE datname = :name", name=database.name))


def build(database: Database, fill) -> None:
    """Make `database` afresh: `fill(partial)` fills an empty database, which is analyzed and then
    renamed into place, so an interrupted build is never taken for a finished one."""
    partial = Database(database.server, database.name + "_partial")
    _maintenance(database.server, f'DROP DATABASE IF EXISTS "{partial.name}"', f'CREATE DATABASE "{partial.name}"')
    fill(partial)
    _autocommit(partial, "VACUUM ANALYZE")  # the planner's statistics and the visibility map, as a settled table has
    _maintenance(database.server, f'DROP DATABASE IF EXISTS "{database.name}"',
                 f'ALTER DATABASE "{partial.name}" RENAME TO "{database.name}"')


def working_copy(pristine: Database) -> Database:
    """A scratch copy for one run (the writes measured never change the pristine data)."""
    copy = Database(pristine.server, pristine.name + "_run")
    _maintenance(pristine.server, f'DROP DATABASE IF EXISTS "{copy.name}" WITH (FORCE)',
                 f'CREATE DATABASE "{copy.name}" TEMPLATE "{pristine.name}"')
    return copy


def discard(copy: Database) -> None:
    _maintenance(copy.server, f'DROP DATABASE IF EXISTS "{copy.name}" WITH (FORCE)')
