"""Reading the IMAP mailbox (SPEC "Inbound mail"): the door `flask mail poll` and the background
loop share. Each message in IMAP_FOLDER goes through the one receiver (service.receive) and is then
moved to IMAP_DONE_FOLDER, so the folder only ever holds mail not yet handled.

Nothing is lost and nothing doubled: a message is moved only after its outcome is committed, and
if the poller dies in between, the next poll reads it again, the receiver answers DUPLICATE (its
Message-ID is recorded), and it is moved then. One bad message never stops the others."""
import imaplib
import logging
import re
import ssl
import threading
from collections import Counter
from dataclasses import dataclass, field

from flask import current_app

from app.exceptions import Unavailable
from app.mail.enums import InboundOutcome
from app.mail.inbound import service

log = logging.getLogger(__name__)

_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class MailboxUnavailable(Unavailable):
    """The mailbox cannot be read at all: not configured, unreachable, TLS refused, login refused,
    or the folder missing. The loop logs it as a warning and tries again at the next poll."""

    def __init__(self, message: str):
        super().__init__(message, retry_after=60)


@dataclass
class PollResult:
    """What one poll did."""

    found: int = 0
    outcomes: Counter = field(default_factory=Counter)  # InboundOutcome -> messages
    too_large: int = 0
    failed: int = 0  # left in the folder after an error; read again at the next poll
    moved: int = 0
    gone: int = 0  # taken by another poller meanwhile (it handles and moves them)
    stopped: bool = False  # `stop` was set before every message was read

    def summary(self) -> str:
        """One line for the log and `flask mail poll`."""
        outcomes = ", ".join(f"{outcome} {self.outcomes[outcome]}" for outcome in InboundOutcome
                             if self.outcomes[outcome]) or "none handled"
        extra = "".join([f"; {self.too_large} too large (skipped, moved)" if self.too_large else "",
                         f"; {self.gone} taken by another poller" if self.gone else "",
                         f"; {self.failed} failed (left in the folder)" if self.failed else "",
                         "; stopped early" if self.stopped else ""])
        return f"{self.found} message(s): {outcomes}{extra}; {self.moved} moved"


def poll(*, stop: threading.Event | None = None) -> PollResult:
    """Read IMAP_FOLDER once: each message received and moved to IMAP_DONE_FOLDER. Raises
    MailboxUnavailable when the mailbox cannot be read, Unavailable when the database is busy
    (the message being read stays in the folder)."""
    config = current_app.config
    address = f"{config['IMAP_HOST']}:{config['IMAP_PORT']}"
    result = PollResult()
    try:
        with _Mailbox(config) as mailbox:
            uids = mailbox.uids()
            result.found = len(uids)
            for uid in uids:
                if stop is not None and stop.is_set():
                    result.stopped = True
                    break
                _handle(mailbox, uid, result)
    finally:  # also when the poll ends early: what was done is worth a line
        level = logging.INFO if result.found else logging.DEBUG
        log.log(level, "IMAP poll of %s on %s: %s", config["IMAP_FOLDER"], address, result.summary())
    return result


def _handle(mailbox: "_Mailbox", uid: bytes, result: PollResult) -> None:
    """One message: receive it (or skip it when too large), then move it; errors are logged and
    leave it in the folder, except a busy database, which ends the poll."""
    limit = current_app.config["INBOUND_MAX_BYTES"]
    try:
        size = mailbox.size(uid)
        if size is None:  # moved since the search, by another poller
            result.gone += 1
            return
        if size > limit:
            # Recorded from its header block alone (MALFORMED, "too large"): never downloaded.
            headers = mailbox.fetch_headers(uid)
            if headers is None:
                result.gone += 1
                return
            handled = service.receive(headers, declared_size=size)
            result.too_large += 1
            log.warning("IMAP message UID %s is %s bytes, over INBOUND_MAX_BYTES (%s): not downloaded, "
                        "recorded as %s and moved to %s", uid.decode(), size, limit, handled.outcome.value,
                        mailbox.done_folder)
        else:
            raw = mailbox.fetch(uid)
            if raw is None:
                result.gone += 1
                return
            handled = service.receive(raw)
        result.outcomes[handled.outcome] += 1
        if mailbox.move(uid):
            result.moved += 1
        else:
            result.gone += 1
    except Unavailable:
        result.failed += 1
        raise
    except (imaplib.IMAP4.abort, OSError) as exc:  # the connection is gone: the rest waits for the next poll
        result.failed += 1
        raise MailboxUnavailable(f"IMAP connection to {mailbox.address} lost: {exc}") from exc
    except Exception:
        result.failed += 1
        log.exception("IMAP message UID %s could not be handled; it stays in %s", uid.decode(), mailbox.folder)


