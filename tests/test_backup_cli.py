"""`flask backup PATH`: a consistent copy taken while writes continue, and restorable."""
import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.incidents import service
from app.incidents.queries import IncidentFilters, list_incidents
from app.models import Incident, User
from tests import factories


def _write_until(app, stop: threading.Event, written: list) -> None:
    """Create incidents through the service as fast as possible until told to stop."""
    with app.app_context():
        reporter = db.session.scalar(select(User).where(User.username == "reporter"))
        while not stop.is_set():
            written.append(service.create_incident(actor=reporter, title="During backup",
                                                   description="Written while copying").id)


@pytest.mark.sqlite_only  # checks the SQLite copy itself; tests/test_deploy_database.py restores on both
def test_backup_while_writing_is_consistent_and_restorable(app, runner, people, tmp_path):
    """The copy passes integrity_check, has no incident without its `created` event, and
    an app pointed at it serves the incidents it holds."""
    for _ in range(30):
        factories.make_incident(people["reporter"])
    stop, written = threading.Event(), []
    writer = threading.Thread(target=_write_until, args=(app, stop, written))
    writer.start()
    try:
        while len(written) < 20:
            threading.Event().wait(0.01)
        result = runner.invoke(args=["backup", str(tmp_path / "copy.db")])
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    orphans = copy.execute("SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM incident_events e "
                           "WHERE e.incident_id = i.id AND e.kind = 'created')").fetchone()[0]
    copied = copy.execute("SELECT count(*) FROM incidents").fetchone()[0]
    copy.close()
    assert orphans == 0 and 30 <= copied <= 30 + len(written)

    restored = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'copy.db'}")
    with restored.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        assert list_incidents(actor=admin, filters=IncidentFilters()).total == copied
        assert db.session.scalar(select(func.count()).select_from(Incident)) == copied
        db.engine.dispose()


def test_backup_refuses_to_overwrite_or_write_nowhere(runner, tmp_path):
    """An existing file or a missing folder is a clear error with a non-zero exit."""
    (tmp_path / "exists.db").write_text("keep me")
    result = runner.invoke(args=["backup", str(tmp_path / "exists.db")])
    assert result.exit_code == 1 and "already exists" in result.output
    assert (tmp_path / "exists.db").read_text() == "keep me"
    result = runner.invoke(args=["backup", str(tmp_path / "missing" / "x.db")])
    assert result.exit_code == 1 and "is not a directory" in result.output
