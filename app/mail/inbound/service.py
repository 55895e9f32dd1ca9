"""What becomes of one inbound mail: an incident, a comment, or a logged refusal (SPEC "Inbound
mail"; docs/mail.md). Every door (`flask mail receive`, `flask mail poll`, the background loop)
calls `receive()`.

The order of the checks: the same message again (its key is in inbound_messages) -> DUPLICATE,
nothing written; unusable (too large, unparseable, no From) -> MALFORMED; an automatic message
(Auto-Submitted other than "no", Precedence bulk/list/junk, a delivery report, an out-of-office
robot, our own sender address) -> LOOP; a From that is not exactly one active user -> UNKNOWN_SENDER
(told why at most once a day) or REFUSED; a reply to an incident (our Message-IDs in In-Reply-To /
References, else `[INC-<id>]` in the subject) -> a comment, or REFUSED when the incident does not
exist or the sender may not comment on it (one answer for both, and no reply: a reporter must not
learn that someone else's incident exists); anything else -> a new incident.

Each handled message writes exactly one InboundMessage row, in the same transaction as the incident
or comment it made (the service's `then=` hook), so a crash never leaves one without the other; the
row's unique key makes a second copy, even one racing in another process, a DUPLICATE."""
import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.database import write_transaction
from app.exceptions import DomainError, Unavailable
from app.extensions import db
from app.incidents import attachments, notifications, service
from app.incidents.lifecycle import DESCRIPTION_MAX, TEXT_MAX, Action, Decision, decide
from app.incidents.references import incident_in_subject, incident_in_thread, reference
from app.mail.enums import INBOUND_REFUSED_EVENT, InboundOutcome
from app.mail.inbound.parse import ParsedMail, parse
from app.mail.inbound.text import strip_reply, truncate
from app.models import Attachment, InboundMessage, Incident, User, utcnow

log = logging.getLogger(__name__)

VIA = "email"
REPLY_EVENT = INBOUND_REFUSED_EVENT  # the outbox row's event for the answer to an unknown sender
REPLY_INTERVAL = timedelta(hours=24)
DETAIL_MAX = 1000
NO_TEXT = "(no text)"
ONLY_FILES = "(attachments only)"
LOOP_PRECEDENCE = {"bulk", "list", "junk"}
# Robots' mailboxes: an unknown sender with one of these local parts is never answered.
_ROBOTS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply", "bounce")


@dataclass(frozen=True)
class Handled:
    """What became of one message: the outcome, the incident and event it made or names, and why."""

    outcome: InboundOutcome
    incident_id: int | None = None
    event_id: int | None = None
    detail: str = ""


class _AlreadyHandled(Exception):
    """Found under the write lock: another process recorded this message first."""


@dataclass
class _MailUpload:
    """An attached file handed to app.incidents.attachments like a form's upload."""

    filename: str
    stream: io.BytesIO


def receive(raw: bytes, *, now: datetime | None = None, declared_size: int | None = None) -> Handled:
    """Handle one RFC 5322 message. Never raises for what the message holds; raises Unavailable
    when the database cannot take it now (nothing was written: hand the message in again later).
    `declared_size`: the whole message's size when `raw` is only its header block (IMAP, oversized)."""
    now = now or utcnow()
    mail = parse(raw, max_bytes=int(current_app.config["INBOUND_MAX_BYTES"]), declared_size=declared_size)
    try:
        handled = _handle(mail, now)
    except DBAPIError as exc:
        if isinstance(exc, IntegrityError):
            raise
        _forget_session()
        raise Unavailable(f"The database cannot take the mail now ({type(exc.orig).__name__}).") from exc
    _log(mail, handled)
    return handled


def _handle(mail: ParsedMail, now: datetime) -> Handled:
    if _known(mail.key):
        return Handled(InboundOutcome.DUPLICATE, detail="this Message-ID was handled before")
    if mail.malformed:
        return _record(mail, InboundOutcome.MALFORMED, now, detail=mail.malformed)
    loop = _loop_reason(mail)
    if loop:
        return _record(mail, InboundOutcome.LOOP, now, detail=loop)
    senders = _active_users(mail.sender)
    if not senders:
        return _unknown_sender(mail, now)
    if len(senders) > 1:
        return _record(mail, InboundOutcome.REFUSED, now,
                       detail=f"{len(senders)} active users share the address {mail.sender}: whose is it?")
    actor = senders[0]
    incident_id = incident_in_thread(mail.in_reply_to, mail.references) or incident_in_subject(mail.subject)
    if incident_id is not None:
        return _comment(mail, actor, incident_id, now)
    return _create(mail, actor, now)


# ---- checks -------------------------------------------------------------------------------------

