"""One pass over the due outbox rows: claim, send each over SMTP with Flask-Mail, record the outcome."""
import logging
import os
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass, field

import flask_mail
from flask import current_app

from app.exceptions import Unavailable
from app.extensions import db
from app.incidents import references
from app.mail import outbox
from app.mail.enums import INBOUND_REFUSED_EVENT, OutboxStatus
from app.mail.outbox import Envelope
from app.models import utcnow

log = logging.getLogger(__name__)


class SmtpUnreachable(Exception):
    """No connection to the mail server could be opened (down, refused, TLS or login failed)."""


@dataclass
class DrainResult:
    """What one pass did. `unreachable` holds the reason when the server could not be reached."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    lost_claims: int = 0
    unreachable: str | None = None
    sent_ids: list[int] = field(default_factory=list)


def worker_name() -> str:
    """This sender's name in `claimed_by`: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:100]


def drain(*, worker: str | None = None, stop: threading.Event | None = None) -> DrainResult:
    """Deliver every row due when the pass starts, each attempted at most once in this pass.

    Rows that fail are rescheduled after this pass's start, so they wait for a later pass.
    When `stop` is set the pass ends after the current message and hands the rest back."""
    worker = worker or worker_name()
    started = utcnow()
    result = DrainResult()
    for message_id in outbox.reclaim_lapsed(now=started):
        log.warning("Outbox message #%s: its sender's lease lapsed; taken over", message_id)
    with _Transport() as transport:
        while batch := outbox.claim_due(worker=worker, now=started):
            with _LeaseKeeper(worker):
                if _send_batch(transport, batch, worker, result, stop):
                    return result
    return result


def _send_batch(transport: "_Transport", batch: list[int], worker: str, result: DrainResult,
                stop: threading.Event | None) -> bool:
    """Send one claimed batch; True when the pass must end (stop requested, or server unreachable)."""
    for position, message_id in enumerate(batch):
        if stop is not None and stop.is_set():
            result.released = outbox.release(message_ids=batch[position:], worker=worker)
            return True
        try:
            _deliver(transport, message_id, worker, result)
        except SmtpUnreachable as exc:
            result.unreachable = str(exc)
            result.released = outbox.release(message_ids=batch[position:], worker=worker, unreachable=str(exc))
            log.warning("SMTP server %s unreachable (%s); %s message(s) wait in the outbox",
                        transport.address, exc, outbox.backlog().waiting)
            return True
    return False


def _deliver(transport: "_Transport", message_id: int, worker: str, result: DrainResult) -> None:
    envelope = outbox.read_claimed(message_id=message_id, worker=worker)
    if envelope is None:
        result.lost_claims += 1
        log.warning("Outbox message #%s: claim lost before sending; skipped", message_id)
        return
    try:
        transport.send(build_message(envelope))
    except (smtplib.SMTPException, OSError) as exc:
        _record_failure(envelope, worker, describe(exc), result)
        return
    except SmtpUnreachable:
        raise
    except Exception as exc:  # a message that cannot be built or encoded: fail it, not the pass
        log.exception("Outbox message #%s could not be sent", message_id)
        _record_failure(envelope, worker, describe(exc), result)
        return
    if outbox.mark_sent(message_id=message_id, worker=worker):
        result.sent += 1
        result.sent_ids.append(message_id)
        log.info("Outbox message #%s sent to %s: %s", envelope.id, envelope.recipient, envelope.subject)
    else:
        result.lost_claims += 1
        log.warning("Outbox message #%s sent, but its claim had expired: another sender may send it "
                    "again (same Message-ID)", message_id)


def _record_failure(envelope: Envelope, worker: str, error: str, result: DrainResult) -> None:
    status = outbox.record_failure(message_id=envelope.id, worker=worker, error=error)
    if status == OutboxStatus.FAILED:
        result.failed += 1
        log.error("Outbox message #%s to %s failed for good: %s", envelope.id, envelope.recipient, error)
    elif status == OutboxStatus.PENDING:
        result.retrying += 1
        log.warning("Outbox message #%s to %s will be retried: %s", envelope.id, envelope.recipient, error)
    else:
        result.lost_claims += 1


