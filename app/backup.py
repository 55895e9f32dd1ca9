"""Consistent online backups while the portal keeps writing.

SQLite: the SQLite online backup API, copying every page in one step under a read snapshot
(WAL lets writers continue meanwhile), then `PRAGMA integrity_check` on the copy.
PostgreSQL: `pg_dump --format=custom`, restorable with `pg_restore`."""
import shutil
import sqlite3
import subprocess
from pathlib import Path

from app.extensions import db


class BackupError(Exception):
    """The backup could not be taken; the message says why."""


def backup_database(destination: Path) -> str:
    """Write a consistent copy of the database to `destination`; return what was done."""
    url = db.engine.url  # not str(url): that masks the password
    destination = destination.expanduser().resolve()
    if destination.exists():
        raise BackupError(f"{destination} already exists; choose a new file name")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination.parent} is not a directory")
    if url.get_backend_name() == "sqlite":
        return _backup_sqlite(Path(url.database), destination)
    if url.get_backend_name() == "postgresql":
        return _backup_postgres(url, destination)
    raise BackupError(f"backups of {url.get_backend_name()} databases are not supported")


def _backup_sqlite(source: Path, destination: Path) -> str:
    partial = destination.with_name(destination.name + ".partial")
    with sqlite3.connect(source) as src, sqlite3.connect(partial) as dst:
        src.backup(dst, pages=-1)
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {check}")
    partial.replace(destination)
    return f"SQLite backup written to {destination} ({destination.stat().st_size} bytes, integrity ok)"


def _backup_postgres(url, destination: Path) -> str:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    libpq_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # An argument list, no shell: the URL comes from the app's own configuration.
    result = subprocess.run([pg_dump, "--format=custom", f"--file={destination}", libpq_url],  # noqa: S603
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        destination.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return f"PostgreSQL dump written to {destination} (restore with pg_restore)"
