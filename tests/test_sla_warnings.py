"""SLA warnings (SPEC "Priority and SLA"): at 80 % and at breach, once each per clock, a timeline
event and mail to the right people (those who must act, the technician or the admins, and, SPEC "Watchers,
notifications", the incident's watchers: the reporter watches automatically); from `flask sla check`
and from the loop that delivers the outbox; exactly once across two processes and a restart. Time
moves by `now` arguments, not sleeps."""
import logging
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from app import create_app
from app.auth.roles import Role
from app.extensions import db
from app.incidents import notifications, service, sla_recompute, sla_warnings, watchers
from app.incidents.enums import EventKind, Priority
from app.mail import sender
from app.mail.delivery import drain
from app.mail.enums import OutboxStatus
from app.mail.sender import run_loop
from app.models import Incident, IncidentEvent, OutboxMessage, User, utcnow
from tests import factories
from tests.mail.smtp import SmtpServer, mail_app

PROJECT_ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday 10:00 UTC, inside the default business hours
SLA_EVENTS = (EventKind.SLA_WARNING, EventKind.SLA_BREACHED)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def notices(incident_id: int | None = None) -> list[tuple[int, str, str, datetime]]:
    """(incident, kind, clock, when) of every SLA event, in timeline order, fresh from the database."""
    db.session.rollback()
    query = select(IncidentEvent).where(IncidentEvent.kind.in_(SLA_EVENTS)).order_by(IncidentEvent.id)
    if incident_id is not None:
        query = query.where(IncidentEvent.incident_id == incident_id)
    return [(e.incident_id, e.kind.value, e.changes["clock"], e.created_at) for e in db.session.scalars(query)]


def sla_mail(incident_id: int | None = None) -> list[OutboxMessage]:
    """The outbox rows the SLA check wrote, oldest first."""
    db.session.rollback()
    query = select(OutboxMessage).where(OutboxMessage.event.in_(("sla_warning", "sla_breached")))
    if incident_id is not None:
        query = query.where(OutboxMessage.incident_id == incident_id)
    return list(db.session.scalars(query.order_by(OutboxMessage.id)))


def recipients(rows: list[OutboxMessage]) -> list[str]:
    return sorted(row.recipient for row in rows)


def emails(*users: User) -> list[str]:
    """The addresses a notice should reach, sorted as `recipients` gives them."""
    return sorted(user.email for user in users)


@pytest.fixture
def admins(people):
    """Every active admin (a second one, so 'all admins' means two) and an inactive admin."""
    factories.make_user(Role.ADMIN, username="retired", active=False)
    return [people["admin"], factories.make_user(Role.ADMIN, username="admintwo")]


@pytest.fixture
def p2(people, admins):
    """An unassigned P2 incident (response 60 min, resolve 480 min, 24x7) reported at T0."""
    incident = factories.make_incident(people["reporter"], severity="high", at=T0)
    assert incident.priority == Priority.P2
    return incident


# ---- when, and what ---------------------------------------------------------------------------

def test_warning_then_breach_on_each_clock_as_time_passes(p2):
    """80 % and 100 % of both clocks, each announced at the first check at or after it, once."""
    written = {minute: sla_warnings.check(at(minute)) for minute in (47, 48, 50, 59, 60, 61, 383, 384, 479, 480, 900)}

    assert {m: (r.warnings, r.breaches) for m, r in written.items() if r.written} == {
        48: (1, 0), 60: (0, 1), 384: (1, 0), 480: (0, 1)}
    assert notices(p2.id) == [(p2.id, "sla_warning", "response", at(48)), (p2.id, "sla_breached", "response", at(60)),
                              (p2.id, "sla_warning", "resolve", at(384)), (p2.id, "sla_breached", "resolve", at(480))]
    db.session.refresh(p2)
    assert p2.sla_notices == 15 and p2.sla_next_check_at is None


def test_the_event_is_the_portal_s_own_and_names_its_clock_and_due_time(p2):
    sla_warnings.check(at(50))
    event = db.session.scalars(select(IncidentEvent).where(IncidentEvent.kind == EventKind.SLA_WARNING)).one()
    assert event.actor_id is None and event.actor is None
    assert event.changes == {"clock": "response", "due_at": at(60).isoformat()}