def build_message(envelope: Envelope) -> flask_mail.Message:
    """The MIME message for a row: text and HTML parts, and a Message-ID that stays the same on
    every retry so a receiver (or a person) can tell a repeat from a new mail. Mail about an
    incident also names the incident's thread root in In-Reply-To and References, so a mail client
    shows one thread per incident and a reply finds its incident without the subject."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    message = flask_mail.Message(
        subject=envelope.subject,
        recipients=[envelope.recipient],
        body=envelope.body_text,
        html=envelope.body_html,
        sender=sender,
        extra_headers={
            # RFC 3834: out-of-office robots must not reply; an answer to a mail says it is one.
            "Auto-Submitted": "auto-replied" if envelope.event == INBOUND_REFUSED_EVENT else "auto-generated",
            "X-Outbox-Id": str(envelope.id),
            **(_thread_headers(envelope.incident_id) if envelope.incident_id else {}),
        },
    )
    message.msgId = message_id_for(envelope)
    return message


def message_id_for(envelope: Envelope) -> str:
    """Unique per row and identical across retries: `<incident-<id>.outbox-<row>.<created>@<domain>>`
    for mail about an incident (inbound mail reads the incident back from it), else
    `<outbox.<row>.<created>@<domain>>`."""
    if envelope.incident_id:
        return references.message_id(envelope.incident_id,
                                     f"outbox-{envelope.id}.{envelope.created_at:%Y%m%d%H%M%S}")
    return f"<outbox.{envelope.id}.{envelope.created_at:%Y%m%d%H%M%S}@{references.mail_domain()}>"


def _thread_headers(incident_id: int) -> dict[str, str]:
    """The incident's reference, and its thread root as the mail this one answers."""
    root = references.thread_root(incident_id)
    return {"X-Incident": references.reference(incident_id), "In-Reply-To": root, "References": root}


def describe(exc: BaseException) -> str:
    """An SMTP failure as admins should read it: the server's code and words when there are some."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items())
        return f"recipient refused: {refused}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _LeaseKeeper:
    """While a batch is being sent, renews its lease every third of OUTBOX_LEASE_SECONDS from a
    thread of its own, so a long SMTP conversation keeps the claim and a dead sender loses it."""

    def __init__(self, worker: str) -> None:
        self._app = current_app._get_current_object()
        self._worker = worker
        self._interval = max(0.2, self._app.config["OUTBOX_LEASE_SECONDS"] / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"outbox-lease-{worker}"[:60], daemon=True)

    def __enter__(self) -> "_LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with self._app.app_context():
            while not self._stop.wait(self._interval):
                try:
                    outbox.renew_leases(worker=self._worker)
                except Unavailable as exc:  # a busy database: the next renewal tries again
                    log.warning("Outbox sender %s could not renew its lease: %s", self._worker, exc.message)
                except Exception:
                    log.exception("Outbox sender %s could not renew its lease", self._worker)
                finally:
                    db.session.remove()


class _Connection(flask_mail.Connection):
    """Flask-Mail's connection with a socket timeout (a silent server cannot hang the sender)
    and TLS that verifies the server's certificate (Flask-Mail's default does not)."""

    def configure_host(self) -> smtplib.SMTP:
        """Connect, STARTTLS and log in as configured."""
        state = self.mail
        timeout = current_app.config["MAIL_TIMEOUT_SECONDS"]
        context = ssl.create_default_context()
        if state.use_ssl:
            host: smtplib.SMTP = smtplib.SMTP_SSL(state.server, state.port, timeout=timeout, context=context)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=timeout)
        try:
            host.set_debuglevel(int(state.debug))
            if state.use_tls:
                host.starttls(context=context)
            if state.username and state.password:
                host.login(state.username, state.password)
        except BaseException:
            host.close()
            raise
        return host


class _Transport:
    """One SMTP connection per pass, opened on first use and dropped after any failed send, so
    the next message starts on a clean connection."""

    def __init__(self) -> None:
        state = current_app.extensions["mail"]
        self.address = f"{state.server}:{state.port}"
        self._state = state
        self._connection: _Connection | None = None

    def __enter__(self) -> "_Transport":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send(self, message: flask_mail.Message) -> None:
        """Send one message; SmtpUnreachable when no connection can be opened."""
        if self._connection is None:
            self._connection = self._open()
        try:
            self._connection.send(message)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Say QUIT if the server still listens; close the socket either way."""
        connection, self._connection = self._connection, None
        if connection is None or connection.host is None:
            return
        try:
            connection.host.quit()
        except (smtplib.SMTPException, OSError):
            connection.host.close()

    def _open(self) -> _Connection:
        connection = _Connection(self._state)
        try:
            connection.__enter__()  # what `with mail.connect()` does; the `with` spans the whole pass
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpUnreachable(describe(exc)) from exc
        return connection
