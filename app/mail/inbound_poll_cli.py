"""`flask mail poll`: read the IMAP mailbox once, by hand or from cron or a systemd timer (the
background loop of the mail sender polls by itself when IMAP_HOST is set). A command of the
`flask mail` group, so it gets the group's handling of domain refusals: a mailbox that cannot be
read ends it with the reason and exit 1, never a traceback."""
import signal
import threading

import click
from flask import current_app

from app.mail.inbound.imap import poll
from app.mail.inbound_cli import mail_group


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
