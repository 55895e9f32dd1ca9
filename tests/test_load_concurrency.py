"""Many clients at once through gunicorn as the image runs it (several workers, threads each) on a
real database file, on 127.0.0.1: reporters create incidents while editors hammer a few hot
incidents with PUTs (with If-Match and without) and comments, and readers list and read.

Bounded in count and time. Passes only with zero 5xx and zero connection errors, no 'database is
locked' (or any traceback) in the server's log, no lost update (every accepted change is in the
timeline, in one unbroken chain of old -> new values, so versions run 1..n with no gap or repeat),
and row counts that add up to exactly the requests the server accepted."""
import random
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
import requests

from app import create_app
from app.extensions import db
from app.incidents.enums import EventKind
from app.models import Incident, IncidentEvent
from tests import postgres
from tests.load import invariants
from tests.load.data import headers, seed
from tests.load.report import report
from tests.load.server import Gunicorn

pytestmark = pytest.mark.live

WORKERS, THREADS = 3, 4
HOT = 6                        # incidents every editor fights over
CREATORS, CREATES_EACH = 4, 40
EDITORS, EDITS_EACH = 10, 45   # a third each: PUT with If-Match, PUT without, comment
READERS, READS_EACH = 2, 40
DEADLINE_SECONDS = 120         # the whole run, server start included, or the test fails
CLIENT_TIMEOUT = (5, 60)


@dataclass(frozen=True)
class Call:
    """One request a client made and what came back (status None: no answer at all)."""

    kind: str
    status: int | None
    incident: int | None = None
    sent: str | None = None
    version: int | None = None     # the version in a PUT's answer
    expected: int | None = None    # the version If-Match named
    error: str | None = None


