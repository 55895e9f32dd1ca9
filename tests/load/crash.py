"""Crash trials: writers hammer a gunicorn (started as the image starts it) and, in the middle of
their writes, the server is killed with SIGKILL (master and workers at once; in every other trial
the workers first, which the master replaces, then everything). After each kill the database must
be sound (see invariants.py) and every write the server acknowledged must be there; then the next
trial starts a server on the same, crashed, file.

Run from the suite (tests/test_reliability_crash.py) or, for more trials, `scripts/crash-trial N`."""
import argparse
import random
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import flask_migrate
import requests

from app import create_app
from app.extensions import db
from app.incidents.enums import EventKind
from app.models import Incident, IncidentEvent
from tests.load import invariants
from tests.load.data import People, headers, seed
from tests.load.server import Gunicorn

TIMEOUT = (3, 30)


@dataclass
class Acks:
    """Writes the server answered 2xx to: they must survive any crash."""

    created: dict[int, str] = field(default_factory=dict)          # incident id -> title
    created_ids: list[int] = field(default_factory=list)            # the same ids, in order
    edited: list[tuple[int, str]] = field(default_factory=list)     # (incident, new title)
    comments: list[tuple[int, str]] = field(default_factory=list)   # (incident, body)
    moves: list[tuple[int, EventKind]] = field(default_factory=list)


class Writers:
    """Client threads that write until stopped, counting requests in flight and cut off."""

    def __init__(self, base: str, people: People, hot: list[int], acks: Acks, seed_value: int):
        self.base, self.people, self.hot, self.acks = base, people, hot, acks
        self.rng = random.Random(seed_value)
        self.stop_event = threading.Event()
        self.in_flight = 0
        self.answered = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(job, n), daemon=True)
                         for n, job in enumerate([self._create, self._create, self._edit, self._edit,
                                                  self._comment, self._move])]

    def start(self) -> "Writers":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _loop(self, job, number: int) -> None:
        session = requests.Session()
        n = 0
        while not self.stop_event.is_set():
            n += 1
            try:
                job(session, number, n)
            except requests.RequestException:
                self.stop_event.wait(0.05)  # the server is down or restarting its workers

    def _send(self, session, method: str, path: str, token: str, **kwargs) -> requests.Response:
        with self._lock:
            self.in_flight += 1
        try:
            response = session.request(method, self.base + path, headers=headers(token), timeout=TIMEOUT, **kwargs)
        finally:
            with self._lock:
                self.in_flight -= 1
        with self._lock:
            self.answered += 1
        if response.status_code >= 500:
            self.failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response

    def _create(self, session, number: int, n: int) -> None:
        title = f"Crash writer {number} #{n} {self.rng.random():.6f}"
        response = self._send(session, "POST", "/incidents/", self.people.reporters[number % 2],
                              json={"title": title, "description": "Written while the server may die."})
        if response.status_code == 201:
            incident = response.json()["id"]
            self.acks.created[incident] = title
            self.acks.created_ids.append(incident)

    def _edit(self, session, number: int, n: int) -> None:
        incident = self.hot[(number + n) % len(self.hot)]
        title = f"Crash edit {number} #{n} {self.rng.random():.6f}"
        response = self._send(session, "PUT", f"/incidents/{incident}", self.people.admins[number % 2],
                              json={"title": title})
        if response.status_code == 200:
            self.acks.edited.append((incident, title))

    def _comment(self, session, number: int, n: int) -> None:
        incident = self.hot[n % len(self.hot)]
        body = f"Crash comment #{n} {self.rng.random():.6f}"
        response = self._send(session, "POST", f"/incidents/{incident}/comments", self.people.admins[0],
                              json={"body": body})
        if response.status_code == 201:
            self.acks.comments.append((incident, body))

    def _move(self, session, number: int, n: int) -> None:
        """Take the newest acknowledged incident along the lifecycle, one request per move."""
        if not self.acks.created_ids:
            self.stop_event.wait(0.05)
            return
        incident = self.acks.created_ids[-1]
        technician = self.people.technicians[0]
        steps = [(self.people.admins[0], {"technician_id": self.people.technician_ids[0]}, EventKind.ASSIGNED),
                 (technician, {"status": "in_progress"}, EventKind.STATUS_CHANGED),
                 (technician, {"status": "resolved", "resolution_notes": "Restarted."}, EventKind.RESOLVED),
                 (self.people.reporters[0], {"status": "closed"}, EventKind.CLOSED)]
        for token, body, kind in steps:
            response = self._send(session, "PUT", f"/incidents/{incident}", token, json=body)
            if response.status_code != 200:  # another reporter's incident, or already moved on
                return
            self.acks.moves.append((incident, kind))

    def wait_for(self, *, answered: int, timeout: float) -> None:
        """Until at least `answered` requests have been answered in total."""
        deadline = time.monotonic() + timeout
        while self.answered < answered and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.answered >= answered, f"only {self.answered} requests answered in {timeout}s"

    def kill_mid_write(self, kill) -> int:
        """Call `kill` at a moment when requests are in flight; how many were."""
        deadline = time.monotonic() + 2
        while self.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        in_flight = self.in_flight
        kill()
        return in_flight


