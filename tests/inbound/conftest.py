"""Fixtures for the inbound mail tests: handing a message to the service, reading back what it
recorded, and `flask mail receive` as a process of its own, as an MTA's pipe would run it."""
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.mail.inbound.service import Handled, receive
from app.models import Attachment, InboundMessage, Incident, IncidentEvent, OutboxMessage

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def deliver() -> Callable[..., Handled]:
    """Hand one message (bytes) to the inbound service, as every door does."""
    return receive


@pytest.fixture
def inbound_rows() -> Callable[[], list[InboundMessage]]:
    """Every inbound_messages row, oldest first, fresh from the database."""

    def read() -> list[InboundMessage]:
        """The rows as committed."""
        db.session.rollback()
        return list(db.session.scalars(select(InboundMessage).order_by(InboundMessage.id)))

    return read


@pytest.fixture
def tally() -> Callable[[], dict[str, int]]:
    """How many incidents, events, attachments, inbound rows and outbox rows there are now."""

    def count() -> dict[str, int]:
        """The counts as committed."""
        db.session.rollback()
        return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Incident, IncidentEvent, Attachment, InboundMessage, OutboxMessage)}

    return count


@pytest.fixture
def mail_receive(app, tmp_path) -> Callable[..., subprocess.CompletedProcess]:
    """Run `flask mail receive` as its own process on this test's database, `raw` on its stdin;
    keyword arguments add environment variables."""
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "inbound-process-test-secret",
        "MAIL_SERVER": "",
        "MAIL_DEFAULT_SENDER": app.config["MAIL_DEFAULT_SENDER"],
        "ATTACHMENT_DIR": app.config["ATTACHMENT_DIR"],
        "INBOUND_MAX_BYTES": str(app.config["INBOUND_MAX_BYTES"]),
    }

    def run(raw: bytes, **settings: str) -> subprocess.CompletedProcess:
        """The finished process: its exit code, stdout and stderr (bytes)."""
        return subprocess.run([sys.executable, "-m", "flask", "--app", "run.py", "mail", "receive"],
                              cwd=PROJECT_ROOT, env={**env, **settings}, input=raw, capture_output=True,
                              timeout=60)

    return run
