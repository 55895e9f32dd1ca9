"""The image's start-up without Docker: the Dockerfile's own ENTRYPOINT, CMD, ENV and HEALTHCHECK
run here (paths under its WORKDIR mapped to this checkout), two instances on one database."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests import postgres

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

pytestmark = pytest.mark.live


def read_dockerfile() -> dict:
    """The instructions this test replays: ENV, WORKDIR, ENTRYPOINT, CMD, HEALTHCHECK's command."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    image: dict = {"env": {}}
    for line in text.splitlines():
        keyword, _, rest = line.strip().partition(" ")
        if keyword == "ENV":
            image["env"].update(re.findall(r"(\w+)=(\S+)", rest))
        elif keyword == "WORKDIR":
            image["workdir"] = rest.strip()
        elif keyword in {"ENTRYPOINT", "CMD"}:
            image[keyword.lower()] = json.loads(rest)
        elif keyword == "HEALTHCHECK":
            image["healthcheck"] = json.loads(rest.split(" CMD ", 1)[1])
    return image


IMAGE = read_dockerfile()


def localize(argv: list[str]) -> list[str]:
    """An image command as it runs in this checkout: WORKDIR paths here, python from this venv."""
    root = IMAGE["workdir"].rstrip("/") + "/"
    return [sys.executable if arg == "python" else arg.replace(root, f"{REPO}/", 1) if arg.startswith(root)
            else arg for arg in argv]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Instance:
    """One container's worth of portal: entrypoint (migrate, maybe seed) then gunicorn."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(localize(IMAGE["entrypoint"] + IMAGE["cmd"]), cwd=REPO, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_until_healthy(self, timeout: float = 60) -> None:
        """Poll /health as a load balancer would; fail with the log if the process dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"exited {self.process.returncode}:\n{self.log.read_text()}"
            try:
                if requests.get(self.url("/health"), timeout=10).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # still booting
                pass
            time.sleep(0.2)
        raise AssertionError(f"not healthy after {timeout}s:\n{self.log.read_text()}")

    def healthcheck(self) -> int:
        """The image's HEALTHCHECK command, with this instance's environment; its exit code."""
        return subprocess.run(localize(IMAGE["healthcheck"]), env=self.env, capture_output=True,
                              timeout=30).returncode

    def stop(self) -> int | None:
        """SIGTERM, as `docker stop` sends; the exit code after a graceful shutdown."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def deployment_database(request, tmp_path) -> str:
    """An empty database for the instances to migrate: a new SQLite file, or a new PostgreSQL database."""
    if not postgres.ENABLED:
        return f"sqlite:///{tmp_path / 'data' / 'portal.db'}"
    server = request.getfixturevalue("pg_server")
    request.addfinalizer(server.drop_extra)
    return server.fresh_database(migrated=False)


@pytest.fixture
def start_instance(tmp_path, deployment_database):
    """Start instances of the image's command on one database; stop them all afterwards."""
    started: list[Instance] = []
    base = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "PYTHON_DOTENV_DISABLED": "1",  # never a developer's .env (tests/__init__.py)
        **IMAGE["env"],
        "DATABASE_URL": deployment_database,
        "SECRET_KEY": "a-long-random-secret-for-this-test-only-0123456789",
        # Plain HTTP on loopback here, so the cookie may not demand HTTPS; settings a local .env
        # might hold are pinned to what the image runs with.
        "SESSION_COOKIE_SECURE": "false",
        "MAIL_SERVER": "",
        "RATELIMIT_STORAGE_URI": "memory://",
        "TRUSTED_PROXIES": "0",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
    }

    def start(**env) -> Instance:
        instance = Instance({**base, **env}, tmp_path / f"instance{len(started)}.log")
        started.append(instance)
        instance.wait_until_healthy()
        return instance

    yield start
    for instance in started:
        instance.stop()


def test_two_instances_of_the_image_share_one_database_and_nothing_else(start_instance):
    """The first start migrates and seeds; a login form from one instance is accepted by the other,
    and the session works on both: no state lives in a process."""
    first = start_instance(SEED_DEMO="1")
    second = start_instance()
    browser = requests.Session()

    form = browser.get(first.url("/login"), timeout=10)
    assert form.status_code == 200
    token = CSRF_FIELD.search(form.text).group(1)
    login = browser.post(second.url("/login"), data={"csrf_token": token, "username": "admin1",
                                                     "password": "demo1234"}, allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text
    for instance in (first, second):
        home = browser.get(instance.url("/"), allow_redirects=False, timeout=10)
        assert home.status_code == 200
        assert "Logged in as" in home.text
    assert requests.get(second.url("/health"), timeout=10).json() == {"status": "ok"}
    assert [first.stop(), second.stop()] == [0, 0]


def test_the_healthcheck_command_follows_the_server(start_instance):
    """HEALTHCHECK exits 0 while gunicorn serves /health and non-zero once it is gone."""
    instance = start_instance()
    assert instance.healthcheck() == 0
    assert instance.stop() == 0
    assert instance.healthcheck() != 0


def test_the_image_refuses_to_start_without_a_real_secret_key(tmp_path, deployment_database):
    """APP_ENV=production from the image's ENV: the default SECRET_KEY stops the entrypoint."""
    env = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(tmp_path),
           "PYTHON_DOTENV_DISABLED": "1", **IMAGE["env"], "DATABASE_URL": deployment_database, "SECRET_KEY": ""}
    result = subprocess.run(localize(IMAGE["entrypoint"] + IMAGE["cmd"]), cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
