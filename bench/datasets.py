"""The benchmark databases: built once per size under bench/data/, reused while they still match
the code that made them (the migrations, the seed data and the bulk generator).

A database is built into a temporary file and renamed when complete, so an interrupted build is
never mistaken for a finished one. Each run works on a fresh copy (writes must not pile up).
`make bench-pg` keeps the same datasets on PostgreSQL (bench/postgres.py): a database is then a
`postgres.Database` instead of a file's path, and these functions take either."""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench import postgres

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
FLASK = [sys.executable, "-m", "flask", "--app", "run.py"]
SUFFIXES = {"k": 1_000, "m": 1_000_000}


def parse_size(text: str) -> int:
    """`1k`, `100k`, `1M` or a plain number -> the number of incidents."""
    text = text.strip().lower().replace("_", "")
    if text and text[-1] in SUFFIXES:
        return int(float(text[:-1]) * SUFFIXES[text[-1]])
    return int(text)


def label(size: int) -> str:
    """1000 -> `1k`, 1000000 -> `1M` (the names used in files and tables)."""
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def url_of(database: Path | postgres.Database) -> str:
    """The SQLAlchemy URL of a benchmark database."""
    return database.url if isinstance(database, postgres.Database) else f"sqlite:///{database}"


def cli_env(database: Path | postgres.Database) -> dict[str, str]:
    """The environment of a `flask` command on `database` (no mail, no background sender)."""
    env = {key: value for key, value in os.environ.items() if key != "MAIL_SERVER"}
    env.update(DATABASE_URL=url_of(database), APP_ENV="development", OUTBOX_BACKGROUND_SENDER="0",
               FLASK_APP="run.py")
    return env


def fingerprint() -> str:
    """A digest of everything a dataset is made from: when any of it changes, datasets are rebuilt."""
    digest = hashlib.sha256()
    sources = [*sorted((ROOT / "migrations" / "versions").glob("*.py")), *sorted((ROOT / "seed").glob("*.py")),
               *sorted((ROOT / "seed").glob("*.json"))]
    for path in sources:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def count_incidents(database: Path | postgres.Database) -> int:
    """How many incidents a database holds."""
    if isinstance(database, postgres.Database):
        return postgres.count_incidents(database)
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT count(*) FROM incidents").fetchone()[0]


def build(size: int, path: Path) -> None:
    """Migrate, load the demo data, then append generated incidents up to exactly `size`."""
    partial = path.with_name(path.name + ".partial")
    for leftover in DATA.glob(partial.name + "*"):
        leftover.unlink()
    fill(size, partial)
    with sqlite3.connect(partial) as connection:  # fold the WAL into the file: one file to copy
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    for leftover in DATA.glob(partial.name + "-*"):
        leftover.unlink()


def fill(size: int, database: Path | postgres.Database) -> None:
    """Migrate an empty database, load the demo data, then append generated incidents up to exactly `size`."""
    env = cli_env(database)
    subprocess.run([*FLASK, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*FLASK, "seed"], cwd=ROOT, env=env, check=True, capture_output=True)
    seeded = count_incidents(database)
    if size > seeded:
        subprocess.run([*FLASK, "seed", "--bulk", str(size - seeded)], cwd=ROOT, env=env, check=True)


def ensure(size: int, log=print, *, postgres_server: str | None = None) -> Path | postgres.Database:
    """The pristine database of `size` incidents, built when missing or out of date (a stamp beside
    it holds the size and the fingerprint it was built with): a file under bench/data/, or a
    database on `postgres_server` (bench/postgres.py) when one is given."""
    if postgres_server:
        pristine = postgres.Database(postgres_server, f"portal_{label(size).lower()}")
        stamp, present, shown = postgres.FOLDER / f"{pristine.name}.json", postgres.exists(pristine), pristine.name
    else:
        DATA.mkdir(parents=True, exist_ok=True)
        pristine = DATA / f"portal-{label(size)}.db"
        stamp, present, shown = pristine.with_suffix(".json"), pristine.exists(), pristine.name
    expected = {"incidents": size, "fingerprint": fingerprint()}
    if present and stamp.exists() and json.loads(stamp.read_text()) == expected:
        return pristine
    log(f"building {shown} ({size:,} incidents)...")
    started = time.perf_counter()
    stamp.unlink(missing_ok=True)
    if postgres_server:
        postgres.build(pristine, lambda partial: fill(size, partial))
    else:
        build(size, pristine)
    stamp.write_text(json.dumps(expected) + "\n")
    log(f"built {shown} in {time.perf_counter() - started:.0f} s")
    return pristine


def working_copy(pristine: Path | postgres.Database) -> Path | postgres.Database:
    """A scratch copy for one run, so creates and transitions never change the pristine data."""
    if isinstance(pristine, postgres.Database):
        return postgres.working_copy(pristine)
    copy = pristine.with_name(pristine.stem + "-run.db")
    discard(copy)
    shutil.copyfile(pristine, copy)
    return copy


def discard(copy: Path | postgres.Database) -> None:
    """Remove a scratch copy with its WAL and shared-memory files."""
    if isinstance(copy, postgres.Database):
        postgres.discard(copy)
        return
    for path in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
        path.unlink(missing_ok=True)