@dataclass
class Trial:
    """What one trial did and found."""

    mode: str
    answered: int
    in_flight_at_kill: int
    wal_bytes: int
    figures: invariants.Figures


def check_acks(database_url: str, acks: Acks) -> None:
    """Every write the server acknowledged is in the database."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        titles = dict(db.session.query(Incident.id, Incident.title).filter(Incident.id.in_(acks.created)).all())
        lost = {incident: title for incident, title in acks.created.items() if titles.get(incident) != title}
        assert not lost, f"acknowledged incidents lost: {lost}"
        events = db.session.query(IncidentEvent).all()
        edits = {(e.incident_id, e.changes["title"][1]) for e in events if e.kind == EventKind.EDITED}
        assert not set(acks.edited) - edits, "acknowledged edits lost"
        comments = {(e.incident_id, e.body) for e in events if e.kind == EventKind.COMMENTED}
        assert not set(acks.comments) - comments, "acknowledged comments lost"
        moves = {(e.incident_id, e.kind) for e in events}
        assert not set(acks.moves) - moves, "acknowledged moves lost"
        db.engine.dispose()


def run_trials(database_url: str, work: Path, *, trials: int, seed_value: int = 1,
               say=print) -> list[Trial]:
    """`trials` crash trials on one database; raises AssertionError at the first broken promise."""
    rng = random.Random(seed_value)
    people = seed(database_url, admins=2, reporters=2, technicians=1)
    acks = Acks()
    hot: list[int] = []
    results = []
    sqlite_file = Path(database_url.removeprefix("sqlite:///"))
    for number in range(trials):
        server = Gunicorn(database_url, work / f"gunicorn-{number}.log", workers=3, threads=4).start()
        writers = None
        try:
            if not hot:
                hot = [requests.post(f"{server.base}/incidents/", headers=headers(people.reporters[0]), timeout=TIMEOUT,
                                     json={"title": f"Hot {n}", "description": "Edited by everyone."}).json()["id"]
                       for n in range(3)]
            writers = Writers(server.base, people, hot, acks, seed_value=rng.randrange(2**32)).start()
            mode = "everything" if number % 2 == 0 else "workers, then everything"
            writers.wait_for(answered=rng.randint(20, 60), timeout=60)
            if number % 2:
                writers.kill_mid_write(server.kill_workers)
                before = writers.answered
                writers.wait_for(answered=before + 20, timeout=60)  # the master's new workers serve
            in_flight = writers.kill_mid_write(server.kill_everything)
            wal = sqlite_file.with_name(sqlite_file.name + "-wal")
            wal_bytes = wal.stat().st_size if wal.exists() else 0
        finally:
            if writers is not None:
                writers.stop()
            server.stop()
        assert writers.failures == []
        log = server.log_text()
        assert "database is locked" not in log and "Traceback" not in log, log[-3000:]
        figures = invariants.check(database_url, admins=len(people.admins))
        check_acks(database_url, acks)
        trial = Trial(mode, writers.answered, in_flight, wal_bytes, figures)
        results.append(trial)
        say(f"trial {number + 1}: kill -9 {mode}: {trial.answered} answered, {trial.in_flight_at_kill} in flight "
            f"at the kill, WAL {trial.wal_bytes // 1024} KiB; after restart: integrity ok, "
            f"{figures.incidents} incidents, {sum(figures.events.values())} events, {figures.mails} mails, all "
            f"consistent; all {len(acks.created)} + {len(acks.edited)} + {len(acks.comments)} + {len(acks.moves)} "
            f"acknowledged writes present")
    server = Gunicorn(database_url, work / "gunicorn-final.log", workers=2, threads=2).start()
    try:
        response = requests.post(f"{server.base}/incidents/", headers=headers(people.reporters[0]), timeout=TIMEOUT,
                                 json={"title": "After the crashes", "description": "Business as usual."})
        assert response.status_code == 201
    finally:
        server.stop()
    invariants.check(database_url, admins=len(people.admins))
    return results


def main() -> None:
    """`scripts/crash-trial [N]`: N trials on a fresh SQLite file (kept when a trial fails)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trials", type=int, nargs="?", default=10)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crash-trial-"))
    template = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{work / 'portal.db'}")
    with template.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    print(f"{args.trials} crash trials in {work} (seed {args.seed})")
    run_trials(f"sqlite:///{work / 'portal.db'}", work, trials=args.trials, seed_value=args.seed)
    shutil.rmtree(work)
    print("all trials passed")


if __name__ == "__main__":
    main()
