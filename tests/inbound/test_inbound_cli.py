"""`flask mail receive` as an MTA runs it: its own process, the message on stdin. Exit 0 for every
handled outcome (an MTA must not bounce what we chose to drop), 75 (EX_TEMPFAIL) with one line on
stderr when the database cannot take the message, so the MTA delivers it again later."""
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from app.database import POSTGRES_WRITE_LOCK
from app.extensions import db
from app.mail.enums import InboundOutcome
from app.models import Incident, IncidentEvent
from tests.inbound import messages


def test_a_piped_message_reports_an_incident(people, mail_receive, inbound_rows):
    result = mail_receive(messages.plain("reporter@example.test", "Piped", "From the MTA."))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("created INC-")
    db.session.rollback()
    incident = db.session.scalar(select(Incident))
    assert (incident.title, incident.reporter_id) == ("Piped", people["reporter"].id)
    assert db.session.scalar(select(IncidentEvent.via).where(IncidentEvent.incident_id == incident.id)) == "email"
    assert [row.outcome for row in inbound_rows()] == [InboundOutcome.CREATED]


def test_dropped_and_duplicate_messages_exit_zero(people, mail_receive, inbound_rows):
    raw = messages.plain("reporter@example.test", "Twice", "x")
    cases = [
        (raw, "created"),
        (raw, "duplicate"),
        (messages.plain("reporter@example.test", "Away", "x", Auto_Submitted="auto-replied"), "loop"),
        (b"not a message", "malformed"),
    ]
    for raw_mail, outcome in cases:
        result = mail_receive(raw_mail)
        assert (result.returncode, result.stdout.decode().split(":")[0].split(" ")[0]) == (0, outcome), result.stderr
    assert len(inbound_rows()) == len(cases) - 1  # the duplicate wrote nothing


def test_an_oversized_message_on_stdin_is_drained_and_dropped(people, mail_receive, inbound_rows):
    raw = messages.plain("reporter@example.test", "Big", "x" * 2000)
    result = mail_receive(raw, INBOUND_MAX_BYTES="1000")
    assert result.returncode == 0 and result.stdout.decode().startswith("malformed: too large")
    assert inbound_rows()[0].subject == "Big"


def test_a_database_that_cannot_be_reached_is_a_temporary_failure(people, mail_receive, tmp_path):
    unreachable = f"sqlite:///{tmp_path / 'missing-folder' / 'portal.db'}"
    result = mail_receive(messages.plain("reporter@example.test", "Later", "x"), DATABASE_URL=unreachable)
    assert result.returncode == 75
    lines = result.stderr.decode().strip().splitlines()
    assert lines[-1].startswith("Not handled, try again later:"), result.stderr
    assert "Traceback" not in result.stderr.decode()


def test_a_busy_database_is_a_temporary_failure(app, people, mail_receive):
    if db.engine.dialect.name == "sqlite":
        connection = db.engine.raw_connection()
        connection.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    else:
        connection = db.engine.raw_connection()
        cursor = connection.cursor()
        cursor.execute("BEGIN")
        cursor.execute(f"SELECT pg_advisory_xact_lock({POSTGRES_WRITE_LOCK})")
    try:
        result = mail_receive(messages.plain("reporter@example.test", "Busy", "x"), WRITE_LOCK_TIMEOUT_SECONDS="1")
    finally:
        connection.rollback()
        connection.close()
    assert result.returncode == 75, result.stderr
    assert "Not handled, try again later: The database is busy" in result.stderr.decode()
    db.session.rollback()
    assert db.session.scalar(select(Incident)) is None


def test_processes_racing_on_one_message_handle_it_once(people, mail_receive, inbound_rows):
    raw = messages.with_files("reporter@example.test", "Raced", "Sent to two pipes at once.", [("a.log", b"x")])
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _n: mail_receive(raw), range(3)))
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    outcomes = sorted(r.stdout.decode().split(" ")[0].rstrip(":") for r in results)
    assert outcomes == ["created", "duplicate", "duplicate"]
    db.session.rollback()
    assert len(list(db.session.scalars(select(Incident)))) == 1
    assert [row.outcome for row in inbound_rows()] == [InboundOutcome.CREATED]
