"""Delivers outbox rows over SMTP outside any request: the in-process sender thread, and the
loop it shares with `flask outbox worker`, which also gives the SLA warnings as they fall due,
delivers webhooks and reads the IMAP mailbox (each a chore on its own interval)."""
import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.exceptions import Unavailable
from app.extensions import db
from app.incidents import sla_warnings
from app.mail.delivery import drain
from app.models import OutboxMessage, WebhookDelivery, utcnow

log = logging.getLogger(__name__)

# While the server is unreachable, passes are spaced out up to this many seconds.
OUTAGE_PAUSE_MAX_SECONDS = 300


@dataclass
class _Chore:
    """Work the loop does every `every` seconds (0: never), beside the mail: its failures are logged
    and never stop the mail or the other chores."""

    name: str
    every: float
    run: Callable[[threading.Event], object]
    woken: bool = False  # also run as soon as a commit wakes the loop
    due: float = field(default_factory=time.monotonic)


def _chores() -> list[_Chore]:
    """The SLA warnings (timeline events as well as mail), webhook deliveries, and the IMAP
    mailbox when IMAP_HOST is set; each on its own interval, each skipped when switched off."""
    config = current_app.config
    return [chore for chore in (
        _Chore("SLA check", config["SLA_CHECK_SECONDS"], lambda stop: _check_sla()),
        _Chore("Webhook delivery", config["WEBHOOK_POLL_SECONDS"], _deliver_webhooks, woken=True),
        _Chore("IMAP poll", config["IMAP_POLL_SECONDS"] if config["IMAP_HOST"] else 0, _poll_imap),
    ) if chore.every]


def run_loop(*, stop: threading.Event, wake: threading.Event) -> None:
    """Drain, then sleep until new mail or webhooks are committed (`wake`) or the poll interval
    passes. While the SMTP server stays unreachable, pause the mail longer each time and ignore
    wake-ups for it: new mail cannot go out either, and every pass would take the database's write
    lock for nothing. The chores (`_chores`: SLA warnings, webhooks, IMAP) run on their own
    intervals, outage or not. Without a MAIL_SERVER the mail stays in the outbox. Runs in an app
    context until `stop` is set, or at once when there is nothing to do."""
    poll = current_app.config["OUTBOX_POLL_SECONDS"]
    delivers = bool(current_app.config["MAIL_SERVER"])
    chores = _chores()
    outage = 0
    next_drain = time.monotonic()
    while not stop.is_set():
        woken = wake.is_set()
        wake.clear()
        for chore in chores:
            if time.monotonic() >= chore.due or (woken and chore.woken):
                _run_chore(chore, stop)
                chore.due = time.monotonic() + chore.every
        if delivers and (time.monotonic() >= next_drain or (not outage and woken)):
            outage = outage + 1 if _drain(stop, poll) else 0
            next_drain = time.monotonic() + (min(poll * 2 ** outage, OUTAGE_PAUSE_MAX_SECONDS) if outage else poll)
        due = [chore.due for chore in chores] + ([next_drain] if delivers else [])
        if not due:
            return
        _sleep(stop, wake, min(due))


def _sleep(stop: threading.Event, wake: threading.Event, until: float) -> None:
    """Until the monotonic instant `until`, a wake-up, or `stop` (checked every quarter second)."""
    while not (stop.is_set() or wake.is_set()) and (left := until - time.monotonic()) > 0:
        wake.wait(min(left, 0.25))


def _drain(stop: threading.Event, poll: int) -> bool:
    """One delivery pass; True when the server was unreachable."""
    try:
        return drain(stop=stop).unreachable is not None
    except Unavailable as exc:  # the database is busy: expected now and then, no traceback
        log.warning("Outbox sender pass skipped: %s The next pass retries in %ss", exc.message, poll)
    except Exception:
        log.exception("Outbox sender pass failed; the next pass retries in %ss", poll)
    finally:
        db.session.remove()
    return False


def _run_chore(chore: _Chore, stop: threading.Event) -> None:
    try:
        chore.run(stop)
    except Unavailable as exc:
        log.warning("%s skipped: %s The next one runs in %ss", chore.name, exc.message, chore.every)
    except Exception:
        log.exception("%s failed; the next one runs in %ss", chore.name, chore.every)
    finally:
        db.session.remove()


