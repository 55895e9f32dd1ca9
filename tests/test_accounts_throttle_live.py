"""No one locks anyone out, on the real server (issue 14, finding 1): gunicorn as the image runs it,
2 workers. Wrong passwords come from 127.0.0.2 (Linux answers any 127/8 source address) over
kept-alive connections pinned to each worker, found from /proc; after five, spread over both
workers, every further try from 127.0.0.2 at HTTP Basic, the token endpoint and the login form is
429 with Retry-After on either worker (the count is in the database, not in a worker), while the
owner's right password from 127.0.0.1 gets in at once through all three."""
import base64
import http.client
import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.load.data import seed
from tests.load.server import Gunicorn

pytestmark = pytest.mark.live

ATTACKER, OWNER = "127.0.0.2", "127.0.0.1"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
USERNAME, PASSWORD = "load_admin0", "password123"


@pytest.fixture
def server(make_app, tmp_path) -> Iterator[Gunicorn]:
    """gunicorn, 2 workers, keep-alive on, on a migrated database of its own holding one admin (load_admin0)."""
    url = make_app().config["SQLALCHEMY_DATABASE_URI"]
    seed(url, admins=1, reporters=0, technicians=0)
    running = Gunicorn(url, tmp_path / "gunicorn.log", workers=2, threads=2)
    running.env["GUNICORN_KEEPALIVE"] = "30"  # the image closes each connection; these stay with one worker
    running.start()
    yield running
    running.stop()


class Client:
    """One kept-alive connection from a chosen source address, with a cookie jar of one cookie."""

    def __init__(self, server: Gunicorn, source: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30,
                                                     source_address=(source, 0))
        self.cookie = ""

    def send(self, method: str, path: str, *, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, str]:
        """The response (read to the end, so the connection can carry the next request) and its text."""
        headers = {**(headers or {}), **({"Cookie": self.cookie} if self.cookie else {})}
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        if response.getheader("Set-Cookie"):
            self.cookie = response.getheader("Set-Cookie").split(";", 1)[0]
        return response, text

    def basic(self, password: str):
        pair = base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
        return self.send("GET", "/me", headers={"Authorization": f"Basic {pair}"})

    def token(self, password: str):
        body = json.dumps({"username": USERNAME, "password": password}).encode()
        return self.send("POST", "/auth/tokens", body=body, headers={"Content-Type": "application/json"})

    def form(self, password: str):
        _, page = self.send("GET", "/login")
        fields = {"csrf_token": CSRF_FIELD.search(page).group(1), "username": USERNAME, "password": password}
        body = "&".join(f"{key}={value}" for key, value in fields.items()).encode()
        return self.send("POST", "/login", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})

    def worker(self) -> int:
        """The pid of the gunicorn worker holding the server end of this connection (from /proc)."""
        client_port, server_port = self.connection.sock.getsockname()[1], self.connection.port
        inode = None
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()  # local address, remote address (hex ip:port), ..., inode
            if (int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)) == (server_port, client_port):
                inode = fields[9]
        assert inode is not None, "the server end of the connection is gone"
        for fd in Path("/proc").glob("[0-9]*/fd/*"):
            try:
                if fd.readlink().name == f"socket:[{inode}]":
                    return int(fd.parts[2])
            except OSError:  # a descriptor that closed while we looked
                continue
        raise AssertionError(f"no process holds socket {inode}")


def one_client_per_worker(server: Gunicorn, source: str) -> list[Client]:
    """A kept-alive connection from `source` on each worker (a worker keeps its connection).

    Which idle worker accepts a new connection is the kernel's and the scheduler's choice: on a busy
    CI machine 40 connections in a row once all went to one worker. So each connection is opened
    while the other workers are stopped (SIGSTOP, well inside the 30 s heartbeat timeout): only the
    chosen worker can accept it."""
    workers = server.worker_pids()
    assert len(workers) == 2
    clients = []
    for chosen in workers:
        others = [pid for pid in workers if pid != chosen]
        for pid in others:
            os.kill(pid, signal.SIGSTOP)
        try:
            client = Client(server, source)
            assert client.send("GET", "/health")[0].status == 200
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)
        assert client.worker() == chosen
        clients.append(client)
    return clients


def assert_held_back(client: Client, answer) -> None:
    """429 from the throttle (not the per-worker request limit) with Retry-After, answered by this
    client's own worker."""
    response, text = answer
    assert response.status == 429, text[:300]
    assert int(response.getheader("Retry-After")) > 0
    assert re.search(r"Too many attempts; try again in \d+ seconds", text), text[:300]


def test_wrong_passwords_from_one_address_hold_it_back_on_both_workers_and_never_the_owner(server):
    """Five wrong passwords from 127.0.0.2, three on one worker and two on the other (neither saw
    five): then Basic, the token endpoint and the form, with the right password, are 429 on both
    workers; the owner at 127.0.0.1 gets 200, 201 and a session."""
    first, second = one_client_per_worker(server, ATTACKER)
    workers = {first.worker(), second.worker()}
    for client, door in ((first, Client.basic), (second, Client.token), (first, Client.form),
                         (second, Client.basic), (first, Client.token)):
        response, text = door(client, "not the password")
        assert response.status in {200, 401}, text[:300]
    for _ in range(3):
        for client in (first, second):
            for door in (Client.basic, Client.token, Client.form):
                assert_held_back(client, door(client, PASSWORD))
    assert {first.worker(), second.worker()} == workers  # the same two connections answered throughout

    owner = Client(server, OWNER)
    assert owner.basic(PASSWORD)[0].status == 200
    assert owner.token(PASSWORD)[0].status == 201
    response, _ = owner.form(PASSWORD)
    assert response.status == 302 and response.getheader("Location") == "/"
