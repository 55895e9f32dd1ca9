"""Fixtures for the mail tests: the test SMTP server, the app wired to it (for tests marked `smtp`),
`flask outbox` as a process of its own, and the outbox read fresh."""
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.mail.enums import OutboxStatus
from app.models import OutboxMessage
from tests.mail.smtp import SmtpServer, mail_app

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A running SMTP server on 127.0.0.1 that records what it accepts."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings() -> dict:
    """Config the SMTP-bound app gets on top of MAIL_TEST_SETTINGS; a module overrides it."""
    return {}


@pytest.fixture
def app(app, request, mail_settings):
    """Under the `smtp` marker: the test app rebuilt on the same database to send mail to the test
    SMTP server. Unmarked tests (the outbox page) keep the plain test app."""
    if request.node.get_closest_marker("smtp") is None:
        yield app
        return
    smtp = request.getfixturevalue("smtp")
    with mail_app(app, smtp.port, **mail_settings) as built:
        yield built


@pytest.fixture
def outbox_process(app, smtp) -> Callable[..., subprocess.Popen]:
    """Start `flask outbox <command>` as its own process, as cron or a worker would: on this test's
    database, sending to the test SMTP server; keyword arguments add environment variables."""
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "outbox-process-test-secret",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "MAIL_USE_TLS": "false",
        "MAIL_USE_SSL": "false",
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
    }

    def start(command: str, **settings: str) -> subprocess.Popen:
        """The running `flask outbox <command>`, its output piped."""
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "run.py", "outbox", command],
                                cwd=PROJECT_ROOT, env={**env, **settings}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    return start


@pytest.fixture
def outbox_rows() -> Callable[[], list[OutboxMessage]]:
    """Reads every outbox row, oldest first, as the senders committed it."""

    def read() -> list[OutboxMessage]:
        """The rows, fresh from the database."""
        db.session.rollback()  # end any read snapshot: see what the senders committed
        return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    return read


@pytest.fixture
def statuses(outbox_rows) -> Callable[[], list[OutboxStatus]]:
    """Reads every outbox row's status, oldest first, as the senders committed it."""
    return lambda: [message.status for message in outbox_rows()]
