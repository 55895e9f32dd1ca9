"""Command-line tools: `flask seed`, `flask create-user`, `flask backup`, `flask tallies rebuild`,
`flask attachments sweep|restore`."""
import functools
import time
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import inspect

from app.auth.roles import Role
from app.auth.service import create_user, find_user, update_user
from app.backup import BackupError, backup_database, restore_attachments
from app.database import write_transaction
from app.exceptions import DomainError, InvalidInput
from app.extensions import db
from app.incidents import attachments, tallies


def _require_schema() -> None:
    if not inspect(db.engine).has_table("incidents"):
        raise click.ClickException("The database has no schema yet; run `flask db upgrade` first.")


@click.command("seed")
@click.option("--reset", is_flag=True, help="Delete every row first, then load the demo data.")
@click.option("--bulk", type=click.IntRange(min=1, max=10_000_000), default=None, metavar="N",
              help="Also append N generated incidents with timelines (benchmarks, demos at scale).")
@with_appcontext
def seed_command(reset: bool, bulk: int | None) -> None:
    """Load the demo users and incidents from seed/*.json (idempotent)."""
    from seed import bulk as bulk_loader
    from seed.loader import reset_database, seed_incidents, seed_users

    _require_schema()
    if reset:
        reset_database()
    users = seed_users()
    incidents = seed_incidents()
    click.echo(f"Seeded {users} new user(s) and {incidents} new incident(s).")
    if bulk:
        started = time.perf_counter()
        bulk_loader.load(bulk)
        click.echo(f"Appended {bulk} generated incident(s) in {time.perf_counter() - started:.1f} s.")


@click.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role], case_sensitive=False))
@click.option("--email", required=True)
@click.option("--name", default=None, help="Display name (defaults to the username).")
@click.password_option(help="Prompted for when not given.")
@with_appcontext
def create_user_command(username: str, role: str, email: str, name: str | None, password: str) -> None:
    """Create a user; the password is prompted for."""
    _require_schema()
    try:
        user = create_user(username=username, password=password, role=role.lower(), name=name, email=email)
    except InvalidInput as exc:
        details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())
        raise click.ClickException(details) from exc
    click.echo(f"Created {user.role.value} {user.username} (id {user.id}).")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Write a consistent online copy of the database to PATH (writes may continue), and the
    attachment files to PATH.attachments/."""
    try:
        click.echo(backup_database(path))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("attachments", cls=AppGroup)
def attachments_group() -> None:
    """Maintain the attachment store."""


@attachments_group.command("sweep")
@click.option("--older-than", type=click.IntRange(min=0), default=attachments.SWEEP_AFTER_SECONDS, show_default=True,
              metavar="SECONDS", help="Leave younger files alone: they may belong to an upload in flight.")
def sweep_attachments_command(older_than: int) -> None:
    """Remove stored files no attachment names, and temp files of failed or killed uploads."""
    _require_schema()
    result = attachments.sweep(older_than=older_than)
    click.echo(f"Removed {result.orphans} unreferenced file(s) and {result.temp_files} temp file(s).")


@attachments_group.command("restore")
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
def restore_attachments_command(source: Path) -> None:
    """Copy the files of a backup (PATH.attachments/ of `flask backup PATH`) into the store."""
    try:
        copied, present = restore_attachments(source)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Restored {copied} file(s) into {attachments.storage_root()} ({present} already there).")


@click.group("tallies", cls=AppGroup)  # each command runs in an app context
def tallies_group() -> None:
    """Maintain the running incident counts."""


@tallies_group.command("rebuild")
def rebuild_tallies_command() -> None:
    """Recount every tally from the incidents (after a restore or a manual edit of the tables)."""
    _require_schema()
    with write_transaction():
        counted = tallies.rebuild()
    click.echo(f"Rebuilt the tallies from {counted} incident(s).")


@click.command("reset-2fa")
@click.argument("username")
@with_appcontext
def reset_two_factor_command(username: str) -> None:
    """Turn off a user's two-factor sign-in (a lost phone and lost recovery codes): the way back in
    for the last admin when REQUIRE_2FA_ROLES leaves no other admin to press "Reset 2FA"."""
    _require_schema()
    user = update_user(user=find_user(username), reset_2fa=True)
    click.echo(f"Two-factor sign-in of {user.username} is off; they set it up again at their next sign-in "
               "if their role requires it.")


def refusals_as_messages(command: click.Command) -> click.Command:
    """Let a domain refusal (a busy database, bad input...) end any command, and every command of a
    group, with its message and exit 1, never a traceback: one place for the whole CLI."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            refusals_as_messages(sub)
        return command
    callback = command.callback
    if getattr(callback, "refusals_as_messages", False):  # create_app runs once per app, the commands are shared
        return command

    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc

    run.refusals_as_messages = True  # type: ignore[attr-defined]
    command.callback = run
    return command


def init_app(app: Flask) -> None:
    """Register every `flask` command of the portal."""
    from app.mail.cli import outbox_group

    for command in (outbox_group, seed_command, backup_command, create_user_command, tallies_group,
                    reset_two_factor_command, attachments_group):
        app.cli.add_command(refusals_as_messages(command))
