"""The outbox table's use cases: claim due mail, record each outcome, retry, report.

No SMTP here. Every function is one short transaction, so a sender never holds the database
while it talks to a mail server, and a request writing new mail never waits on a sender."""
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from app.database import write_transaction
from app.exceptions import NotFound, TransitionNotAllowed
from app.extensions import db
from app.mail.enums import OutboxStatus
from app.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

# Claimed together by one sender; small, so a crashed sender strands few messages.
BATCH_SIZE = 10
ERROR_MAX = 1000
# How last_error begins on mail handed back because the server could not be reached at all.
UNREACHABLE = "SMTP server unreachable: "


@dataclass(frozen=True)
class Envelope:
    """What a sender needs from one row, read before the transaction ends (no ORM object leaks)."""

    id: int
    incident_id: int | None
    recipient: str
    subject: str
    body_text: str
    body_html: str
    created_at: datetime
    event: str = ""


def backoff_for(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt: OUTBOX_BACKOFF_SECONDS doubling each time."""
    return timedelta(seconds=current_app.config["OUTBOX_BACKOFF_SECONDS"] * 2 ** max(attempts - 1, 0))


def lease() -> timedelta:
    """How long a claim lasts unless its sender renews it (claimed_at is the last renewal)."""
    return timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])


def claim_due(*, worker: str, now: datetime, limit: int = BATCH_SIZE) -> list[int]:
    """Atomically mark up to `limit` due pending rows as ours (oldest first); their ids.

    One UPDATE guarded by `status = 'pending'`: on SQLite the write lock (BEGIN IMMEDIATE)
    serialises claimers; on PostgreSQL the CTE skips rows another sender has locked and the
    guard is re-checked after any wait, so no row is ever claimed twice."""
    # A materialized CTE, not `IN (subquery)`: PostgreSQL may re-run a plain subquery for each
    # outer row, and with the first rows already taken each re-run finds the next ones, so the
    # LIMIT stops limiting (one sender claimed all 40 rows in a test until this was a CTE).
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    claim = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(select(due.c.id)), OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENDING, claimed_by=worker, claimed_at=utcnow())
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    if not _any(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now):
        return []  # the usual case: a plain read, no write lock taken
    with write_transaction():
        ids = sorted(db.session.scalars(claim))
    return ids


def read_claimed(*, message_id: int, worker: str) -> Envelope | None:
    """The claimed row's content, or None when the claim was lost (taken back as stale)."""
    row = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.incident_id, OutboxMessage.recipient,
               OutboxMessage.subject, OutboxMessage.body_text, OutboxMessage.body_html,
               OutboxMessage.created_at, OutboxMessage.event)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING,
               OutboxMessage.claimed_by == worker)
    ).one_or_none()
    db.session.commit()  # end the read before the SMTP conversation starts
    return Envelope(*row) if row else None


def mark_sent(*, message_id: int, worker: str) -> bool:
    """The server accepted the message; False when our claim had already been taken back."""
    with write_transaction():
        result = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING,
                   OutboxMessage.claimed_by == worker)
            .values(status=OutboxStatus.SENT, sent_at=utcnow(), attempts=OutboxMessage.attempts + 1,
                    claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
    return result.rowcount == 1


def record_failure(*, message_id: int, worker: str, error: str) -> OutboxStatus | None:
    """One delivery attempt failed: back off and stay pending, or fail for good at the last
    attempt. Returns the new status, or None when our claim had already been taken back."""
    with write_transaction():
        message = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.id == message_id,
                                        OutboxMessage.status == OutboxStatus.SENDING,
                                        OutboxMessage.claimed_by == worker).with_for_update()
        )
        if message is None:
            return None
        _count_failure(message, error)
        status = message.status
    return status


def release(*, message_ids: Iterable[int], worker: str, unreachable: str | None = None) -> int:
    """Hand claimed rows back untried: the server could not be reached at all (`unreachable` says
    why, for admins), or the sender is shutting down.

    No attempt is counted: the message was never tried, so an outage of any length makes
    mail wait rather than fail."""
    ids = list(message_ids)
    if not ids:
        return 0
    values = {"status": OutboxStatus.PENDING, "claimed_by": None, "claimed_at": None}
    if unreachable is not None:
        values["last_error"] = _clip(UNREACHABLE + unreachable)
    with write_transaction():
        result = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING,
                   OutboxMessage.claimed_by == worker)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return result.rowcount


