"""`flask outbox ...`: deliver, watch and retry queued mail from the command line."""
import signal
import time

import click
from flask import current_app
from flask.cli import AppGroup

from app.exceptions import DomainError
from app.mail import outbox
from app.mail.delivery import drain
from app.mail.enums import OutboxStatus
from app.mail.sender import BackgroundSender

CLI_ACTOR = "flask outbox retry"


@click.group("outbox", cls=AppGroup)  # each command runs in an app context
def outbox_group() -> None:
    """Inspect and deliver queued mail."""


def _require_mail_server() -> None:
    if not current_app.config["MAIL_SERVER"]:
        waiting = outbox.counts()[OutboxStatus.PENDING]
        raise click.ClickException(
            f"MAIL_SERVER is not set, so nothing can be sent; {waiting} message(s) wait in the outbox."
        )


@outbox_group.command("send")
def send_command() -> None:
    """Deliver every due message once; exit 1 if the SMTP server cannot be reached."""
    _require_mail_server()
    result = drain()
    left = outbox.counts()
    click.echo(f"Sent {result.sent}, to retry {result.retrying}, failed {result.failed}; "
               f"{left[OutboxStatus.PENDING]} waiting, {left[OutboxStatus.FAILED]} failed in total.")
    if result.unreachable:
        raise click.ClickException(
            f"SMTP server {current_app.config['MAIL_SERVER']}:{current_app.config['MAIL_PORT']} is "
            f"unreachable ({result.unreachable}); the messages stay in the outbox."
        )


@outbox_group.command("worker")
def worker_command() -> None:
    """Deliver mail until stopped (SIGTERM or Ctrl-C): the sender for deployments that run it apart."""
    _require_mail_server()
    requested: list[int] = []
    # The handlers only note the request: touching locks inside a signal handler can deadlock.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, frame: requested.append(received))
    sender = BackgroundSender(current_app._get_current_object())
    sender.ensure_running()
    click.echo(f"Outbox worker: polling every {current_app.config['OUTBOX_POLL_SECONDS']}s; stop with Ctrl-C.")
    while sender.running and not requested:
        time.sleep(0.5)
    sender.stop()
    if not requested:
        raise click.ClickException("The sender thread ended unexpectedly; see the log above.")
    click.echo("Outbox worker stopped.")


@outbox_group.command("list")
@click.option("--status", "statuses", multiple=True, default=["pending", "sending", "failed"],
              type=click.Choice([s.value for s in OutboxStatus]), show_default=True,
              help="Which rows to show; repeat for several.")
@click.option("--limit", default=50, show_default=True, help="Show at most this many rows.")
def list_command(statuses: tuple[str, ...], limit: int) -> None:
    """Counts per status, then the rows in the chosen statuses, oldest first."""
    click.echo("  ".join(f"{status.value} {n}" for status, n in outbox.counts().items()))
    for message in outbox.list_messages(statuses=[OutboxStatus(s) for s in statuses], limit=limit):
        click.echo(f"#{message.id:<6} {message.status.value:<8} attempts {message.attempts:<2} "
                   f"{message.recipient:<30} {message.subject}")
        if message.last_error:
            click.echo(f"        last error: {message.last_error}")


@outbox_group.command("retry")
@click.argument("message_ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Retry every failed message.")
def retry_command(message_ids: tuple[int, ...], all_failed: bool) -> None:
    """Put failed messages back in the queue with a fresh set of attempts."""
    if all_failed == bool(message_ids):
        raise click.UsageError("Give message ids or --failed (one of the two).")
    if all_failed:
        click.echo(f"Requeued {outbox.retry_failed(actor=CLI_ACTOR)} failed message(s).")
        return
    for message_id in message_ids:
        try:
            outbox.retry_message(message_id=message_id, actor=CLI_ACTOR)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Requeued #{message_id}.")
