"""Fixtures for the IMAP tests: a real dovecot on 127.0.0.1 (one per test run, per xdist worker),
an empty mailbox of its own for each test, the app wired to that mailbox, mail written with the
`email` package, and `flask mail poll` as a process of its own."""
import imaplib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import InboundMessage, Incident
from tests.imap.dovecot import Account, Dovecot

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SENDER = "incidents@portal.test"
DONE = "Processed"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """The run's IMAP server (each xdist worker starts its own: session fixtures are per process)."""
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def own_dovecot() -> Iterator[Callable[..., Dovecot]]:
    """Starts a private dovecot for one test (its own settings, or its own login penalties: after a
    refused password dovecot slows that address's next logins by seconds)."""
    started: list[Dovecot] = []

    def start(**settings) -> Dovecot:
        """The running server."""
        started.append(Dovecot(**settings).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


class Mailbox:
    """A test's own IMAP account, read and written the way a mail client does (imaplib over TLS)."""

    def __init__(self, server: Dovecot, account: Account) -> None:
        self.server = server
        self.account = account

    def session(self) -> imaplib.IMAP4_SSL:
        """A logged-in IMAPS session (the caller logs out)."""
        connection = imaplib.IMAP4_SSL(self.server.host, self.server.imaps_port, ssl_context=self.server.ssl_context(),
                                       timeout=30)
        connection.login(self.account.user, self.account.password)
        return connection

    def append(self, *messages: bytes | EmailMessage, folder: str = "INBOX") -> None:
        """Deliver messages into `folder` with IMAP APPEND, in order."""
        connection = self.session()
        try:
            for message in messages:
                raw = message if isinstance(message, bytes) else message.as_bytes()
                status, data = connection.append(folder, None, None, raw)
                assert status == "OK", data
        finally:
            connection.logout()

    def count(self, folder: str = "INBOX") -> int | None:
        """Messages in `folder` (flagged \\Deleted or not); None when the folder does not exist."""
        connection = self.session()
        try:
            status, data = connection.status(f'"{folder}"', "(MESSAGES)")
            if status != "OK":
                return None
            return int(data[0].split(b"MESSAGES ")[1].rstrip(b")"))
        finally:
            connection.logout()

    def message_ids(self, folder: str) -> list[str]:
        """The Message-ID header of every message in `folder`."""
        connection = self.session()
        try:
            connection.select(f'"{folder}"', readonly=True)
            status, data = connection.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            return sorted(part[1].decode().split(":", 1)[1].strip() for part in data if isinstance(part, tuple))
        finally:
            connection.logout()


@pytest.fixture
def mailbox(dovecot) -> Mailbox:
    """An empty mailbox for this test: a fresh account on the run's server."""
    return Mailbox(dovecot, dovecot.add_account())


def imap_settings(server: Dovecot, account: Account, security: str = "tls", **overrides) -> dict:
    """The app's IMAP_* config for `account` on `server`, over IMAPS or STARTTLS."""
    return {
        "IMAP_HOST": server.host,
        "IMAP_SECURITY": security,
        "IMAP_PORT": server.imaps_port if security == "tls" else server.imap_port,
        "IMAP_USER": account.user,
        "IMAP_PASSWORD": account.password,
        "IMAP_FOLDER": "INBOX",
        "IMAP_DONE_FOLDER": DONE,
        "IMAP_CA_FILE": str(server.cert_file),
        "IMAP_TIMEOUT_SECONDS": 10,
        **overrides,
    }


@pytest.fixture
def security() -> str:
    """How the app reaches the server: "tls" (IMAPS) unless a test parametrizes it."""
    return "tls"


@pytest.fixture
def app(app, dovecot, mailbox, security) -> Iterator[Flask]:
    """The test app rebuilt on the same database, reading this test's mailbox; mail is from SENDER."""
    built = create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                       ATTACHMENT_DIR=app.config["ATTACHMENT_DIR"], MAIL_DEFAULT_SENDER=SENDER,
                       APP_BASE_URL="http://portal.test", **imap_settings(dovecot, mailbox.account, security))
    with built.app_context():
        yield built
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_mail() -> Callable[..., EmailMessage]:
    """Builds a message as a mail client would: From, To, Subject, Date, a unique Message-ID."""

    def make(sender: str, subject: str, body: str = "Hello.", **headers: str) -> EmailMessage:
        """The message; keyword arguments add headers (underscores become dashes)."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = SENDER
        message["Subject"] = subject
        message["Date"] = "Wed, 02 Dec 2026 10:00:00 +0000"
        message["Message-ID"] = make_msgid(domain="client.example")
        for name, value in headers.items():
            message[name.replace("_", "-")] = value
        message.set_content(body)
        return message

    return make


@pytest.fixture
def counts() -> Callable[[], tuple[int, int]]:
    """(incidents, inbound records) as committed."""

    def read() -> tuple[int, int]:
        db.session.rollback()
        return (db.session.scalar(select(func.count()).select_from(Incident)),
                db.session.scalar(select(func.count()).select_from(InboundMessage)))

    return read


@pytest.fixture
def poll_process(app) -> Callable[..., subprocess.Popen]:
    """Start `flask mail poll` as its own process, as cron would (or another `flask` command, as the
    worker): this test's database and mailbox; keyword arguments add (or override) environment variables."""
    config = app.config
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "imap-process-test-secret",
        "MAIL_DEFAULT_SENDER": SENDER,
        "MAIL_SERVER": "",
        "ATTACHMENT_DIR": config["ATTACHMENT_DIR"],
        **{key: str(config[key]) for key in ("IMAP_HOST", "IMAP_SECURITY", "IMAP_PORT", "IMAP_USER", "IMAP_PASSWORD",
                                             "IMAP_FOLDER", "IMAP_DONE_FOLDER", "IMAP_CA_FILE",
                                             "IMAP_TIMEOUT_SECONDS")},
    }

    def start(*command: str, **settings: str) -> subprocess.Popen:
        """The running `flask mail poll` (or `flask <command>`), its output piped."""
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "run.py", *(command or ("mail", "poll"))],
                                cwd=PROJECT_ROOT, env={**env, **settings}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    return start