def test_a_late_check_writes_the_breach_alone(p2):
    """The loop was down past both due times: one breach per clock, no warnings after the fact."""
    result = sla_warnings.check(at(600))

    assert (result.warnings, result.breaches) == (0, 2)
    assert [(kind, clock) for _, kind, clock, _ in notices(p2.id)] == [("sla_breached", "response"),
                                                                       ("sla_breached", "resolve")]
    assert sla_warnings.check(at(601)).written == 0
    assert sla_recompute.recompute(check_only=True).drifted == 0


def test_a_notice_found_long_after_it_fell_due_is_recorded_without_mail(people, p2, admins):
    """The first check after an upgrade or an import: old breaches go on the timeline, not in mail."""
    day = 24 * 60
    # The response breach fell due a day and a minute ago, the resolve breach 17 hours ago.
    assert sla_warnings.check(at(60 + day + 1)).breaches == 2
    events = db.session.scalars(select(IncidentEvent).where(IncidentEvent.kind == EventKind.SLA_BREACHED)
                                .order_by(IncidentEvent.id)).all()
    assert [(e.changes["clock"], e.changes.get("mailed")) for e in events] == [("response", False), ("resolve", None)]
    mail = sla_mail(p2.id)
    # the resolve breach only: to the two admins and the reporter (watching)
    assert recipients(mail) == emails(*admins, people["reporter"]) and all("resolve" in m.subject for m in mail)
    assert sla_recompute.recompute(check_only=True).drifted == 0


def test_a_paused_clock_warns_nothing_until_it_resumes(people, p2):
    """On hold the resolve clock stops (and the answered response clock has nothing left to say);
    on resume its warning moves by the time it stood still."""
    tech = people["tech"]
    service.assign_incident(actor=people["admin"], incident=p2, technician_id=tech.id, at=at(10))
    service.start_incident(actor=tech, incident=p2, at=at(20))
    service.hold_incident(actor=tech, incident=p2, reason="Waiting on the vendor.", at=at(100))

    assert sla_warnings.check(at(5000)).written == 0
    service.resume_incident(actor=tech, incident=p2, at=at(5100))  # stood still 5000 minutes
    assert sla_warnings.check(at(5383)).written == 0
    assert sla_warnings.check(at(5384)).warnings == 1
    assert notices(p2.id) == [(p2.id, "sla_warning", "resolve", at(5384))]


def test_a_stopped_clock_warns_nothing(people, p2):
    """Answered in time and resolved: neither clock is announced, however late the check."""
    tech = people["tech"]
    service.assign_incident(actor=people["admin"], incident=p2, technician_id=tech.id, at=at(5))
    service.start_incident(actor=tech, incident=p2, at=at(6))
    service.resolve_incident(actor=tech, incident=p2, resolution_notes="Fixed.", at=at(30))

    assert sla_warnings.check(at(10_000)).written == 0
    assert notices() == [] and sla_mail() == []


def test_a_reopen_continues_the_clock_and_does_not_warn_twice(people, p2):
    tech = people["tech"]
    service.assign_incident(actor=people["admin"], incident=p2, technician_id=tech.id, at=at(5))
    service.start_incident(actor=tech, incident=p2, at=at(6))
    assert sla_warnings.check(at(400)).warnings == 1  # resolve at 80 %
    service.resolve_incident(actor=tech, incident=p2, resolution_notes="Fixed.", at=at(410))
    service.reopen_incident(actor=people["reporter"], incident=p2, reason="Back again.", at=at(1000))

    assert sla_warnings.check(at(1000 + 69)).written == 0  # 410 + 69 = 479 counted minutes
    assert sla_warnings.check(at(1000 + 70)).breaches == 1  # 480: the same clock runs out
    assert [kind for _, kind, _, _ in notices(p2.id)] == ["sla_warning", "sla_breached"]


# ---- who is mailed ----------------------------------------------------------------------------

