"""Many clients at once use every gunicorn process (gunicorn.conf.py, `keepalive`), on the server as the
image runs it: 2 processes. A kept-alive connection stays with the process that accepted it, and a
burst of them (wrk's 16, a proxy's pool) once all landed on one process while the other idled; so
each answer closes its connection, and every request goes to a process free to accept it."""
import http.client
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.load.data import seed
from tests.load.server import Gunicorn

pytestmark = pytest.mark.live


@pytest.fixture
def server(make_app, tmp_path) -> Iterator[Gunicorn]:
    """gunicorn as the image runs it (its keep-alive setting untouched), 2 processes of 2 threads."""
    url = make_app().config["SQLALCHEMY_DATABASE_URI"]
    seed(url, admins=1, reporters=0, technicians=0)
    running = Gunicorn(url, tmp_path / "gunicorn.log", workers=2, threads=2).start()
    yield running
    running.stop()


def cpu_ticks(pid: int) -> int:
    """User plus system CPU time of a process so far, in clock ticks (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_each_answer_closes_its_connection(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/health")  # HTTP/1.1: the client asks to keep the connection
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    assert response.getheader("Connection", "").lower() == "close"
    assert response.will_close
    connection.close()


def test_sixteen_clients_at_once_keep_both_processes_busy(server):
    """Three bursts of wrk's 16 connections: in each, either process did at least a sixth of the work
    (they share it about evenly; with keep-alive, bursts left one process 1-4 % of it)."""
    workers = server.worker_pids()
    assert len(workers) == 2
    for burst in range(3):
        before = {pid: cpu_ticks(pid) for pid in workers}
        done = subprocess.run(["wrk", "-t2", "-c16", "-d2s", f"{server.base}/health"],
                              capture_output=True, text=True, timeout=60, check=True)
        spent = {pid: cpu_ticks(pid) - before[pid] for pid in workers}
        answered = int(re.search(r"(\d+) requests in", done.stdout).group(1))
        assert answered > 100, done.stdout
        assert "Non-2xx" not in done.stdout and "Socket errors" not in done.stdout, done.stdout
        total = sum(spent.values())
        assert all(ticks >= total / 6 for ticks in spent.values()), f"burst {burst}: CPU ticks {spent}"