def _known(key: str) -> bool:
    found = db.session.scalar(select(InboundMessage.id).where(InboundMessage.message_key == key))
    db.session.rollback()  # a read only: end it before a write transaction begins
    return found is not None


def _loop_reason(mail: ParsedMail) -> str | None:
    """Why the message is an automatic one we must not answer or act on, if it is."""
    if mail.auto_submitted and mail.auto_submitted != "no":
        return f"Auto-Submitted: {mail.auto_submitted}"
    if mail.precedence in LOOP_PRECEDENCE:
        return f"Precedence: {mail.precedence}"
    if mail.delivery_report:
        return "a delivery report (bounce or receipt)"
    if mail.auto_reply:
        return "an automatic reply (X-Autoreply / X-Autorespond)"
    ours = parseaddr(str(current_app.config["MAIL_DEFAULT_SENDER"]))[1].lower()
    if ours and mail.sender == ours:
        return "sent from our own address (MAIL_DEFAULT_SENDER)"
    return None


def _active_users(address: str) -> list[User]:
    users = list(db.session.scalars(
        select(User).where(func.lower(User.email) == address, User.active.is_(True)).order_by(User.id)
    ))
    return users


# ---- outcomes -----------------------------------------------------------------------------------

def _unknown_sender(mail: ParsedMail, now: datetime) -> Handled:
    """Nothing is made; the sender is told why, at most once per REPLY_INTERVAL (a forged From
    must not turn the portal into a mail cannon), and never a robot's mailbox."""
    detail = f"{mail.sender} is not the address of an active user"

    def reply(row: InboundMessage) -> None:
        if _robot(mail.sender) or _replied_recently(mail.sender, now):
            return
        row.replied = True
        notifications.inbound_refused(mail.sender, at=now)

    return _record(mail, InboundOutcome.UNKNOWN_SENDER, now, detail=detail, also=reply)


def _robot(address: str) -> bool:
    local = address.partition("@")[0]
    return local.startswith(_ROBOTS)


def _replied_recently(address: str, now: datetime) -> bool:
    return db.session.scalar(
        select(InboundMessage.id).where(InboundMessage.sender == address, InboundMessage.replied.is_(True),
                                        InboundMessage.received_at > now - REPLY_INTERVAL).limit(1)
    ) is not None


def _comment(mail: ParsedMail, actor: User, incident_id: int, now: datetime) -> Handled:
    """A reply becomes a comment by its sender, quotes and signature dropped; an incident that does
    not exist and one the sender may not comment on are refused alike."""
    incident = db.session.get(Incident, incident_id)
    if incident is None or decide(actor, Action.COMMENT, incident) != Decision.ALLOWED:
        exists = incident is not None
        db.session.rollback()
        return _record(mail, InboundOutcome.REFUSED, now, incident_id=incident_id if exists else None,
                       detail=f"{reference(incident_id)} " + ("may not be commented on by its sender" if exists
                                                        else "does not exist"))
    notes = list(mail.notes)
    files = _fitting_files(mail, incident, notes)
    body = strip_reply(mail.text)
    if not body:
        body = ONLY_FILES if files else NO_TEXT
    body = _fit(body, TEXT_MAX, notes)

    def call(uploads):
        return service.add_comment(actor=actor, incident=incident, body=body, uploads=uploads, at=now, via=VIA,
                                   then=_then(mail, InboundOutcome.COMMENTED, now, notes))

    try:
        event = _with_files(call, files, notes)
    except (_AlreadyHandled, IntegrityError):
        return Handled(InboundOutcome.DUPLICATE, detail="handled by another process at the same time")
    except Unavailable:
        raise
    except DomainError as exc:  # the incident changed under us: refused, like the check above
        return _record(mail, InboundOutcome.REFUSED, now, incident_id=incident_id, detail=exc.message)
    return Handled(InboundOutcome.COMMENTED, incident_id=incident_id, event_id=event.id, detail=_detail(notes))


def _create(mail: ParsedMail, actor: User, now: datetime) -> Handled:
    """Any other message reports a new incident: subject -> title, text -> description."""
    notes = list(mail.notes)
    files = _fitting_files(mail, None, notes)
    description = mail.text or (ONLY_FILES if files else NO_TEXT)
    description = _fit(description, DESCRIPTION_MAX, notes)
    made: dict[str, int] = {}

    def call(uploads):
        then = _then(mail, InboundOutcome.CREATED, now, notes, made=made)
        return service.create_incident(actor=actor, title=mail.title, description=description, uploads=uploads,
                                       at=now, via=VIA, then=then)

    try:
        incident = _with_files(call, files, notes)
    except (_AlreadyHandled, IntegrityError):
        return Handled(InboundOutcome.DUPLICATE, detail="handled by another process at the same time")
    except Unavailable:
        raise
    except DomainError as exc:
        return _record(mail, InboundOutcome.REFUSED, now, detail=exc.message)
    return Handled(InboundOutcome.CREATED, incident_id=incident.id, event_id=made.get("event"),
                   detail=_detail(notes))


