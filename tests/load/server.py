"""A gunicorn started the way the Docker image starts it (the Dockerfile's CMD and ENV, so
gunicorn.conf.py and run:app), on a database of the test's choosing, on 127.0.0.1 only."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def image_command_and_env() -> tuple[list[str], dict[str, str]]:
    """The Dockerfile's CMD (gunicorn --config gunicorn.conf.py run:app) and its ENV lines."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    env: dict[str, str] = {}
    command: list[str] = []
    for line in text.splitlines():
        keyword, _, rest = line.strip().partition(" ")
        if keyword == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", rest))
        elif keyword == "CMD":
            command = json.loads(rest)
    assert command[0] == "gunicorn", command
    return [str(VENV_BIN / "gunicorn"), *command[1:]], env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """One gunicorn master and its workers, in a process group of their own (so kill -9 reaches all)."""

    def __init__(self, database_url: str, log: Path, *, workers: int = 3, threads: int = 4):
        command, image_env = image_command_and_env()
        self.command = command
        self.port = free_port()
        self.log = log
        self.env = {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(log.parent),
            "PYTHON_DOTENV_DISABLED": "1",  # never a developer's .env (tests/__init__.py)
            **image_env,
            "DATABASE_URL": database_url,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": str(threads),
            "SECRET_KEY": "load-and-crash-tests-only-0123456789abcdef",
            # Pinned so that a developer's .env cannot change what is measured.
            "SESSION_COOKIE_SECURE": "false",
            "MAIL_SERVER": "",
            "RATELIMIT_STORAGE_URI": "memory://",
            "TRUSTED_PROXIES": "0",
            "GUNICORN_LOGLEVEL": "info",
            # These tests are about losing nothing, not about latency: on a shared CI machine a
            # writer once waited past the 5 s default for the lock and was (correctly) told 503.
            "WRITE_LOCK_TIMEOUT_SECONDS": "30",
        }
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> "Gunicorn":
        """Start, and wait until /health answers 200 (a worker is serving)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command, cwd=REPO, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if requests.get(f"{self.base}/health", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn not healthy after {timeout}s:\n{self.log_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        """The master's children (its workers), from /proc."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while we looked
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def kill_everything(self) -> None:
        """kill -9 the master and every worker at once, mid-whatever they were doing."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def kill_workers(self) -> list[int]:
        """kill -9 the workers only; the master notices and starts new ones."""
        pids = self.worker_pids()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def stop(self) -> None:
        """SIGTERM (what `docker stop` sends) and wait; SIGKILL if it does not go."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
