"""gunicorn as the Docker image runs it (gunicorn.conf.py, knobs from the environment), bound to
a free port on 127.0.0.1, with its log kept for the "database is locked" count and its processes
named for the memory measure of the export."""
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import datasets, memory, postgres

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(database: Path | postgres.Database | None) -> dict[str, str]:
    """The image's environment (APP_ENV=production, a real SECRET_KEY), minus mail: no MAIL_SERVER,
    no in-process sender and no SLA checks (the generated incidents' pending warnings would be
    written during the runs), so a benchmark never waits on or sends email."""
    env = {key: value for key, value in os.environ.items() if key != "MAIL_SERVER"}
    env.update(APP_ENV="production", SECRET_KEY=secrets.token_hex(32), OUTBOX_BACKGROUND_SENDER="0",
               SLA_CHECK_SECONDS="0", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    if database is not None:
        env["DATABASE_URL"] = datasets.url_of(database)
    return env


@dataclass(frozen=True)
class Served:
    """A running gunicorn: where it answers, and its master process."""

    base: str
    pid: int

    def workers(self) -> list[int]:
        """The worker processes now (one may have been recycled since the last call)."""
        return memory.children(self.pid)


@contextmanager
def serving(app: str, *, log: Path, database: Path | postgres.Database | None = None, ready_path: str = "/health"):
    """Run `gunicorn run:app` (or another app) until the block ends; yields a `Served`."""
    port = free_port()
    env = environment(database) | {"GUNICORN_BIND": f"127.0.0.1:{port}"}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen([*GUNICORN, app], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base + ready_path, process, log)
        yield Served(base, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still booting
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout:.0f} s; see {log}")


def count_in_log(log: Path, text: str) -> int:
    """How many lines of the server log contain `text`."""
    with log.open(errors="replace") as lines:
        return sum(text in line for line in lines)
