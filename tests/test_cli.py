"""`flask seed` and `flask create-user` through the app's CLI runner."""
import pytest
from sqlalchemy import func, select

from app import create_app
from app.auth.roles import Role
from app.auth.service import authenticate
from app.extensions import db
from app.incidents.enums import EventKind, Status
from app.incidents.queries import IncidentFilters, count_incidents, timeline
from app.incidents.watchers import watchers_of
from app.models import Incident, IncidentEvent, OutboxMessage, User
from tests import factories

SEED_USERS = {"admin1": Role.ADMIN, "admin2": Role.ADMIN, "tech1": Role.TECHNICIAN, "tech2": Role.TECHNICIAN,
              "tech3": Role.TECHNICIAN, "reporter1": Role.REPORTER, "reporter2": Role.REPORTER,
              "reporter3": Role.REPORTER}


def _counts():
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (User, Incident, IncidentEvent, OutboxMessage))


def test_seed_loads_the_users_and_one_incident_per_status(runner):
    """Every demo user with demo1234, six incidents covering every status."""
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "8 new user(s) and 6 new incident(s)" in result.output
    users = {u.username: u.role for u in db.session.scalars(select(User))}
    assert users == SEED_USERS
    assert authenticate(username="admin1", password="demo1234", address="127.0.0.1") is not None
    statuses = sorted(i.status.value for i in db.session.scalars(select(Incident)))
    assert statuses == sorted(s.value for s in Status)


def test_seed_timelines_are_consistent(runner):
    """Each timeline starts with `created`, chains statuses, ends at the incident's status,
    and the version counts the changes."""
    runner.invoke(args=["seed"])
    for incident in db.session.scalars(select(Incident)):
        events = timeline(incident=incident, viewer=incident.reporter)
        assert events[0].kind == EventKind.CREATED
        moves = [e for e in events if e.to_status is not None]
        for before, after in zip(moves, moves[1:], strict=False):
            assert after.from_status == before.to_status
            assert after.created_at >= before.created_at
        assert moves[-1].to_status == incident.status
        assert incident.version == len(moves)
        assert incident.created_at == events[0].created_at


def test_seed_shows_collaboration_to_staff_only(runner):
    """The demo has an internal note its reporter never sees, and an admin who watches the incident."""
    runner.invoke(args=["seed"])
    incident = db.session.scalar(select(Incident).where(Incident.title.startswith("Payroll export")))
    admin = db.session.scalar(select(User).where(User.username == "admin1"))
    staff_view = timeline(incident=incident, viewer=admin)
    reporter_view = timeline(incident=incident, viewer=incident.reporter)
    notes = [event for event in staff_view if event.internal]
    assert len(notes) == 1 and "Host key verification failed." in notes[0].body
    assert [event.id for event in reporter_view] == [event.id for event in staff_view if not event.internal]
    assert {user.username for user in watchers_of(incident)} == {"reporter2", "tech2", "admin1"}


def test_seed_twice_changes_nothing(runner):
    """Idempotent: the second run creates nothing and queues no mail."""
    runner.invoke(args=["seed"])
    first = _counts()
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0 and "0 new user(s) and 0 new incident(s)" in result.output
    assert _counts() == first
    assert first[3] == 0, "invented history sends no mail"


def test_seed_reset_starts_over(runner, people):
    """--reset removes everything else and loads the demo data again."""
    factories.make_incident(people["reporter"])
    runner.invoke(args=["seed"])
    result = runner.invoke(args=["seed", "--reset"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == len(SEED_USERS)
    assert db.session.scalar(select(User).where(User.username == "admin")) is None
    assert count_incidents(actor=db.session.scalar(select(User).where(User.username == "admin1")),
                           filters=IncidentFilters()) == 6, "tallies start over too"


def test_create_user_prompts_for_the_password(runner):
    """The password comes from the prompt (twice), never the command line history."""
    result = runner.invoke(args=["create-user", "carol", "--role", "technician", "--email", "carol@example.com"],
                           input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert authenticate(username="carol", password="s3cret-pass", address="127.0.0.1").role == Role.TECHNICIAN


@pytest.mark.parametrize(("args", "message"), [
    (["create-user", "dave", "--role", "boss", "--email", "d@example.com"], "Invalid value for '--role'"),
    (["create-user", "dave", "--role", "admin"], "Missing option '--email'"),
    (["create-user", "dave", "--role", "admin", "--email", "not-an-email"], "email: Must be a valid email"),
    (["create-user", "x", "--role", "admin", "--email", "d@example.com"], "username:"),
    (["create-user", "admin", "--role", "admin", "--email", "d@example.com"], "This username is taken"),
])
def test_create_user_refuses_bad_arguments_clearly(runner, people, args, message):
    """A clear message, a non-zero exit, and no user created."""
    before = db.session.scalar(select(func.count()).select_from(User))
    result = runner.invoke(args=args, input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_create_user_refuses_a_short_password(runner):
    """The password policy applies at the prompt too."""
    result = runner.invoke(args=["create-user", "erin", "--role", "reporter", "--email", "e@example.com"],
                           input="short\nshort\n")
    assert result.exit_code == 1 and "password: Must be at least 8 characters" in result.output


def test_commands_on_an_unmigrated_database_say_what_to_do(tmp_path):
    """No schema yet: a clear hint to run `flask db upgrade`, not a stack trace."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}")
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 1
    assert "flask db upgrade" in result.output
    with app.app_context():
        db.engine.dispose()
