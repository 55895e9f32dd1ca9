"""The in-process background sender: started by the first request, woken by committed mail,
never in a request's way, logging its own failures, safe across fork."""
import logging
import os
import statistics
import time

import pytest

from app import create_app
from app.mail import outbox
from app.mail.enums import OutboxStatus
from tests import factories
from tests.api_helpers import basic
from tests.mail.smtp import mail_app, silent_listener

pytestmark = pytest.mark.smtp

# Long enough that only a wake-up (not a poll) can explain prompt delivery.
POLL_SECONDS = 30
RUNS = 5
# created: confirmation + the one admin; then each event mails the watchers (the reporter, and the technician
# once assigned) but the actor: assigned (the admin acted): technician + reporter; started and resolved (the
# technician acted): the reporter each.
MAILS_PER_LIFECYCLE = 2 + 2 + 1 + 1


@pytest.fixture
def mail_settings() -> dict:
    """The SMTP-bound app with its in-process sender on, polling only every POLL_SECONDS."""
    return {"OUTBOX_BACKGROUND_SENDER": True, "OUTBOX_POLL_SECONDS": POLL_SECONDS}


@pytest.fixture
def mail_logs(caplog):
    """Captured app.mail log records. Re-enables the app's loggers, which Alembic's fileConfig
    (run in-process by the schema fixture) disables."""
    for name in ("app.mail.sender", "app.mail.delivery", "app.mail.outbox"):
        logging.getLogger(name).disabled = False
    caplog.set_level(logging.INFO, logger="app.mail")
    return caplog


def sender(app):
    """This app's background sender."""
    return app.extensions["outbox_sender"]


def lifecycle(client, people) -> dict[str, float]:
    """Create, assign, start and resolve one incident through the API; each request's seconds."""
    timings = {}

    def call(name, method, path, user, body):
        started = time.perf_counter()
        response = client.open(path, method=method, json=body, headers=basic(user))
        timings[name] = time.perf_counter() - started
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        return response.get_json()

    incident = call("create", "POST", "/incidents/", "reporter",
                    {"title": "Mail server test", "description": "Timing a request."})
    path = f"/incidents/{incident['id']}"
    call("assign", "PUT", path, "admin", {"technician_id": people["tech"].id})
    call("start", "PUT", path, "tech", {"status": "in_progress"})
    call("resolve", "PUT", path, "tech", {"status": "resolved", "resolution_notes": "Restarted it."})
    return timings


def timed(client, people, record_property, label: str, runs: int = RUNS) -> int:
    """`runs` lifecycles; record and print each request's median milliseconds (measured, not
    asserted: the suite shares the machine). Returns how many mails they queued."""
    samples = [lifecycle(client, people) for _ in range(runs)]
    medians = {step: round(statistics.median(s[step] for s in samples) * 1000, 1) for step in samples[0]}
    record_property(f"request_ms_{label}", medians)
    print(f"\nmedian request ms over {runs} runs, SMTP {label}: {medians}")
    return MAILS_PER_LIFECYCLE * runs


