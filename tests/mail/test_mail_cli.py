"""`flask outbox send | worker | list | retry` against a real SMTP server."""
import signal
import time

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.mail.enums import OutboxStatus
from app.models import OutboxMessage
from tests import factories

pytestmark = pytest.mark.smtp


@pytest.fixture
def queued(people) -> int:
    """One incident's creation mail (confirmation + admin) waiting in the outbox; how many."""
    factories.make_incident(people["reporter"], title="Printer down")
    return 2


def test_send_delivers_what_is_due_and_prints_counts(runner, smtp, queued, statuses):
    """Exit 0, the counts, every message at the server."""
    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output
    assert "Sent 2, to retry 0, failed 0; 0 waiting, 0 failed in total." in result.output
    assert len(smtp.inbox.wait_for(queued)) == queued
    assert statuses() == [OutboxStatus.SENT] * queued


def test_send_exits_non_zero_when_the_server_is_unreachable(runner, smtp, queued, statuses):
    """Nothing listening: exit 1, a clear reason, and the mail still waits."""
    smtp.stop()
    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 1
    assert f"SMTP server 127.0.0.1:{smtp.port} is unreachable" in result.output
    assert "Connection refused" in result.output
    assert "2 waiting" in result.output
    assert statuses() == [OutboxStatus.PENDING] * queued


def test_send_without_a_mail_server_says_what_waits(app, runner, queued):
    """No MAIL_SERVER: nothing can be sent; exit 1 and say how much waits."""
    app.config["MAIL_SERVER"] = None
    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 1
    assert "MAIL_SERVER is not set, so nothing can be sent; 2 message(s) wait in the outbox." in result.output


def test_list_shows_counts_rows_and_last_errors(runner, smtp, queued):
    """Counts per status, then each waiting or failed row with its last error."""
    smtp.inbox.refuse("admin@example.test", "550 5.1.1 No such user")
    runner.invoke(args=["outbox", "send"])

    result = runner.invoke(args=["outbox", "list"])

    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "pending 1  sending 0  sent 1  failed 0"
    assert "pending  attempts 1  admin@example.test" in result.output
    assert "last error: recipient refused: admin@example.test: 550 5.1.1 No such user" in result.output
    assert "reporter@example.test" not in result.output  # sent rows are not listed by default
    assert "reporter@example.test" in runner.invoke(args=["outbox", "list", "--status", "sent"]).output


def test_retry_by_id_and_all_failed(runner, queued, statuses):
    """Failed rows go back to pending by id or all at once; a non-failed id is an error."""
    first, second = db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))
    db.session.execute(update(OutboxMessage).values(status=OutboxStatus.FAILED, attempts=6))
    db.session.commit()

    assert runner.invoke(args=["outbox", "retry", str(first)]).output == f"Requeued #{first}.\n"
    assert statuses() == [OutboxStatus.PENDING, OutboxStatus.FAILED]
    again = runner.invoke(args=["outbox", "retry", str(first)])
    assert again.exit_code == 1 and "only failed messages are retried" in again.output
    assert runner.invoke(args=["outbox", "retry", "--failed"]).output == "Requeued 1 failed message(s).\n"
    assert statuses() == [OutboxStatus.PENDING, OutboxStatus.PENDING]
    assert runner.invoke(args=["outbox", "retry"]).exit_code == 2
    assert second > first


def test_worker_delivers_until_sigterm(smtp, people, queued, outbox_process, statuses):
    """The long-running worker (its own process) sends queued and newly committed mail, then
    stops cleanly on SIGTERM."""
    worker = outbox_process("worker", OUTBOX_POLL_SECONDS="1")
    try:
        assert len(smtp.inbox.wait_for(queued, timeout=20)) == queued
        factories.make_incident(people["reporter_other"], title="While the worker runs")
        assert len(smtp.inbox.wait_for(queued + 2, timeout=20)) == queued + 2
    finally:
        time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)

    assert worker.returncode == 0, err
    assert "Outbox worker stopped." in out
    assert statuses() == [OutboxStatus.SENT] * (queued + 2)
