"""Migration 0013 on a populated database made at 0012 (SQLite and PostgreSQL): the three report
indexes gain their columns, the data and the reports' figures stay the same, the models match; on
an ANALYZEd SQLite database the new indexes get statistics; down to 0012 restores the narrower
indexes, and up again round-trips."""
import flask_migrate
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from app.incidents import reports
from app.models import User
from tests import postgres
from tests.schema import differences_from_the_models
from tests.test_migration_0012 import _populate, blank_database_url  # noqa: F401 (a fixture)

AT_0013 = {
    "ix_incidents_created_at": ["created_at", "id", "responded_at", "response_due_at"],
    "ix_incidents_resolved_at": ["resolved_at", "created_at", "resolve_spent_seconds", "resolve_target_minutes"],
    "ix_incidents_status_created": ["status", "created_at", "id", "severity", "priority", "category",
                                    "technician_id"],
}
AT_0012 = {
    "ix_incidents_created_at": ["created_at", "id"],
    "ix_incidents_resolved_at": ["resolved_at"],
    "ix_incidents_status_created": ["status", "created_at", "id"],
}
PERIOD = reports.Period(reports.date(2024, 1, 1), reports.date(2024, 1, 31))


def _report_indexes() -> dict[str, list[str]]:
    found = {index["name"]: index["column_names"] for index in inspect(db.engine).get_indexes("incidents")}
    return {name: found.get(name) for name in AT_0013}


def _resolve_one() -> None:
    """Incident 2 answered and resolved, so every figure has something to count."""
    db.session.execute(text(
        "UPDATE incidents SET status = 'resolved', technician_id = 2, responded_at = '2024-01-02 10:30:00', "
        "response_due_at = '2024-01-02 14:00:00', resolved_at = '2024-01-03 10:00:00', resolve_spent_seconds = 600 "
        "WHERE id = 2"))
    db.session.commit()


def _figures() -> list:
    admin = db.session.get(User, 2)
    return [reports.summary(actor=admin, period=PERIOD, group_by=grouping)
            for grouping in (None, *reports.Grouping)] + [reports.daily(actor=admin, period=PERIOD)]


def _statistics() -> set[str]:
    return set(db.session.scalars(text("SELECT idx FROM sqlite_stat1 WHERE tbl = 'incidents'")))


def test_upgrade_widens_the_report_indexes_keeps_the_figures_then_round_trips(blank_database_url):  # noqa: F811
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=blank_database_url)
    with app.app_context():
        flask_migrate.upgrade(revision="0012")
        _populate()
        _resolve_one()
        if not postgres.ENABLED:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        assert _report_indexes() == AT_0012
        before = _figures()
        assert before[0].groups[0].created == 2 and before[0].groups[0].resolved == 1
        assert before[0].groups[0].backlog == 1
        db.session.commit()
        for _ in range(2):
            flask_migrate.upgrade(revision="0013")
            assert _report_indexes() == AT_0013
            assert db.session.execute(text("SELECT count(*) FROM incidents")).scalar() == 2
            assert _figures() == before
            if not postgres.ENABLED:
                assert set(AT_0013) <= _statistics()
            db.session.commit()
            flask_migrate.upgrade()  # the models are the head's (later migrations change them)
            assert differences_from_the_models() == []
            db.session.commit()
            flask_migrate.downgrade(revision="0012")
            assert _report_indexes() == AT_0012
            assert _figures() == before
            db.session.commit()
        flask_migrate.upgrade()
        db.engine.dispose()


def test_a_database_never_analyzed_is_left_without_statistics(tmp_path):
    """`ANALYZE` only refreshes statistics a database already keeps: a small database made by
    `flask db upgrade` is not given any (SQLite plans it without them, as before)."""
    if postgres.ENABLED:
        return
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'new.db'}")
    with app.app_context():
        flask_migrate.upgrade()
        assert db.session.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar() == 0
        db.engine.dispose()