class _Mailbox:
    """One logged-in IMAP session on IMAP_FOLDER: search, size, fetch and move by UID."""

    def __init__(self, config) -> None:
        self.address = f"{config['IMAP_HOST']}:{config['IMAP_PORT']}"
        self.folder = config["IMAP_FOLDER"]
        self.done_folder = config["IMAP_DONE_FOLDER"]
        self._config = config
        self._connection: imaplib.IMAP4 | None = None
        self._done_ready = False
        self._capabilities: set[str] = set()

    def __enter__(self) -> "_Mailbox":
        config = self._config
        if not config["IMAP_HOST"]:
            raise MailboxUnavailable("IMAP_HOST is not set: there is no mailbox to read.")
        if not (config["IMAP_USER"] and config["IMAP_PASSWORD"]):
            raise MailboxUnavailable("IMAP_USER and IMAP_PASSWORD must be set to read the mailbox.")
        self._connection = self._connect()
        try:
            self._login_and_select()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.logout()
        except (imaplib.IMAP4.error, OSError):
            connection.shutdown()

    def _connect(self) -> imaplib.IMAP4:
        config = self._config
        security = config["IMAP_SECURITY"]
        host, port, timeout = config["IMAP_HOST"], config["IMAP_PORT"], config["IMAP_TIMEOUT_SECONDS"]
        if security not in ("tls", "starttls"):
            raise MailboxUnavailable(f"IMAP_SECURITY must be 'tls' or 'starttls', not {security!r}.")
        try:
            # With IMAP_CA_FILE, that file is the only trust (a private CA); else the system's CAs.
            context = ssl.create_default_context(cafile=config["IMAP_CA_FILE"])
        except OSError as exc:
            raise MailboxUnavailable(f"IMAP_CA_FILE {config['IMAP_CA_FILE']!r} cannot be read: {exc}") from exc
        try:
            if security == "tls":
                return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
            connection = imaplib.IMAP4(host, port, timeout=timeout)
        except ssl.SSLError as exc:  # reached, but no TLS we accept (e.g. a certificate not trusted)
            raise MailboxUnavailable(f"IMAP server {self.address}: TLS failed: {_reason(exc)}") from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxUnavailable(f"IMAP server {self.address} unreachable ({security}): {_reason(exc)}") from exc
        try:
            connection.starttls(ssl_context=context)
        except (imaplib.IMAP4.error, OSError) as exc:
            connection.shutdown()
            raise MailboxUnavailable(f"IMAP server {self.address}: STARTTLS failed: {_reason(exc)}") from exc
        return connection

    def _login_and_select(self) -> None:
        connection = self._connection
        user = self._config["IMAP_USER"]
        try:
            connection.login(user, self._config["IMAP_PASSWORD"])
        except (imaplib.IMAP4.error, UnicodeEncodeError) as exc:
            raise MailboxUnavailable(f"IMAP server {self.address} refused the login of {user!r}: "
                                     f"{_reason(exc)}") from exc
        except OSError as exc:
            raise MailboxUnavailable(f"IMAP server {self.address}: connection lost at login: {exc}") from exc
        # What the server can do once logged in (imaplib keeps only the list it got before login,
        # which lacks MOVE on dovecot and others).
        status, data = connection.capability()
        self._capabilities = set(data[-1].decode("ascii", "replace").upper().split()) if status == "OK" else set()
        status, data = connection.select(_quote(self.folder))
        if status != "OK":
            raise MailboxUnavailable(f"IMAP folder {self.folder!r} on {self.address} cannot be opened: "
                                     f"{_reason(data)}")

    def uids(self) -> list[bytes]:
        """The UIDs in the folder, oldest first. Messages flagged \\Deleted are left out: they were
        copied to the done folder by a poller that died before expunging them."""
        status, data = self._connection.uid("SEARCH", "UNDELETED")
        if status != "OK":
            raise MailboxUnavailable(f"IMAP search in {self.folder!r} failed: {_reason(data)}")
        return sorted((data[0] or b"").split(), key=int)

    def size(self, uid: bytes) -> int | None:
        """The message's size on the server, before downloading it; None when it is gone."""
        status, data = self._connection.uid("FETCH", uid, "(RFC822.SIZE)")
        match = status == "OK" and next((m for item in data if isinstance(item, bytes)
                                         for m in [_SIZE.search(item)] if m), None)
        return int(match.group(1)) if match else None

    def fetch(self, uid: bytes) -> bytes | None:
        """The whole message as sent (PEEK: a message left behind stays unread for people); None
        when another session expunged it meanwhile."""
        return self._literal(uid, "BODY.PEEK[]")

    def fetch_headers(self, uid: bytes) -> bytes | None:
        """The message's header block only; None when it is gone."""
        return self._literal(uid, "BODY.PEEK[HEADER]")

    def move(self, uid: bytes) -> bool:
        """Into the done folder: MOVE when the server has it, else COPY, flag \\Deleted, expunge.
        False when another poller moved it first (the server says it no longer exists)."""
        self._ensure_done_folder()
        connection = self._connection
        target = _quote(self.done_folder)
        if "MOVE" in self._capabilities:
            return self._expect_ok(connection.uid("MOVE", uid, target), "move")
        if not self._expect_ok(connection.uid("COPY", uid, target), "copy"):
            return False
        self._expect_ok(connection.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "flag")
        if "UIDPLUS" in self._capabilities:  # expunge this message only
            self._expect_ok(connection.uid("EXPUNGE", uid), "expunge")
        else:
            self._expect_ok(connection.expunge(), "expunge")
        return True

    def _ensure_done_folder(self) -> None:
        if self._done_ready:
            return
        connection = self._connection
        status, data = connection.list('""', _quote(self.done_folder))
        if status != "OK" or not any(data and item for item in data):
            status, data = connection.create(_quote(self.done_folder))
            if status != "OK" and b"ALREADYEXISTS" not in b" ".join(d for d in data if isinstance(d, bytes)):
                raise MailboxUnavailable(f"IMAP folder {self.done_folder!r} cannot be created: {_reason(data)}")
            connection.subscribe(_quote(self.done_folder))  # so people see it in their mail client
            log.info("IMAP folder %s created on %s", self.done_folder, self.address)
        self._done_ready = True

    def _literal(self, uid: bytes, item: str) -> bytes | None:
        status, data = self._connection.uid("FETCH", uid, f"({item})")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID {uid.decode()} not fetched: {_reason(data)}")
        # No literal: the message is gone (no answer, or NIL for one expunged by another session).
        return next((part[1] for part in data if isinstance(part, tuple)), None)

    def _expect_ok(self, answer: tuple[str, list], action: str) -> bool:
        """True when done; False when the message no longer exists (RFC 5530 EXPUNGEISSUED or
        NONEXISTENT: another session expunged it); an error for any other refusal."""
        status, data = answer
        if status == "OK":
            return True
        if re.match(r"\[(EXPUNGEISSUED|NONEXISTENT)\]", _reason(data)):
            return False
        raise imaplib.IMAP4.error(f"{action} to {self.done_folder!r} refused: {_reason(data)}")


def _quote(name: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reason(value) -> str:
    """An imaplib error or answer as a person reads it (imaplib shows server text as b'...')."""
    if isinstance(value, list):
        value = b" ".join(part for part in value if isinstance(part, bytes))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    text = str(value)
    match = re.fullmatch(r"""b(['"])(.*)\1""", text)
    return match.group(2) if match else text or type(value).__name__
