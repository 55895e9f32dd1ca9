"""`flask webhooks deliver`: one delivery pass, for cron or when the in-process sender is off
(OUTBOX_BACKGROUND_SENDER=false)."""
import click
from flask import Flask
from flask.cli import AppGroup

from app.cli import refusals_as_messages
from app.webhooks import delivery


@click.group("webhooks", cls=AppGroup)  # each command runs in an app context
def webhooks_group() -> None:
    """Outgoing webhooks."""


@webhooks_group.command("deliver")
def deliver_command() -> None:
    """Attempt every webhook delivery due now, once (what the background loop does every
    WEBHOOK_POLL_SECONDS); failures are recorded on the rows and retried by a later pass."""
    result = delivery.drain()
    click.echo(f"Webhooks: {result.delivered} delivered, {result.retrying} to retry, {result.failed} failed.")
    for endpoint_id in result.disabled_endpoints:
        click.echo(f"Endpoint #{endpoint_id} was turned off (410 Gone or 24 h of failures); admins were mailed.")


def init_app(app: Flask) -> None:
    """Register `flask webhooks`."""
    app.cli.add_command(refusals_as_messages(webhooks_group))
