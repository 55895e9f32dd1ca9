"""Consistent online backups while the portal keeps writing.

SQLite: the SQLite online backup API, copying every page in one step under a read snapshot
(WAL lets writers continue meanwhile), then `PRAGMA integrity_check` on the copy.
PostgreSQL: `pg_dump --format=custom`, restorable with `pg_restore`.

Attachments: their files go to `<PATH>.attachments/` beside the database copy, in the store's own
layout (`ab/cdef...` by sha256), each checked against its sha256 as it is copied. Files are copied
before the database and again after it (uploads made meanwhile), so every file the copy's rows name
is there; `restore_attachments` puts them back into a store."""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from app.extensions import db
from app.incidents import attachments


class BackupError(Exception):
    """The backup could not be taken; the message says why."""


def attachments_folder(destination: Path) -> Path:
    """Where a backup at `destination` keeps the attachment files: `<destination>.attachments/`."""
    return destination.with_name(destination.name + ".attachments")


def backup_database(destination: Path) -> str:
    """Write a consistent copy of the database to `destination`, and the attachment files beside it;
    return what was done."""
    url = db.engine.url  # not str(url): that masks the password
    destination = destination.expanduser().resolve()
    files = attachments_folder(destination)
    for target in (destination, files):
        if target.exists():
            raise BackupError(f"{target} already exists; choose a new file name")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination.parent} is not a directory")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise BackupError(f"backups of {url.get_backend_name()} databases are not supported")
    partial = files.with_name(files.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    copied = _copy_store(attachments.storage_root(), partial)  # before: the bulk of the files
    if url.get_backend_name() == "sqlite":
        said = _backup_sqlite(Path(url.database), destination)
    else:
        said = _backup_postgres(url, destination)
    copied += _copy_store(attachments.storage_root(), partial)  # after: what was uploaded meanwhile
    missing = _named_but_missing(destination, partial) if url.get_backend_name() == "sqlite" else set()
    if missing:
        raise BackupError(f"{len(missing)} attachment file(s) the copy names are missing from the store "
                          f"(e.g. {sorted(missing)[0]}); the database copy is at {destination}")
    partial.replace(files)
    return f"{said}\nAttachments: {copied} file(s) copied to {files} (sha256 checked)"


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


def _copy_store(source: Path, target: Path) -> int:
    """Copy every stored file not yet in `target` (same layout), checking its sha256; how many."""
    copied = 0
    target.mkdir(parents=True, exist_ok=True)
    for digest, path in attachments.stored_files(source):
        destination = target / digest[:2] / digest[2:]
        if destination.exists():
            continue
        try:
            _copy_checked(path, destination, digest, temp_folder=destination.parent)
        except FileNotFoundError:  # removed from the store while we copied: no row names it now
            continue
        copied += 1
    return copied


def _copy_checked(source: Path, destination: Path, digest: str, *, temp_folder: Path) -> None:
    """Copy one file through a temp file in `temp_folder` (same file system), refusing it unless its
    bytes hash to `digest`; fsynced, renamed, its folder fsynced."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp_folder.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(dir=temp_folder, prefix="copy-")
    try:
        hashed = hashlib.sha256()
        with open(source, "rb") as src, os.fdopen(descriptor, "wb") as out:
            while chunk := src.read(1024 * 1024):
                hashed.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if hashed.hexdigest() != digest:
            raise BackupError(f"{source} does not hash to its name: the store holds a damaged file")
        os.replace(temp_name, destination)
        attachments.fsync_folder(destination.parent)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _named_but_missing(database: Path, files: Path) -> set[str]:
    """The sha256s the SQLite copy's attachment rows name that the copied files lack."""
    with sqlite3.connect(database) as copy:
        named = {row[0] for row in copy.execute("SELECT DISTINCT sha256 FROM attachments")}
    return {digest for digest in named if not (files / digest[:2] / digest[2:]).is_file()}


def restore_attachments(source: Path) -> tuple[int, int]:
    """Copy a backup's attachment files (`<backup>.attachments/`) into this app's store, checking each
    sha256; files already there are kept. Returns (copied, already there)."""
    source = source.expanduser().resolve()
    if not source.is_dir():
        raise BackupError(f"{source} is not a directory of attachment files")
    root = attachments.storage_root()
    copied = present = 0
    for digest, path in attachments.stored_files(source):
        destination = root / digest[:2] / digest[2:]
        if destination.is_file():
            present += 1
            continue
        _copy_checked(path, destination, digest, temp_folder=root / attachments.TEMP_FOLDER)
        copied += 1
    return copied, present
