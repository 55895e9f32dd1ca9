"""Delivers outbox rows over SMTP outside any request: the in-process sender thread, and the
loop it shares with `flask outbox worker`, which also gives the SLA warnings as they fall due."""
import atexit
import logging
import os
import threading
import time

from flask import Flask, current_app, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.exceptions import Unavailable
from app.extensions import db
from app.incidents import sla_warnings
from app.mail.delivery import drain
from app.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

# While the server is unreachable, passes are spaced out up to this many seconds.
OUTAGE_PAUSE_MAX_SECONDS = 300


def run_loop(*, stop: threading.Event, wake: threading.Event) -> None:
    """Drain, then sleep until new mail is committed (`wake`) or the poll interval passes.
    While the server stays unreachable, pause longer each time and ignore wake-ups: new mail
    cannot go out either, and every pass would take the database's write lock for nothing.
    Every SLA_CHECK_SECONDS (0: never) the same loop gives the SLA warnings due, outage or not:
    they are timeline events as well as mail. Without a MAIL_SERVER it only checks the SLA (the
    mail stays in the outbox). Runs in an app context until `stop` is set."""
    poll = current_app.config["OUTBOX_POLL_SECONDS"]
    sla_every = current_app.config["SLA_CHECK_SECONDS"]
    delivers = bool(current_app.config["MAIL_SERVER"])
    outage = 0
    next_drain = next_sla_check = time.monotonic()
    while not stop.is_set():
        if sla_every and time.monotonic() >= next_sla_check:
            _check_sla(sla_every)
            next_sla_check = time.monotonic() + sla_every
        if delivers and (time.monotonic() >= next_drain or (not outage and wake.is_set())):
            wake.clear()
            outage = outage + 1 if _drain(stop, poll) else 0
            next_drain = time.monotonic() + (min(poll * 2 ** outage, OUTAGE_PAUSE_MAX_SECONDS) if outage else poll)
        due = [moment for moment, on in ((next_drain, delivers), (next_sla_check, sla_every)) if on]
        if not due:
            return
        (stop if outage or not delivers else wake).wait(max(0.0, min(due) - time.monotonic()))


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


def _check_sla(every: int) -> None:
    """One pass of the SLA warnings; its failures are logged and never stop the mail."""
    try:
        result = sla_warnings.check(utcnow())
        if result.written:
            log.info("SLA check: %s warning(s), %s breach(es) written", result.warnings, result.breaches)
    except Unavailable as exc:
        log.warning("SLA check skipped: %s The next check runs in %ss", exc.message, every)
    except Exception:
        log.exception("SLA check failed; the next check runs in %ss", every)
    finally:
        db.session.remove()


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
    """Remember the outbox rows this transaction wrote (ids exist once flushed)."""
    for obj in session.new:
        if isinstance(obj, OutboxMessage):
            session.info.setdefault("outbox_new", []).append((obj.id, obj.recipient, obj.subject))


@event.listens_for(Session, "after_rollback")
def _forget_new_mail(session: Session) -> None:
    """Rolled back: that mail was never queued."""
    session.info.pop("outbox_new", None)


@event.listens_for(Session, "after_commit")
def _announce_new_mail(session: Session) -> None:
    """Committed mail: log it, and wake this process's sender if it has one."""
    queued = session.info.pop("outbox_new", None)
    if not queued or not has_app_context():
        return
    app = current_app
    if not app.config["MAIL_SERVER"]:
        # Mail from a request is news to the operator; a CLI command (the seed, which deletes the
        # mail of its invented history) reports for itself.
        level = logging.INFO if has_request_context() else logging.DEBUG
        for message_id, recipient, subject in queued:
            log.log(level, "Outbox #%s for %s kept, not sent (MAIL_SERVER is unset): %s",
                    message_id, recipient, subject)
        return
    for message_id, recipient, subject in queued:
        log.debug("Outbox #%s queued for %s: %s", message_id, recipient, subject)
    sender = app.extensions.get("outbox_sender")
    if sender is not None:
        sender.wake()


def init_app(app: Flask) -> None:
    """Start the in-process background sender when configured to: to deliver mail (MAIL_SERVER),
    or only to give the SLA warnings (their timeline events) when there is no mail server."""
    if not app.config["OUTBOX_BACKGROUND_SENDER"]:
        return
    if not (app.config["MAIL_SERVER"] or app.config["SLA_CHECK_SECONDS"]):
        return
    sender = BackgroundSender(app)
    app.extensions["outbox_sender"] = sender
    app.before_request(sender.ensure_running)
