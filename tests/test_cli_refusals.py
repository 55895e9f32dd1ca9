"""Every `flask` command ends a domain refusal with its message and exit 1, never a traceback:
here the refusal every writing command can meet, the database's write lock held by someone else."""
import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import make_url

from app.exceptions import Unavailable

WRITING_COMMANDS = [
    ["seed"],
    ["create-user", "newcomer", "--role", "reporter", "--email", "n@example.test", "--password", "long enough 1"],
    ["tallies", "rebuild"],
    ["outbox", "retry", "--failed"],
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("args", WRITING_COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_a_held_write_lock_is_a_clear_message_and_exit_1(make_app, args):
    """Another connection holds BEGIN IMMEDIATE: the command says the database is busy and exits 1."""
    app = make_app(WRITE_LOCK_TIMEOUT_SECONDS=0.2, MAIL_SERVER="127.0.0.1")
    path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        result = app.test_cli_runner().invoke(args=args)
        holder.execute("ROLLBACK")
    assert result.exit_code == 1, result.output
    assert "Error: The database is busy" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Unavailable)


def test_wrapping_is_done_once_however_many_apps_are_made(make_app):
    """The commands are module-level objects: building apps again must not wrap them again."""
    from app.cli import seed_command
    make_app()
    first = seed_command.callback
    make_app()
    assert seed_command.callback is first