def test_unassigned_the_warning_goes_to_every_active_admin_and_the_watchers(people, p2, admins):
    """Nobody assigned: the active admins act on it; the reporter hears of it as a watcher."""
    sla_warnings.check(at(48))
    assert recipients(sla_mail(p2.id)) == emails(*admins, people["reporter"])


def test_assigned_the_warning_goes_to_the_technician_not_the_admins(people, admins):
    """Assigned: the technician acts on it (and watches); no admin is mailed; the reporter watches."""
    tech = people["tech"]
    incident = factories.make_incident(people["reporter"], severity="high", at=T0)
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=tech.id, at=at(1))
    service.start_incident(actor=tech, incident=incident, at=at(2))

    sla_warnings.check(at(384))

    rows = sla_mail(incident.id)
    assert recipients(rows) == emails(tech, people["reporter"])
    assert {row.subject for row in rows} == {
        f"[INC-{incident.id}] SLA warning: resolve due 2026-03-02 18:00 UTC: {incident.title}"}


def test_a_breach_mails_the_technician_and_every_admin_once_each(people, admins):
    """The technician and every active admin (not the inactive one), and the watchers (the reporter),
    one mail per address."""
    tech = people["tech"]
    incident = factories.make_incident(people["reporter"], severity="high", at=T0)
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=tech.id, at=at(1))

    sla_warnings.check(at(385))  # the resolve warning, to the technician
    sla_warnings.check(at(481))  # the breach

    breach = [row for row in sla_mail(incident.id) if row.event == "sla_breached"]
    assert recipients(breach) == emails(tech, *admins, people["reporter"])
    assert {row.subject for row in breach} == {
        f"[INC-{incident.id}] SLA breached: resolve was due 2026-03-02 18:00 UTC: {incident.title}"}


def test_an_unassigned_breach_mails_each_admin_once(people, p2, admins):
    sla_warnings.check(at(61))
    assert recipients(sla_mail(p2.id)) == emails(*admins, people["reporter"])


def test_the_watchers_hear_the_notices_unless_they_switched_sla_off(people, p2, admins):
    """Anyone watching hears a notice as the reporter does (a technician who chose to watch); `sla`
    switched off silences anyone, a watcher or one of the admins who must act (docs/notifications.md)."""
    other = people["tech_other"]
    watchers.watch(actor=other, incident=p2)
    notifications.set_switches(user=people["reporter"], switches={"sla": False})
    notifications.set_switches(user=admins[1], switches={"sla": False})

    sla_warnings.check(at(48))
    assert recipients(sla_mail(p2.id)) == emails(admins[0], other)
    sla_warnings.check(at(60))
    assert recipients([row for row in sla_mail(p2.id) if row.event == "sla_breached"]) == emails(admins[0], other)


def test_mail_says_the_clock_the_due_time_and_the_time_left_or_overdue(p2):
    sla_warnings.check(at(48))
    sla_warnings.check(at(75))  # the response breach, found 15 minutes late
    warning, breach = (row for row in sla_mail(p2.id) if row.recipient == "admin@example.test")

    assert "The response clock of" in warning.body_text and "(P2, 1 h counted around the clock)" in warning.body_text
    assert "due 2026-03-02 11:00 UTC, 12 min from now" in warning.body_text
    assert f"http://127.0.0.1:5000/ui/incidents/{p2.id}" in warning.body_text
    assert "<strong>2026-03-02 11:00 UTC</strong>, 12 min from now" in warning.body_html
    assert "was due 2026-03-02 11:00 UTC and is 15 min overdue" in breach.body_text
    assert "is 15 min overdue" in breach.body_html


def test_business_hours_time_left_counts_business_time(people, admins):
    """A P3 (240 min, business hours Mon-Fri 09-17 UTC) reported Friday 15:00: its response warning
    falls Monday 10:12, 48 business minutes before the due time, though days apart on the wall."""
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    incident = factories.make_incident(people["reporter"], severity="medium", at=friday)
    assert incident.priority == Priority.P3

    assert sla_warnings.check(datetime(2026, 3, 9, 10, 11, tzinfo=UTC)).written == 0
    assert sla_warnings.check(datetime(2026, 3, 9, 10, 12, tzinfo=UTC)).warnings == 1
    mail = sla_mail(incident.id)[0]
    assert "due 2026-03-09 11:00 UTC, 48 min from now" in mail.body_text
    assert "(P3, 4 h counted in business hours)" in mail.body_text


