"""kill -9 in the middle of an upload, against a real gunicorn (started as the image starts it): after a
restart and `flask attachments sweep`, every row names a file with its sha256, no file lacks a row, no
temp file is left, and every upload the server acknowledged is there, byte for byte."""
import hashlib
import os
import threading
import time

import pytest
import requests
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import Attachment
from tests.attachment_helpers import stored_files, temp_files
from tests.load.data import headers, seed
from tests.load.server import Gunicorn

pytestmark = [pytest.mark.live, pytest.mark.sqlite_only]

SIZE = 6 * 1024 * 1024
UPLOADERS = 3
TIMEOUT = (3, 60)


class Uploaders:
    """Threads posting distinct 6 MiB files until the server dies; the ones it acknowledged."""

    def __init__(self, base: str, token: str, incidents: list[int]):
        self.base, self.token, self.incidents = base, token, incidents
        self.acked: dict[int, str] = {}  # attachment id -> sha256
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._count = 0
        self._body = os.urandom(SIZE)
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(UPLOADERS)]

    def start(self) -> "Uploaders":
        for thread in self._threads:
            thread.start()
        return self

    def _loop(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                self._count += 1
                n = self._count
            data = n.to_bytes(8, "big") + self._body
            incident = self.incidents[n % len(self.incidents)]
            try:
                response = requests.post(f"{self.base}/incidents/{incident}/attachments", headers=headers(self.token),
                                         files={"file": (f"upload-{n}.bin", data)}, timeout=TIMEOUT)
            except requests.RequestException:
                return  # the server is gone
            if response.status_code == 201:
                body = response.json()
                assert body["sha256"] == hashlib.sha256(data).hexdigest()
                with self._lock:
                    self.acked[body["id"]] = body["sha256"]

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def _kill_while_staging(server: Gunicorn, store, timeout: float = 60) -> None:
    """kill -9 master and workers the moment an upload is being written into the store's tmp/."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(path.stat().st_size > 0 for path in temp_files(store) if path.exists()):
            server.kill_everything()
            return
        time.sleep(0.0005)
    raise AssertionError("no upload was seen being staged")


def test_kill_9_during_an_upload_leaves_no_row_and_no_orphan(db_path, tmp_path):
    database_url = f"sqlite:///{db_path}"
    store = tmp_path / "attachments"
    people = seed(database_url, admins=1, reporters=1, technicians=0)
    token = people.admins[0]

    def server(number: int) -> Gunicorn:
        gunicorn = Gunicorn(database_url, tmp_path / f"gunicorn-{number}.log", workers=2, threads=2)
        gunicorn.env.update(ATTACHMENT_DIR=str(store), ATTACHMENT_MAX_BYTES=str(16 * 1024 * 1024))
        return gunicorn.start()

    first = server(0)
    try:
        incidents = [requests.post(f"{first.base}/incidents/", headers=headers(token), timeout=TIMEOUT,
                                   json={"title": f"Crash upload {n}", "description": "Files arrive."}).json()["id"]
                     for n in range(4)]
        uploaders = Uploaders(first.base, token, incidents).start()
        deadline = time.monotonic() + 60
        while len(uploaders.acked) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(uploaders.acked) >= 2, first.log_text()[-2000:]
        _kill_while_staging(first, store)
        uploaders.join()
    finally:
        first.stop()
    assert temp_files(store), "the kill did not land while a file was being written"

    second = server(1)
    try:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, ATTACHMENT_DIR=str(store))
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["attachments", "sweep", "--older-than", "0"])
            assert result.exit_code == 0, result.output
            rows = {row.id: row.sha256 for row in db.session.scalars(select(Attachment))}
            db.session.remove()
            db.engine.dispose()
        files = stored_files(store)
        assert temp_files(store) == []
        assert set(files) == set(rows.values()), "a file without a row, or a row without its file"
        assert all(hashlib.sha256(data).hexdigest() == digest for digest, data in files.items())
        assert uploaders.acked.items() <= rows.items(), "an acknowledged upload was lost"
        assert len(rows) <= len(uploaders.acked) + UPLOADERS
        some = next(iter(uploaders.acked))
        download = requests.get(f"{second.base}/attachments/{some}", headers=headers(token), timeout=TIMEOUT)
        assert hashlib.sha256(download.content).hexdigest() == uploaders.acked[some]
        again = requests.post(f"{second.base}/incidents/{incidents[0]}/attachments", headers=headers(token),
                              files={"file": ("after.txt", b"after the crash")}, timeout=TIMEOUT)
        assert again.status_code == 201, again.text
    finally:
        second.stop()