def _with_files(call, files: list, notes: list[str]):
    """Make the incident or comment with its files; should the files still be refused (a limit
    reached meanwhile), make it without them, saying so: a mail is never lost over an attachment."""
    try:
        return call([_MailUpload(f.filename, io.BytesIO(f.content)) for f in files])
    except (_AlreadyHandled, IntegrityError, Unavailable):
        raise
    except DomainError as exc:
        if not files:
            raise
        notes.append(f"the attachments were refused ({exc.message}) and left out")
        return call([])


def _fitting_files(mail: ParsedMail, incident: Incident | None, notes: list[str]) -> list:
    """The files the attachment limits let in: none over ATTACHMENT_MAX_BYTES, at most
    FILES_PER_REQUEST, and no more than the incident has room for; the rest are named in the notes."""
    limit = attachments.max_bytes()
    files = []
    for item in mail.files:
        if len(item.content) > limit:
            notes.append(f"{attachments.sanitize_filename(item.filename)} was left out: larger than {limit} bytes")
        else:
            files.append(item)
    existing = 0
    if incident is not None:
        existing = db.session.scalar(select(func.count()).select_from(Attachment)
                                     .where(Attachment.incident_id == incident.id)) or 0
    room = max(0, min(attachments.FILES_PER_REQUEST, attachments.MAX_PER_INCIDENT - existing))
    if len(files) > room:
        left = files[room:]
        notes.append(f"{len(left)} attachment(s) left out (at most {room} could be added): "
                     + ", ".join(attachments.sanitize_filename(item.filename) for item in left[:5]))
        files = files[:room]
    return files


def _fit(text: str, limit: int, notes: list[str]) -> str:
    if len(text) <= limit:
        return text
    notes.append(f"the text was cut to {limit} characters")
    marker = "\n\n(The mail was longer; the rest was cut.)"
    return text[: limit - len(marker)].rstrip() + marker


def _detail(notes: list[str]) -> str:
    return truncate("; ".join(notes), DETAIL_MAX)


# ---- the record ---------------------------------------------------------------------------------

def _row(mail: ParsedMail, outcome: InboundOutcome, now: datetime, *, detail: str,
         incident_id: int | None = None, event_id: int | None = None) -> InboundMessage:
    return InboundMessage(message_key=mail.key, message_id=mail.message_id, sender=mail.sender,
                          subject=mail.subject, outcome=outcome, detail=truncate(detail, DETAIL_MAX) or None,
                          incident_id=incident_id, event_id=event_id, received_at=now)


def _claim(mail: ParsedMail) -> None:
    """Under the write lock: stop if another process recorded this message since we looked."""
    if db.session.scalar(select(InboundMessage.id).where(InboundMessage.message_key == mail.key)) is not None:
        raise _AlreadyHandled()


def _then(mail: ParsedMail, outcome: InboundOutcome, now: datetime, notes: list[str], *,
          made: dict[str, int] | None = None):
    """The service's `then=` hook: the message's row, in the incident's or comment's transaction."""

    def write(incident: Incident, event) -> None:
        _claim(mail)
        db.session.add(_row(mail, outcome, now, detail=_detail(notes), incident_id=incident.id, event_id=event.id))
        db.session.flush()
        if made is not None:
            made["event"] = event.id

    return write


def _record(mail: ParsedMail, outcome: InboundOutcome, now: datetime, *, detail: str,
            incident_id: int | None = None, also=None) -> Handled:
    """Only the row (and, through `also(row)`, a reply): for every outcome that makes nothing."""
    try:
        with write_transaction():
            _claim(mail)
            row = _row(mail, outcome, now, detail=detail, incident_id=incident_id)
            db.session.add(row)
            if also is not None:
                also(row)
            db.session.flush()
    except (_AlreadyHandled, IntegrityError):
        return Handled(InboundOutcome.DUPLICATE, detail="handled by another process at the same time")
    return Handled(outcome, incident_id=incident_id, detail=detail)


def _forget_session() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; the next use reconnects
        db.session.invalidate()


def _log(mail: ParsedMail, handled: Handled) -> None:
    quiet = handled.outcome in (InboundOutcome.CREATED, InboundOutcome.COMMENTED)
    where = f" INC-{handled.incident_id}" if handled.incident_id else ""
    log.log(logging.INFO if quiet else logging.WARNING, "Inbound mail %s from %s: %s%s%s",
            mail.message_id or f"(no Message-ID, key {mail.key[:12]})", mail.sender or "(no sender)",
            handled.outcome.value, where, f" ({handled.detail})" if handled.detail else "")