@pytest.mark.smtp
def test_the_warning_arrives_over_smtp_well_formed(app, p2):
    """Through a real SMTP server: both parts, the subject, the title escaped in HTML."""
    server = SmtpServer()
    server.start()
    try:
        with mail_app(app, server.port) as mailing:
            reporter = factories.make_user(Role.REPORTER)
            reporter_email = reporter.email
            incident_id = factories.make_incident(reporter, severity="critical",
                                                  urgency="high", title="<b>Core</b> router", at=T0).id
            sla_warnings.check(at(13))  # P1: response 15 min, warned at 12
            assert drain().unreachable is None
            # created: reporter + 2 admins, twice (p2 and this one); the warning: 2 admins + its reporter
            received = [m for m in server.inbox.wait_for(9) if "SLA warning" in m.mail["Subject"]]
        assert mailing.config["MAIL_SERVER"] == "127.0.0.1"
    finally:
        server.stop()
    # the admins (nobody is assigned) and the reporter, who watches
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(["admin@example.test", "admintwo@example.test",
                                                              reporter_email])
    for mail in received:  # the admins' wording and the reporter's
        # a subject this long is folded onto a continuation line: unfolded, it keeps the fold's space
        assert mail.mail["Subject"].strip() == (f"[INC-{incident_id}] SLA warning: response due 2026-03-02 10:15 UTC: "
                                                "<b>Core</b> router")
        assert "2 min from now" in mail.text and "2 min from now" in mail.html
        assert "&lt;b&gt;Core&lt;/b&gt; router" in mail.html and "<b>Core</b>" not in mail.html
        assert f'href="http://portal.test/ui/incidents/{incident_id}"' in mail.html


# ---- exactly once -----------------------------------------------------------------------------

def due_incidents(people, count: int) -> list[int]:
    """`count` unassigned P2 incidents reported 2 hours ago: each owes a response breach and (not
    yet) nothing else, so one pass writes exactly `count` events and 3 * count mails (two admins and
    the reporter, who watches)."""
    ago = utcnow() - timedelta(hours=2)
    return [factories.make_incident(people["reporter"], severity="high", at=ago).id for _ in range(count)]


def flask_command(app, *args: str, **settings: str) -> subprocess.Popen:
    """`flask <args>` as a process of its own on this test's database; keywords add environment variables."""
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": "sla-process-test-secret", "MAIL_SERVER": "", "OUTBOX_BACKGROUND_SENDER": "false",
           **settings}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "run.py", *args], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_report(process: subprocess.Popen) -> tuple[int, int]:
    """(incidents found due, notices written) as a `flask sla check` process reported them."""
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    visited, warnings, breaches = (int(n) for n in re.fullmatch(
        r"Checked (\d+) incident\(s\) due: wrote (\d+) SLA warning\(s\) and (\d+) breach\(es\)\.\n", out).groups())
    return visited, warnings + breaches


def assert_each_notice_once(ids: list[int], to: list[str]) -> None:
    """Each incident's response breach on its timeline once, and its mail once to each address of `to`."""
    events = Counter((incident_id, kind, clock) for incident_id, kind, clock, _ in notices())
    assert sorted(events) == sorted((incident_id, "sla_breached", "response") for incident_id in ids)
    assert set(events.values()) == {1}
    mails = Counter((row.incident_id, row.event, row.recipient) for row in sla_mail())
    assert sorted(mails) == sorted((incident_id, "sla_breached", address) for incident_id in ids for address in to)
    assert set(mails.values()) == {1}