def _check_sla() -> None:
    """One pass of the SLA warnings."""
    result = sla_warnings.check(utcnow())
    if result.written:
        log.info("SLA check: %s warning(s), %s breach(es) written", result.warnings, result.breaches)


def _deliver_webhooks(stop: threading.Event) -> None:
    """One pass over the due webhook deliveries (app/webhooks/delivery.py)."""
    from app.webhooks import delivery as webhook_delivery

    webhook_delivery.drain(stop=stop)


def _poll_imap(stop: threading.Event) -> None:
    """Read the IMAP mailbox once (app/mail/inbound/imap.py)."""
    from app.mail.inbound import imap

    imap.poll(stop=stop)


class BackgroundSender:
    """The in-process sender of one app: a daemon thread started by the first request each process
    serves. A forked worker (gunicorn) starts its own; it never inherits a dead copy of the parent's."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._reset()
        os.register_at_fork(after_in_child=self._reset)
        # A worker that exits (gunicorn recycles them) finishes its message and hands back the
        # rest of its batch, instead of leaving rows claimed until the claim goes stale.
        atexit.register(self.stop, timeout=app.config["MAIL_TIMEOUT_SECONDS"] + 1)

    def _reset(self) -> None:
        # Also runs in a forked child: the parent's thread does not exist there, and a lock the
        # parent held at fork time would never be released.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()

    @property
    def running(self) -> bool:
        """True while the thread is alive in this process."""
        return self._thread is not None and self._thread.is_alive()

    def ensure_running(self) -> None:
        """Start the thread unless it runs (cheap enough to call before every request)."""
        if self.running:
            return
        with self._lock:
            if self.running or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """New mail was committed: start a pass now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the current message, then end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        with self._app.app_context():
            log.info("Outbox sender started in process %s", os.getpid())
            run_loop(stop=self._stop, wake=self._wake)


@event.listens_for(Session, "after_flush")
def _collect_new_mail(session: Session, flush_context) -> None:
    """Remember the outbox rows (mail and webhook deliveries) this transaction wrote."""
    for obj in session.new:
        if isinstance(obj, OutboxMessage):
            session.info.setdefault("outbox_new", []).append((obj.id, obj.recipient, obj.subject))
        elif isinstance(obj, WebhookDelivery):
            session.info["webhooks_new"] = True


@event.listens_for(Session, "after_rollback")
def _forget_new_mail(session: Session) -> None:
    """Rolled back: that mail and those deliveries were never queued."""
    session.info.pop("outbox_new", None)
    session.info.pop("webhooks_new", None)


@event.listens_for(Session, "after_commit")
def _announce_new_mail(session: Session) -> None:
    """Committed mail: log it, and wake this process's sender if it has one (for webhook
    deliveries too, which go out whether or not there is a mail server)."""
    queued = session.info.pop("outbox_new", None)
    webhooks = session.info.pop("webhooks_new", False)
    if not (queued or webhooks) or not has_app_context():
        return
    app = current_app
    sender = app.extensions.get("outbox_sender")
    if queued and not app.config["MAIL_SERVER"]:
        # Mail from a request is news to the operator; a CLI command (the seed, which deletes the
        # mail of its invented history) reports for itself.
        level = logging.INFO if has_request_context() else logging.DEBUG
        for message_id, recipient, subject in queued:
            log.log(level, "Outbox #%s for %s kept, not sent (MAIL_SERVER is unset): %s",
                    message_id, recipient, subject)
        queued = None
    for message_id, recipient, subject in queued or ():
        log.debug("Outbox #%s queued for %s: %s", message_id, recipient, subject)
    if sender is not None and (queued or webhooks):
        sender.wake()


def init_app(app: Flask) -> None:
    """Start the in-process background sender when configured to, and when it has work: mail to
    deliver (MAIL_SERVER), SLA warnings to give (their timeline events), webhooks to deliver, or
    an IMAP mailbox to read."""
    if not app.config["OUTBOX_BACKGROUND_SENDER"]:
        return
    if not any(app.config[key] for key in ("MAIL_SERVER", "SLA_CHECK_SECONDS", "WEBHOOK_POLL_SECONDS", "IMAP_HOST")):
        return
    sender = BackgroundSender(app)
    app.extensions["outbox_sender"] = sender
    app.before_request(sender.ensure_running)
