"""Claims are leases: a `flask outbox send` process stuck in an SMTP conversation keeps renewing its
claim, so no other sender takes its mail; killed with SIGKILL, it stops renewing, and another sender
delivers its mail once the lease lapses, with no attempt counted against it."""
import asyncio
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from app.mail.delivery import drain
from app.mail.enums import OutboxStatus
from app.models import OutboxMessage
from tests import factories
from tests.mail.smtp import Inbox, SmtpServer

pytestmark = pytest.mark.smtp

LEASE = 2  # OUTBOX_LEASE_SECONDS for every sender here (30 by default)
PATIENCE = 30  # seconds any wait below may take before the test fails


class StallingInbox(Inbox):
    """Holds the first DATA unanswered until let go, then refuses it (451), as a server does with
    a client that has gone; every later message is accepted as usual."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = threading.Event()
        self.let_go = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if self.stalled.is_set():
            return await super().handle_DATA(server, session, envelope)
        self.stalled.set()
        while not self.let_go.is_set():
            await asyncio.sleep(0.05)
        return "451 4.4.2 Client went away"


@pytest.fixture
def mail_settings() -> dict:
    """The in-process senders use the short lease too."""
    return {"OUTBOX_LEASE_SECONDS": LEASE}


@pytest.fixture
def stalling(smtp: SmtpServer) -> Iterator[StallingInbox]:
    """The test SMTP server, restarted on its port with the stalling inbox."""
    smtp.stop()
    smtp.inbox = StallingInbox()
    smtp.start()
    yield smtp.inbox
    smtp.inbox.let_go.set()


@pytest.fixture
def stuck_sender(people, stalling, outbox_process, outbox_rows) -> Iterator[subprocess.Popen]:
    """Two queued mails and a `flask outbox send` process that claimed both and is stuck in DATA."""
    factories.make_incident(people["reporter"])
    sender = outbox_process("send", OUTBOX_LEASE_SECONDS=str(LEASE), MAIL_TIMEOUT_SECONDS="120")
    try:
        assert stalling.stalled.wait(PATIENCE), sender.stderr.read() if sender.poll() is not None else "no DATA"
        assert {(m.status, m.claimed_by.split(":")[1]) for m in outbox_rows()} == {
            (OutboxStatus.SENDING, str(sender.pid))}
        yield sender
    finally:
        if sender.poll() is None:
            sender.kill()
        sender.communicate(timeout=PATIENCE)


def wait_until(condition: Callable[[], bool], what: str) -> float:
    """Poll `condition` until it holds; the seconds that took. Fails after PATIENCE seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < PATIENCE, f"gave up waiting: {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_live_senders_renewed_lease_is_not_taken(app, stuck_sender, outbox_rows):
    """The stuck process renews its claim past the first lease; another sender's pass then leaves
    both rows to it: nothing sent, nothing taken, no attempt counted."""
    first = {m.id: m.claimed_at for m in outbox_rows()}

    def renewed_past_the_first_lease() -> bool:
        return all((m.claimed_at - first[m.id]).total_seconds() > LEASE for m in outbox_rows())

    wait_until(renewed_past_the_first_lease, "the stuck sender renewing its lease")
    result = drain()

    assert (result.sent, result.lost_claims) == (0, 0)
    assert {(m.status, m.claimed_by.split(":")[1], m.attempts) for m in outbox_rows()} == {
        (OutboxStatus.SENDING, str(stuck_sender.pid), 0)}
    assert stuck_sender.poll() is None


def test_a_killed_senders_mail_is_taken_over_within_the_lease_and_not_counted(app, smtp, stuck_sender,
                                                                             stalling, outbox_rows):
    """kill -9 mid-DATA: another sender delivers both mails once the lease lapses (seconds, not
    10 minutes), each once, and each row's attempts count only that delivery."""
    os.kill(stuck_sender.pid, signal.SIGKILL)
    stuck_sender.wait(timeout=PATIENCE)
    stalling.let_go.set()
    sent: list[int] = []

    def another_sender_delivered_both() -> bool:
        sent.extend(drain().sent_ids)
        return len(sent) == 2

    took = wait_until(another_sender_delivered_both, "another sender taking the mail over")

    rows: list[OutboxMessage] = outbox_rows()
    assert sorted(sent) == [m.id for m in rows]
    assert [(m.status, m.attempts, m.claimed_by) for m in rows] == [(OutboxStatus.SENT, 1, None)] * 2
    assert all("lapsed" in m.last_error for m in rows)
    assert sorted(r for m in smtp.inbox.messages for r in m.rcpt_tos) == sorted(m.recipient for m in rows)
    assert took < LEASE + 5