def wait_until_open(processes: list[subprocess.Popen], path: Path, timeout: float = 60) -> None:
    """Until every process has the database file open (its app has started and begun reading)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(any(Path(fd).resolve() == path.resolve() for fd in Path(f"/proc/{p.pid}/fd").iterdir())
               for p in processes):
            return
        time.sleep(0.05)
    raise AssertionError("the processes did not open the database in time")


@pytest.mark.sqlite_only
def test_two_check_processes_at_once_write_each_notice_once(app, people, admins, db_path):
    """Two `flask sla check` processes are held at the write lock until both have started, then
    race over the same due incidents: both found every incident due (so both tried each one),
    and between them each notice is written once. (SQLite hands its lock to whoever asks between
    the holder's transactions, not in turn, so one process usually writes them all.)"""
    ids = due_incidents(people, 150)
    with closing(sqlite3.connect(db_path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")  # both read the due list, then queue for the lock
        processes = [flask_command(app, "sla", "check", WRITE_LOCK_TIMEOUT_SECONDS="60") for _ in range(2)]
        wait_until_open(processes, db_path)
        time.sleep(0.5)  # from opening the file to queueing for the lock: one read
        holder.execute("ROLLBACK")
        reports = [check_report(process) for process in processes]

    assert [visited for visited, _ in reports] == [len(ids), len(ids)]
    assert sum(written for _, written in reports) == len(ids)
    assert_each_notice_once(ids, to=emails(*admins, people["reporter"]))


def test_two_background_loops_write_each_notice_once(app, people, admins):
    """The loop of two worker processes' senders (two app instances, two threads), at once, while
    their SMTP server is unreachable (port 9): the checks go on during the outage."""
    ids = due_incidents(people, 60)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    stop = threading.Event()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def ready(instance):
        # Built and its templates compiled here, one at a time: CPython 3.11.7 can fail a compile() run
        # by two threads at once ("AST constructor recursion depth mismatch", gh-106905).
        for name in instance.jinja_env.list_templates():
            instance.jinja_env.get_template(name)
        return instance

    instances = [ready(create_app("testing", SQLALCHEMY_DATABASE_URI=uri, MAIL_SERVER="127.0.0.1", MAIL_PORT=9,
                                  MAIL_SUPPRESS_SEND=False, SLA_CHECK_SECONDS=1, OUTBOX_POLL_SECONDS=60))
                 for _ in range(2)]

    def worker(instance):
        try:
            with instance.app_context():
                barrier.wait()
                run_loop(stop=stop, wake=threading.Event())
                db.engine.dispose()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(instance,)) for instance in instances]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(notices()) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)  # a second check of each loop runs and must find nothing
    stop.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert_each_notice_once(ids, to=emails(*admins, people["reporter"]))


def test_a_restart_never_sends_a_warning_twice(app, people, admins):
    """Checked, then a new app (a restarted process) checks again, in-process and as `flask sla
    check`: nothing new on the timelines or in the outbox."""
    ids = due_incidents(people, 5)
    assert sla_warnings.check(utcnow()).breaches == 5
    outbox_before = db.session.scalar(select(func.count()).select_from(OutboxMessage))

    restarted = create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    with restarted.app_context():
        assert sla_warnings.check(utcnow()).written == 0
        db.session.remove()
        db.engine.dispose()
    assert check_report(flask_command(app, "sla", "check")) == (0, 0)

    assert_each_notice_once(ids, to=emails(*admins, people["reporter"]))
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before


def test_a_notice_on_the_timeline_is_not_repeated_when_its_bit_was_lost(p2):
    """The check reads the timeline, not just the bitmask: a hand-cleared sla_notices is rebuilt."""
    sla_warnings.check(at(48))
    db.session.execute(update(Incident).where(Incident.id == p2.id).values(sla_notices=0, sla_next_check_at=at(48)))
    db.session.commit()

    assert sla_warnings.check(at(49)).written == 0
    assert [kind for _, kind, _, _ in notices(p2.id)] == ["sla_warning"]
    db.session.refresh(p2)
    assert (p2.sla_notices, p2.sla_next_check_at) == (1, at(60))


# ---- the background loop ----------------------------------------------------------------------

@pytest.fixture
def loop_logs(caplog):
    """Captured log records of the sender and the check (Alembic's fileConfig disables app loggers)."""
    for name in ("app.mail.sender", "app.mail.delivery", "app.incidents.sla_warnings"):
        logging.getLogger(name).disabled = False
    caplog.set_level(logging.INFO)
    return caplog


