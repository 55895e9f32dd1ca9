"""The benchmark databases: built once per size under bench/data/, reused while they still match.

A database is built into a temporary file and renamed when complete, so an interrupted build is
never mistaken for a finished one. Each run works on a fresh copy (writes must not pile up)."""
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from alembic.script import ScriptDirectory

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


def cli_env(database: Path) -> dict[str, str]:
    """The environment of a `flask` command on `database` (no mail, no background sender)."""
    env = {key: value for key, value in os.environ.items() if key != "MAIL_SERVER"}
    env.update(DATABASE_URL=f"sqlite:///{database}", APP_ENV="development", OUTBOX_BACKGROUND_SENDER="0",
               FLASK_APP="run.py")
    return env


def _head_revision() -> str:
    """The newest migration's revision id."""
    return ScriptDirectory(str(ROOT / "migrations")).get_current_head()


def describe(database: Path) -> tuple[int, str | None]:
    """(number of incidents, schema revision) of a built database; (0, None) when unreadable."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            incidents = connection.execute("SELECT count(*) FROM incidents").fetchone()[0]
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        return incidents, revision
    except sqlite3.Error:
        return 0, None


def build(size: int, path: Path) -> None:
    """Migrate, load the demo data, then append generated incidents up to exactly `size`."""
    partial = path.with_name(path.name + ".partial")
    for leftover in DATA.glob(partial.name + "*"):
        leftover.unlink()
    env = cli_env(partial)
    subprocess.run([*FLASK, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*FLASK, "seed"], cwd=ROOT, env=env, check=True, capture_output=True)
    seeded, _ = describe(partial)
    if size > seeded:
        subprocess.run([*FLASK, "seed", "--bulk", str(size - seeded)], cwd=ROOT, env=env, check=True)
    with sqlite3.connect(partial) as connection:  # fold the WAL into the file: one file to copy
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    for leftover in DATA.glob(partial.name + "-*"):
        leftover.unlink()


def ensure(size: int, log=print) -> Path:
    """The pristine database of `size` incidents, built when missing or out of date."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"portal-{label(size)}.db"
    incidents, revision = describe(path) if path.exists() else (0, None)
    if incidents == size and revision == _head_revision():
        return path
    log(f"building {path.relative_to(ROOT)} ({size:,} incidents)...")
    started = time.perf_counter()
    build(size, path)
    log(f"built {path.name} in {time.perf_counter() - started:.0f} s")
    return path


def working_copy(pristine: Path) -> Path:
    """A scratch copy for one run, so creates and transitions never change the pristine data."""
    copy = pristine.with_name(pristine.stem + "-run.db")
    for stale in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(pristine, copy)
    return copy
