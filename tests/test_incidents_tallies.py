"""The running tallies: `flask tallies rebuild` repairs them, and their filtered groups equal a real GROUP BY."""
import pytest
from sqlalchemy import delete, func, select, update

from app import create_app
from app.extensions import db
from app.incidents import tallies
from app.incidents.enums import Category, Severity, Status
from app.models import Incident, IncidentTally
from tests import factories


@pytest.fixture
def history(people):
    """Eight incidents over every status, two reporters, two technicians and several severities."""
    techs = [people["tech"], people["tech_other"]]
    for n, status in enumerate([*Status, *Status][:8]):
        reporter = people["reporter"] if n % 2 else people["reporter_other"]
        incident = factories.make_incident(reporter, severity=list(Severity)[n % len(Severity)].value,
                                           category=list(Category)[n % len(Category)].value)
        factories.bring_to(status, incident=incident, admin=people["admin"], technician=techs[n % 2])
    return people


def _real_count(scope_column=None, scope_value=None, status=None) -> int:
    """A count over the incidents themselves."""
    query = select(func.count()).select_from(Incident)
    if scope_column is not None:
        query = query.where(scope_column.is_(None) if scope_value is None else scope_column == scope_value)
    if status is not None:
        query = query.where(Incident.status == status)
    return db.session.scalar(query)


def test_rebuild_command_repairs_corrupted_tallies(runner, history):
    """Wrong, missing and invented rows: after `flask tallies rebuild` every count is the real one."""
    db.session.execute(update(IncidentTally).where(IncidentTally.scope == tallies.ALL).values(n=IncidentTally.n + 5))
    db.session.execute(delete(IncidentTally).where(IncidentTally.scope == tallies.tech_scope(None)))
    db.session.add(IncidentTally(scope=tallies.reporter_scope(999), status=Status.OPEN, severity=Severity.LOW,
                                 category=Category.OTHER, n=3))
    db.session.commit()
    assert tallies.count(scope=tallies.ALL) != _real_count()

    result = runner.invoke(args=["tallies", "rebuild"])

    assert result.exit_code == 0, result.output
    assert "Rebuilt the tallies from 8 incident(s)." in result.output
    scopes = [(tallies.ALL, None, None), (tallies.tech_scope(None), Incident.technician_id, None)]
    scopes += [(tallies.tech_scope(history[t].id), Incident.technician_id, history[t].id)
               for t in ("tech", "tech_other")]
    scopes += [(tallies.reporter_scope(history[r].id), Incident.reporter_id, history[r].id)
               for r in ("reporter", "reporter_other")]
    for scope, column, value in scopes:
        for status in Status:
            assert tallies.count(scope=scope, status=[status]) == _real_count(column, value, status), (scope, status)
    assert tallies.count(scope=tallies.reporter_scope(999)) == 0


def test_rebuild_command_on_an_unmigrated_database_says_what_to_do(tmp_path):
    """No schema: a clear hint and exit status 1, not a stack trace."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}")
    result = app.test_cli_runner().invoke(args=["tallies", "rebuild"])
    assert result.exit_code == 1
    assert "flask db upgrade" in result.output
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("column_name", ["status", "severity", "category"])
@pytest.mark.parametrize("filters", [
    {},
    {"severity": [Severity.HIGH, Severity.LOW]},
    {"category": [Category.NETWORK]},
    {"status": [Status.OPEN, Status.CLOSED], "severity": [Severity.CRITICAL, Severity.LOW],
     "category": [Category.SERVER, Category.APPLICATION, Category.OTHER]},
], ids=["none", "severity", "category", "all three"])
def test_group_with_filters_equals_a_group_by(history, column_name, filters):
    """`group` under value filters gives what a GROUP BY over the matching incidents gives."""
    column = getattr(Incident, column_name)
    query = select(column, func.count()).group_by(column)
    for name, values in filters.items():
        query = query.where(getattr(Incident, name).in_(values))
    assert tallies.group(column_name, scope=tallies.ALL, **filters) == dict(db.session.execute(query).all())
