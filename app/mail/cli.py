"""`flask outbox ...`: drain the outbox from the command line."""
import click


@click.group("outbox")
def outbox_group() -> None:
    """Inspect and deliver queued mail."""
