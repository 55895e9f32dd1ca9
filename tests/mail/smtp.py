"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the mail tests, with scripted faults, and an
app wired to it. The fixtures built on it are in tests/mail/conftest.py."""
import asyncio
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from flask import Flask

from app import create_app
from app.extensions import db


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it: the envelope recipients and the parsed mail."""

    rcpt_tos: tuple[str, ...]
    mail: EmailMessage

    @property
    def text(self) -> str:
        """The plain-text part, with the wire's CRLF line ends made plain newlines."""
        return self.mail.get_body(("plain",)).get_content().replace("\r\n", "\n")

    @property
    def html(self) -> str:
        """The HTML part, with the wire's CRLF line ends made plain newlines."""
        return self.mail.get_body(("html",)).get_content().replace("\r\n", "\n")


class Inbox:
    """The aiosmtpd handler: records accepted mail; answers RCPT and DATA as scripted."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._changed = threading.Condition()
        self._rcpt_script: dict[str, deque[str]] = defaultdict(deque)
        self._hang_ups = 0
        self._sessions: set[int] = set()
        self._gate = 0

    def refuse(self, address: str, *replies: str) -> None:
        """Answer the next RCPT TO:<address> commands with `replies` (e.g. '550 5.1.1 No such user')."""
        self._rcpt_script[address.lower()].extend(replies)

    def hang_up_on_data(self, times: int = 1) -> None:
        """Close the connection instead of answering the next `times` DATA commands."""
        self._hang_ups += times

    def hold_data_until_connections(self, count: int) -> None:
        """Answer no DATA until `count` distinct connections have sent RCPT (proves senders overlap)."""
        self._gate = count

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self._sessions.add(id(session))
        script = self._rcpt_script[address.lower()]
        if script:
            return script.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self._hang_ups:
            self._hang_ups -= 1
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        deadline = time.monotonic() + 10
        while len(self._sessions) < self._gate and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        with self._changed:
            self.messages.append(Received(tuple(envelope.rcpt_tos), mail))
            self._changed.notify_all()
        return "250 2.0.0 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` messages arrived (or `timeout` passed); all of them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self.messages)

    def to(self, address: str) -> list[Received]:
        """Messages whose envelope includes `address`."""
        return [m for m in self.messages if address in m.rcpt_tos]

    def message_ids(self) -> list[str]:
        """The Message-ID of every accepted message, in arrival order."""
        return [m.mail["Message-ID"] for m in self.messages]


class SmtpServer:
    """aiosmtpd on a fixed port of 127.0.0.1 that can be stopped and started again (an outage)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen (again) on the same port."""
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections but never says a word (a hung mail server); its port."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


MAIL_TEST_SETTINGS = {
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_SUPPRESS_SEND": False,  # Flask-Mail only records while TESTING unless told otherwise
    "MAIL_DEFAULT_SENDER": "incidents@portal.test",
    "MAIL_TIMEOUT_SECONDS": 5,
    "OUTBOX_BACKOFF_SECONDS": 0,  # a failed message is due again at the next pass
    "APP_BASE_URL": "http://portal.test",
}


def build_mail_app(base_app: Flask, port: int, **overrides) -> Flask:
    """Another app instance on `base_app`'s database that sends mail to 127.0.0.1:`port`."""
    return create_app("testing", SQLALCHEMY_DATABASE_URI=base_app.config["SQLALCHEMY_DATABASE_URI"],
                      MAIL_PORT=port, **{**MAIL_TEST_SETTINGS, **overrides})


@contextmanager
def mail_app(base_app: Flask, port: int, **overrides) -> Iterator[Flask]:
    """`build_mail_app`, with its app context pushed for the duration."""
    app = build_mail_app(base_app, port, **overrides)
    with app.app_context():
        try:
            yield app
        finally:
            sender = app.extensions.get("outbox_sender")
            if sender is not None:
                sender.stop(timeout=10)
            db.session.remove()
            db.engine.dispose()