class Run:
    """The shared record of every call; list.append is atomic, so no lock is needed."""

    def __init__(self, base: str):
        self.base = base
        self.calls: list[Call] = []
        self.start = threading.Barrier(CREATORS + EDITORS + READERS)

    def call(self, session: requests.Session, kind: str, method: str, path: str, *, incident=None,
             sent=None, expected=None, **kwargs) -> requests.Response | None:
        try:
            response = session.request(method, self.base + path, timeout=CLIENT_TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            self.calls.append(Call(kind, None, incident, sent, expected=expected, error=repr(exc)))
            return None
        version = None
        if response.headers.get("Content-Type", "").startswith("application/json") and method == "PUT":
            version = response.json().get("version")
        self.calls.append(Call(kind, response.status_code, incident, sent, version, expected))
        return response


def creator(run: Run, token: str, number: int) -> None:
    """Report incidents and read each one back."""
    session = requests.Session()
    run.start.wait()
    for n in range(CREATES_EACH):
        response = run.call(session, "create", "POST", "/incidents/", headers=headers(token), json={
            "title": f"Load {number}-{n}", "description": "Created under load.",
            "severity": random.choice(["low", "medium", "high", "critical"])})
        if response is not None and response.status_code == 201:
            run.call(session, "read", "GET", f"/incidents/{response.json()['id']}", headers=headers(token))


def editor(run: Run, token: str, number: int, hot: list[int]) -> None:
    """Edit and comment on the hot incidents; every title and comment is unique, so each accepted
    change can be found in the timeline afterwards."""
    session = requests.Session()
    rng = random.Random(number)
    run.start.wait()
    for n in range(EDITS_EACH):
        incident = rng.choice(hot)
        path = f"/incidents/{incident}"
        mode = ("if-match", "blind", "comment")[n % 3]
        text = f"{mode} by editor {number} #{n}"
        if mode == "comment":
            run.call(session, "comment", "POST", f"{path}/comments", incident=incident, sent=text,
                     headers=headers(token), json={"body": text})
            continue
        sent_headers, expected = headers(token), None
        if mode == "if-match":
            read = run.call(session, "read", "GET", path, headers=headers(token))
            if read is None or read.status_code != 200:
                continue
            sent_headers["If-Match"] = read.headers["ETag"]
            expected = int(read.headers["ETag"].strip('"'))
        run.call(session, f"edit {mode}", "PUT", path, incident=incident, sent=text, expected=expected,
                 headers=sent_headers, json={"title": text})


def reader(run: Run, token: str, hot: list[int]) -> None:
    """Lists, timelines, health checks: the reads an outage brings."""
    session = requests.Session()
    run.start.wait()
    for n in range(READS_EACH):
        path = ("/incidents/?per_page=50&sort=-updated_at", f"/incidents/{hot[n % len(hot)]}/events",
                "/health", "/incidents/?q=load&status=open")[n % 4]
        run.call(session, "read", "GET", path, headers=headers(token))


@pytest.fixture
def load_database(request, tmp_path, schema_template) -> str:
    """A migrated database of its own: a SQLite file, or a PostgreSQL database when the suite runs there."""
    if postgres.ENABLED:
        server = request.getfixturevalue("pg_server")
        request.addfinalizer(server.drop_extra)
        return server.fresh_database()
    shutil.copy(schema_template, tmp_path / "load.db")
    return f"sqlite:///{tmp_path / 'load.db'}"


def test_many_clients_through_gunicorn_lose_nothing(request, tmp_path, load_database):
    """The whole story in one run; see the module docstring for what must hold."""
    started = time.monotonic()
    people = seed(load_database)
    server = Gunicorn(load_database, tmp_path / "gunicorn.log", workers=WORKERS, threads=THREADS).start()
    try:
        owner = people.reporters[0]
        hot = []
        for n in range(HOT):
            response = requests.post(f"{server.base}/incidents/", headers=headers(owner), timeout=CLIENT_TIMEOUT,
                                     json={"title": f"Hot {n}", "description": "Everyone is on this one."})
            assert response.status_code == 201, response.text
            hot.append(response.json()["id"])
        run = Run(server.base)
        editors = [people.admins[0], people.admins[1], owner]
        threads = [threading.Thread(target=creator, args=(run, people.reporters[n % len(people.reporters)], n))
                   for n in range(CREATORS)]
        threads += [threading.Thread(target=editor, args=(run, editors[n % len(editors)], n, hot))
                    for n in range(EDITORS)]
        threads += [threading.Thread(target=reader, args=(run, people.technicians[n % 2], hot)) for n in range(READERS)]
        storm = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, DEADLINE_SECONDS - (time.monotonic() - started)))
        storm_seconds = time.monotonic() - storm
        assert not any(thread.is_alive() for thread in threads), "the clients did not finish in time"
    finally:
        server.stop()
    log = server.log_text()
    calls = run.calls

    statuses = Counter(call.status for call in calls)
    report(request, f"\nload: {len(calls)} requests from {len(threads)} clients in {storm_seconds:.1f}s "
                    f"({len(calls) / storm_seconds:.0f}/s) through gunicorn {WORKERS}x{THREADS}; "
                    f"statuses {dict(sorted(statuses.items(), key=lambda item: item[0] or 0))}; "
                    f"by kind {dict(Counter((call.kind, call.status) for call in calls))}")
    assert [call.error for call in calls if call.error] == []
    assert not [call for call in calls if call.status >= 500]
    allowed = {"create": {201}, "read": {200}, "comment": {201}, "edit blind": {200}, "edit if-match": {200, 412}}
    assert [call for call in calls if call.status not in allowed[call.kind]] == []
    assert "database is locked" not in log
    assert "Traceback" not in log and "WORKER TIMEOUT" not in log
    assert len(calls) >= CREATORS * CREATES_EACH * 2 + EDITORS * EDITS_EACH

    figures = invariants.check(load_database, admins=len(people.admins))
    accepted_edits = [call for call in calls if call.kind.startswith("edit") and call.status == 200]
    accepted_comments = [call for call in calls if call.kind == "comment" and call.status == 201]
    refused_edits = [call for call in calls if call.status == 412]
    created = sum(1 for call in calls if call.kind == "create" and call.status == 201)
    assert figures.incidents == HOT + created
    assert figures.events == Counter({"created": HOT + created, "edited": len(accepted_edits),
                                      "commented": len(accepted_comments)})
    # Created: the reporter and each admin; a comment: the reporter, who watches, unless they wrote it.
    assert figures.mails == figures.incidents * (1 + len(people.admins)) + figures.comment_mails
    assert figures.comment_mails > 0
    _assert_no_lost_update(load_database, hot, accepted_edits, accepted_comments, refused_edits)


def _assert_no_lost_update(database_url: str, hot: list[int], accepted: list[Call], comments: list[Call],
                           refused: list[Call]) -> None:
    """Per hot incident: versions 2..n handed out once each, one edited event per accepted PUT whose
    old title is the previous new title, every accepted comment there, nothing refused there."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        for incident_id in hot:
            incident = db.session.get(Incident, incident_id)
            mine = [call for call in accepted if call.incident == incident_id]
            assert incident.version == len(mine) + 1
            events = db.session.query(IncidentEvent).filter_by(incident_id=incident_id).order_by(IncidentEvent.id).all()
            title = f"Hot {hot.index(incident_id)}"
            produced = {}  # each accepted title -> the version its write made (the chain's order: 2, 3, ...)
            for event in events:
                if event.kind == EventKind.EDITED:
                    old, new = event.changes["title"]
                    assert old == title, f"INC-{incident_id}: an update was lost ({old!r} after {title!r})"
                    title = new
                    produced[new] = len(produced) + 2
            assert incident.title == title
            assert sorted(produced) == sorted(call.sent for call in mine)
            # The answer shows the incident as it stood when written: this write, or a later one.
            assert all(produced[call.sent] <= call.version <= incident.version for call in mine)
            # An If-Match write went through only on the very version it named.
            assert all(produced[call.sent] == call.expected + 1 for call in mine if call.expected is not None)
            assert not {call.sent for call in refused if call.incident == incident_id} & set(produced)
            bodies = [event.body for event in events if event.kind == EventKind.COMMENTED]
            assert sorted(bodies) == sorted(call.sent for call in comments if call.incident == incident_id)
        db.engine.dispose()