def test_no_sender_without_a_mail_server_or_when_switched_off(app):
    """No MAIL_SERVER (mail is only logged), no SLA checks, no webhook polling and no IMAP, or
    OUTBOX_BACKGROUND_SENDER off: no thread at all. Any one of those chores on: a thread
    (tests/test_sla_warnings.py)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    idle = {"SLA_CHECK_SECONDS": 0, "WEBHOOK_POLL_SECONDS": 0, "IMAP_HOST": None}
    assert "outbox_sender" not in create_app("testing", SQLALCHEMY_DATABASE_URI=uri, **idle,
                                             OUTBOX_BACKGROUND_SENDER=True).extensions
    for chore in ({"SLA_CHECK_SECONDS": 30}, {"WEBHOOK_POLL_SECONDS": 5}, {"IMAP_HOST": "imap.example.test"}):
        assert "outbox_sender" in create_app("testing", SQLALCHEMY_DATABASE_URI=uri, **{**idle, **chore},
                                             OUTBOX_BACKGROUND_SENDER=True).extensions, chore
    assert "outbox_sender" not in create_app("testing", SQLALCHEMY_DATABASE_URI=uri, MAIL_SERVER="127.0.0.1",
                                             OUTBOX_BACKGROUND_SENDER=False).extensions


def test_without_a_mail_server_committed_mail_is_logged_and_kept(app, people, mail_logs, statuses):
    """MAIL_SERVER unset: no sender; each message a request commits is logged (INFO) and waits."""
    with mail_app(app, 0, MAIL_SERVER=None, OUTBOX_BACKGROUND_SENDER=True, SLA_CHECK_SECONDS=0,
                  WEBHOOK_POLL_SECONDS=0) as unset:
        response = unset.test_client().post("/incidents/", headers=basic("reporter"),
                                            json={"title": "No mail server", "description": "Kept."})
        assert response.status_code == 201
        assert "outbox_sender" not in unset.extensions
        assert statuses() == [OutboxStatus.PENDING] * 2

    kept = [r for r in mail_logs.records if "kept, not sent" in r.getMessage()]
    assert [r.levelno for r in kept] == [logging.INFO] * 2
    assert all(f"[INC-{response.get_json()['id']}] Created" in r.getMessage() for r in kept)


def test_the_first_request_starts_the_sender_and_new_mail_wakes_it(app, smtp, client, people, statuses):
    """No thread until a request comes; then committed mail goes out without waiting for a poll."""
    assert not sender(app).running
    client.get("/login")
    assert sender(app).running

    started = time.monotonic()
    factories.make_incident(people["reporter"])
    inbox = smtp.inbox.wait_for(2, timeout=POLL_SECONDS / 2)

    assert len(inbox) == 2, "delivered by the wake-up, long before the next poll"
    assert time.monotonic() - started < POLL_SECONDS / 2
    sender(app).stop(timeout=10)
    assert not sender(app).running
    assert statuses() == [OutboxStatus.SENT] * 2


def test_smtp_down_requests_stay_fast_mail_waits_and_then_goes_out_once(app, smtp, client, people,
                                                                        record_property, statuses):
    """With the sender running, requests are timed with the server up and down; while it is
    down every request succeeds and mail waits; when it returns, each goes out exactly once."""
    app.config["OUTBOX_POLL_SECONDS"] = 0.2  # short outage pauses, so the test sees recovery soon
    with mail_app(app, smtp.port) as no_sender:
        quiet = no_sender.test_client()
        warm = timed(quiet, people, record_property, "warm-up", runs=1)
        warm += timed(quiet, people, record_property, "up, no sender in this process (baseline)")
    warm += timed(client, people, record_property, "warm-up with the sender", runs=1)
    up = timed(client, people, record_property, "up")
    assert len(smtp.inbox.wait_for(warm + up)) == warm + up

    smtp.stop()
    down = timed(client, people, record_property, "down (connection refused)")
    time.sleep(0.5)  # the sender has tried, and failed, by now
    deadline = time.monotonic() + 10  # on a busy machine a pass may still hold rows: let it end
    while OutboxStatus.SENDING in statuses() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert statuses().count(OutboxStatus.PENDING) == down
    assert set(statuses()) == {OutboxStatus.SENT, OutboxStatus.PENDING}

    smtp.start()
    total = warm + up + down
    assert len(smtp.inbox.wait_for(total, timeout=20)) == total
    time.sleep(0.5)  # any duplicate would arrive now
    assert len(smtp.inbox.messages) == total
    assert len(set(smtp.inbox.message_ids())) == total
    assert set(statuses()) == {OutboxStatus.SENT}


def test_a_hung_smtp_server_does_not_slow_requests(app, people, record_property, statuses):
    """The sender stuck in a connect that never gets a greeting: requests still succeed (timed)."""
    with silent_listener() as port, mail_app(app, port, OUTBOX_BACKGROUND_SENDER=True,
                                             MAIL_TIMEOUT_SECONDS=3) as hung:
        client = hung.test_client()
        client.get("/login")
        warm = timed(client, people, record_property, "warm-up (hung)", runs=1)
        queued = timed(client, people, record_property, "hung (accepts, never answers)")
        assert statuses().count(OutboxStatus.SENT) == 0
        assert len(statuses()) == warm + queued


def test_the_sender_logs_a_failed_pass_and_keeps_going(app, smtp, client, people, mail_logs, monkeypatch):
    """A pass that blows up is logged with its traceback; the next pass delivers."""
    real_claim = outbox.claim_due
    calls = []

    def claim_once_broken(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real_claim(**kwargs)

    monkeypatch.setattr(outbox, "claim_due", claim_once_broken)
    factories.make_incident(people["reporter"])
    client.get("/login")  # starts the sender; its first pass fails
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    sender(app).wake()

    assert len(smtp.inbox.wait_for(2)) == 2
    failures = [r for r in mail_logs.records if r.levelno == logging.ERROR]
    assert failures and "pass failed" in failures[0].getMessage()
    assert "database went away" in str(failures[0].exc_info[1])


def test_a_forked_child_starts_its_own_sender(app, client):
    """After fork the child has no thread and a fresh lock, even when the parent was mid-start."""
    client.get("/login")
    background = sender(app)
    with background._lock:  # the parent is (as it were) starting the thread as it forks
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status, never return into pytest
            fresh = not background.running and background._lock.acquire(timeout=1)
            os._exit(0 if fresh else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert background.running