def renew_leases(*, worker: str) -> int:
    """Our sender is alive: every row it holds is leased from now again; how many."""
    with write_transaction():
        result = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_by == worker)
            .values(claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return result.rowcount


def reclaim_lapsed(*, now: datetime) -> list[int]:
    """Take back rows whose sender stopped renewing its lease (it died mid-send): pending and due
    again, with no attempt counted, since no server refused them. Their ids.

    The dead sender may have handed a message over just before it died, so it can arrive twice,
    with the same Message-ID. A message that killed its sender every time would be tried again
    each time; every takeover is logged."""
    lapsed = (OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - lease())
    if not _any(*lapsed):
        return []
    with write_transaction():
        rows = list(db.session.scalars(select(OutboxMessage).where(*lapsed).with_for_update(skip_locked=True)))
        for message in rows:
            message.last_error = _clip(f"the lease of {message.claimed_by} lapsed (the sender stopped mid-send); "
                                       "sent again, so it may arrive twice")
            message.status = OutboxStatus.PENDING
            message.claimed_by = None
            message.claimed_at = None
        ids = [message.id for message in rows]
    return ids


def retry_message(*, message_id: int, actor: str) -> None:
    """Put one failed message back in the queue with a fresh set of attempts."""
    with write_transaction():
        message = db.session.get(OutboxMessage, message_id, with_for_update=True)
        if message is None:
            raise NotFound(f"Outbox message {message_id} was not found.")
        if message.status != OutboxStatus.FAILED:
            raise TransitionNotAllowed(
                f"Outbox message {message_id} is {message.status.value}; only failed messages are retried."
            )
        _requeue(message)
    log.info("%s requeued outbox message #%s", actor, message_id)


def retry_failed(*, actor: str) -> int:
    """Put every failed message back in the queue; how many."""
    with write_transaction():
        failed = list(db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED).with_for_update()
        ))
        for message in failed:
            _requeue(message)
    log.info("%s requeued %s failed outbox message(s)", actor, len(failed))
    return len(failed)


def counts() -> dict[OutboxStatus, int]:
    """How many rows are in each status (every status present, zero included)."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    found = dict(rows)
    return {status: found.get(status, 0) for status in OutboxStatus}


@dataclass(frozen=True)
class Backlog:
    """Mail not delivered yet: waiting (pending, or being sent now) and failed for good; when the
    oldest waiting message was written; how many waiting ones last found the server unreachable."""

    waiting: int
    failed: int
    oldest_waiting_at: datetime | None
    unreachable: int

    @property
    def undelivered(self) -> int:
        """Every message that has not reached the mail server."""
        return self.waiting + self.failed

    def oldest_waiting_seconds(self, now: datetime) -> int | None:
        """How long the oldest waiting message has waited, in whole seconds (None: none waits)."""
        return None if self.oldest_waiting_at is None else max(0, int((now - self.oldest_waiting_at).total_seconds()))


def backlog() -> Backlog:
    """The whole undelivered queue in one query (the status index skips the sent rows)."""
    waiting = OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
    row = db.session.execute(
        select(func.count().filter(waiting),
               func.count().filter(OutboxMessage.status == OutboxStatus.FAILED),
               func.min(OutboxMessage.created_at).filter(waiting),
               func.count().filter(waiting, OutboxMessage.last_error.startswith(UNREACHABLE, autoescape=True)))
        .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED]))
    ).one()
    return Backlog(*row)


def list_messages(*, statuses: Iterable[OutboxStatus], limit: int = 100) -> list[OutboxMessage]:
    """Rows in any of `statuses`, oldest first."""
    return list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.status.in_(list(statuses)))
        .order_by(OutboxMessage.id).limit(limit)
    ))


def _any(*conditions) -> bool:
    """Whether any row matches: a plain read, which never waits for or holds up a writer."""
    return db.session.scalar(select(OutboxMessage.id).where(*conditions).limit(1)) is not None


def _count_failure(message: OutboxMessage, error: str) -> None:
    message.attempts += 1
    message.last_error = _clip(error)
    message.claimed_by = None
    message.claimed_at = None
    if message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        message.status = OutboxStatus.FAILED
    else:
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = utcnow() + backoff_for(message.attempts)


def _requeue(message: OutboxMessage) -> None:
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()


def _clip(error: str) -> str:
    return error if len(error) <= ERROR_MAX else error[: ERROR_MAX - 1] + "…"