def run_loop_until(instance, done, timeout=30):
    """Run the sender loop of `instance` in a thread until `done()` is true; stop it."""
    stop, wake = threading.Event(), threading.Event()

    def loop():
        with instance.app_context():
            run_loop(stop=stop, wake=wake)

    thread = threading.Thread(target=loop)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not done() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        wake.set()
        thread.join(30)
    assert not thread.is_alive()
    return done()


def test_the_loop_writes_the_warnings_and_delivers_their_mail(app, people, admins):
    server = SmtpServer()
    server.start()
    try:
        ids = due_incidents(people, 2)
        with mail_app(app, server.port, SLA_CHECK_SECONDS=30, OUTBOX_POLL_SECONDS=30) as mailing:
            # creation mail (reporter + 2 admins) for 2 incidents, then 2 admins and the reporter per breach
            assert run_loop_until(mailing, lambda: len(server.inbox.messages) >= 12)
    finally:
        server.stop()
    breaches = sorted((m.mail["Subject"].strip().split(":")[0], m.rcpt_tos[0]) for m in server.inbox.messages
                      if "SLA" in m.mail["Subject"])
    assert breaches == sorted((f"[INC-{i}] SLA breached", address)
                              for i in ids for address in emails(*admins, people["reporter"]))


def test_the_checks_go_on_while_the_mail_server_is_down(app, people, admins, loop_logs):
    """SMTP unreachable: mail passes back off, but a warning that falls due meanwhile is written.

    The warning is made to fall due only once the outage has begun (the first mail pass found the
    server unreachable), whatever the machine's speed: on a loaded machine a warning due at a fixed
    time could be written by the loop's first check, before any mail pass had run."""
    factories.make_incident(people["reporter"])  # its creation mail waits in the outbox
    down = create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                      MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_SUPPRESS_SEND=False, SLA_CHECK_SECONDS=0.5,
                      OUTBOX_POLL_SECONDS=30)
    made = []

    def unreachable() -> list:
        return [r for r in loop_logs.records if "unreachable" in r.getMessage()]

    def warned_during_the_outage() -> bool:
        if not made and unreachable():
            made.append(factories.make_incident(people["reporter"], severity="critical", urgency="high",
                                                at=utcnow() - timedelta(minutes=12) + timedelta(seconds=1)))
            assert made[0].priority == Priority.P1  # response 15 min: warned at 12, 1 s from now
        return bool(made) and len(notices(made[0].id)) == 1

    assert run_loop_until(down, warned_during_the_outage, timeout=30)
    assert len(unreachable()) == 1  # one mail pass, then the outage pause: the check ran on its own
    with down.app_context():
        db.engine.dispose()


def test_a_failing_check_is_logged_and_the_mail_still_goes_out(app, people, admins, loop_logs, monkeypatch):
    """A check that raises does not end the loop or hold back the mail; the next check runs."""
    server = SmtpServer()
    server.start()
    calls = []

    def broken(now):
        calls.append(now)
        raise RuntimeError("the SLA check broke")

    monkeypatch.setattr(sender.sla_warnings, "check", broken)
    try:
        factories.make_incident(people["reporter"])  # reporter + 2 admins
        with mail_app(app, server.port, SLA_CHECK_SECONDS=0.2, OUTBOX_POLL_SECONDS=30) as mailing:
            assert run_loop_until(mailing, lambda: len(server.inbox.messages) >= 3 and len(calls) >= 3)
    finally:
        server.stop()
    failures = [r for r in loop_logs.records if r.getMessage().startswith("SLA check failed")]
    assert len(failures) >= 3 and all(r.exc_info and "the SLA check broke" in str(r.exc_info[1]) for r in failures)


