"""`flask mail ...`: inbound mail from the command line. `flask mail receive` reads one message on
stdin, for an MTA's pipe transport (Postfix `pipe`, an `.forward` or procmail `| flask mail receive`);
`flask mail poll` reads the IMAP mailbox once (cron, or by hand; the worker's loop polls by itself)."""
import signal
import sys
import threading

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.cli import refusals_as_messages
from app.exceptions import Unavailable
from app.mail.inbound.imap import poll
from app.mail.inbound.service import receive

# sysexits.h: a temporary failure; an MTA keeps the message queued and tries again later.
EX_TEMPFAIL = 75
CHUNK = 1024 * 1024


@click.group("mail", cls=AppGroup)  # each command runs in an app context
def mail_group() -> None:
    """Inbound mail: turn messages into incidents and comments."""


@mail_group.command("receive")
def receive_command() -> None:
    """Handle one RFC 5322 message read from stdin. Exit 0 whatever became of it (created,
    commented, or logged and dropped: an MTA must not bounce those back), 75 (EX_TEMPFAIL) when the
    database cannot take it now, so the MTA delivers it again later."""
    raw, size = _read_stdin(int(current_app.config["INBOUND_MAX_BYTES"]))
    try:
        handled = receive(raw, declared_size=size)
    except Unavailable as exc:
        click.echo(f"Not handled, try again later: {exc.message}", err=True)
        sys.exit(EX_TEMPFAIL)
    where = f" INC-{handled.incident_id}" if handled.incident_id else ""
    click.echo(f"{handled.outcome.value}{where}" + (f": {handled.detail}" if handled.detail else ""))


@mail_group.command("poll")
def poll_command() -> None:
    """Read the IMAP mailbox once: every message in IMAP_FOLDER handled, then moved to
    IMAP_DONE_FOLDER. Exit 1 with the reason when the mailbox cannot be read (IMAP_HOST unset,
    server unreachable, certificate or login refused) or a message could not be handled (it stays
    in the folder for the next poll). SIGTERM or Ctrl-C ends it after the current message."""
    if not current_app.config["IMAP_HOST"]:
        raise click.ClickException("IMAP_HOST is not set: there is no mailbox to read (see docs/mail.md).")
    stop = threading.Event()
    # The handlers only note the request: the current message is finished and moved first.
    previous = {signum: signal.signal(signum, lambda received, frame: stop.set())
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        result = poll(stop=stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo(f"IMAP {current_app.config['IMAP_FOLDER']}: {result.summary()}")
    if result.failed:
        raise click.ClickException(f"{result.failed} message(s) could not be handled and stay in "
                                   f"{current_app.config['IMAP_FOLDER']}; the log says why.")


def _read_stdin(limit: int) -> tuple[bytes, int]:
    """The message, but never more than `limit` + 1 bytes of it in memory: the rest of an oversized
    one is read and counted (the MTA must see its pipe drained), not kept."""
    stream = sys.stdin.buffer
    raw = stream.read(limit + 1)
    size = len(raw)
    while chunk := stream.read(CHUNK):
        size += len(chunk)
    return raw, size


def init_app(app: Flask) -> None:
    """Register `flask mail`."""
    app.cli.add_command(refusals_as_messages(mail_group))