def test_an_incident_that_cannot_be_checked_holds_back_no_other(app, people, admins, loop_logs):
    """A broken business-hours setting fails each business-hours incident (logged with its id, left
    for the next pass); the 24x7 incident beside it is still warned, and the loop's mail goes out."""
    business = factories.make_incident(people["reporter"], severity="low", at=utcnow() - timedelta(days=30))
    always = due_incidents(people, 1)[0]
    server = SmtpServer()
    server.start()
    try:
        with mail_app(app, server.port, SLA_CHECK_SECONDS=30, OUTBOX_POLL_SECONDS=30) as mailing:
            # Start-up refuses a bad calendar (app/__init__.py); broken after it, as a stand-in for any fault.
            mailing.config["SLA_BUSINESS_HOURS"] = "Mon-Fri nine to five"
            assert run_loop_until(mailing, lambda: any("SLA breached" in m.mail["Subject"]
                                                       for m in server.inbox.messages))
    finally:
        server.stop()
    assert notices(business.id) == [] and len(notices(always)) == 1
    failed = [r for r in loop_logs.records if f"SLA check of incident {business.id} failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is not None


def test_without_a_mail_server_the_loop_still_writes_the_notices_and_keeps_the_mail(app, people, admins):
    """No MAIL_SERVER: the timeline still gets its warnings; their mail (2 admins and the reporter, each)
    waits in the outbox."""
    due_incidents(people, 2)
    with mail_app(app, 0, MAIL_SERVER=None, SLA_CHECK_SECONDS=1, OUTBOX_POLL_SECONDS=1) as unset:
        assert run_loop_until(unset, lambda: len(notices()) >= 2)
    assert [kind for _, kind, _, _ in notices()] == ["sla_breached"] * 2
    assert {row.status for row in sla_mail()} == {OutboxStatus.PENDING} and len(sla_mail()) == 6


def test_no_check_in_the_loop_when_switched_off(app, people, admins):
    """SLA_CHECK_SECONDS=0: cron's `flask sla check` does it; the loop only delivers mail."""
    due_incidents(people, 1)
    server = SmtpServer()
    server.start()
    try:
        with mail_app(app, server.port, SLA_CHECK_SECONDS=0, OUTBOX_POLL_SECONDS=30) as mailing:
            assert run_loop_until(mailing, lambda: len(server.inbox.messages) >= 3)
    finally:
        server.stop()
    assert notices() == []


# ---- flask sla check --------------------------------------------------------------------------

def test_flask_sla_check_prints_what_it_wrote(runner, people, admins):
    factories.make_incident(people["reporter"], severity="high", at=utcnow() - timedelta(minutes=50))
    factories.make_incident(people["reporter"], severity="high", at=utcnow() - timedelta(hours=9))

    first = runner.invoke(args=["sla", "check"])
    again = runner.invoke(args=["sla", "check"])

    assert (first.exit_code, again.exit_code) == (0, 0)
    assert first.output == "Checked 2 incident(s) due: wrote 1 SLA warning(s) and 2 breach(es).\n"
    assert again.output == "Checked 0 incident(s) due: wrote 0 SLA warning(s) and 0 breach(es).\n"


def test_flask_sla_check_exits_1_naming_what_it_could_not_check(app, people, admins):
    incident = factories.make_incident(people["reporter"], severity="low", at=utcnow() - timedelta(days=30))
    broken = create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    broken.config["SLA_TIMEZONE"] = "Mars/Olympus_Mons"  # after start-up, which would refuse it
    with broken.app_context():
        result = broken.test_cli_runner().invoke(args=["sla", "check"])
        db.session.remove()
        db.engine.dispose()
    assert result.exit_code == 1
    assert "Checked 1 incident(s) due: wrote 0 SLA warning(s) and 0 breach(es)." in result.output
    assert f"1 incident(s) could not be checked (INC-{incident.id}); see the log above." in result.output


@pytest.mark.sqlite_only
def test_flask_sla_check_on_a_busy_database_says_so(app, people, admins):
    due_incidents(people, 1)
    busy = create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                      WRITE_LOCK_TIMEOUT_SECONDS=0.2)
    path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    with closing(sqlite3.connect(path, isolation_level=None)) as holder, busy.app_context():
        holder.execute("BEGIN IMMEDIATE")
        result = busy.test_cli_runner().invoke(args=["sla", "check"])
        holder.execute("ROLLBACK")
        db.session.remove()
        db.engine.dispose()
    assert result.exit_code == 1
    assert "The database is busy" in result.output and "Traceback" not in result.output
