"""Migration 0012 on a populated database made at 0011 (SQLite and PostgreSQL): search then finds
the comments, resolution notes and emoji written before the upgrade (the indexes are built from
the existing rows), internal notes for staff only; the models still match; down to 0011 restores
the title-and-description search, and up again indexes what was written in between."""
import flask_migrate
import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.incidents.queries import IncidentFilters, list_incidents
from app.models import User
from tests import postgres
from tests.schema import differences_from_the_models


@pytest.fixture
def blank_database_url(request, tmp_path):
    """A database with no schema at all: a new SQLite file, or a new PostgreSQL database."""
    if not postgres.ENABLED:
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server = request.getfixturevalue("pg_server")
    yield server.fresh_database(migrated=False)
    server.drop_extra()


def _populate() -> None:
    db.session.execute(text(
        "INSERT INTO users (id, username, username_key, name, email, role, password_hash, active, session_version, "
        "created_at) VALUES "
        "(1, 'ann', 'ann', 'Ann', 'ann@example.test', 'reporter', 'x', true, 0, '2024-01-01 00:00:00'), "
        "(2, 'ada', 'ada', 'Ada', 'ada@example.test', 'admin', 'x', true, 0, '2024-01-01 00:00:00')"))
    for n, notes in ((1, None), (2, "Swapped the flux capacitor.")):
        db.session.execute(text(
            "INSERT INTO incidents (id, title, description, severity, category, urgency, priority, status, "
            "reporter_id, technician_id, resolution_notes, created_at, updated_at, version, sla_calendar, "
            "response_target_minutes, resolve_target_minutes, resolve_spent_seconds, sla_notices) "
            "VALUES (:id, :title, 'd', 2, 'other', 'medium', 'P3', 'open', 1, NULL, :notes, "
            "'2024-01-02 10:00:00', '2024-01-02 10:00:00', 1, 'business', 240, 1440, 0, 0)"),
            {"id": n, "title": f"Incident {n}", "notes": notes})
    db.session.execute(text(
        "INSERT INTO incident_events (incident_id, actor_id, kind, created_at, to_status, body, internal) VALUES "
        "(1, 1, 'created', '2024-01-02 10:00:00', 'open', NULL, false), "
        "(1, 2, 'commented', '2024-01-02 10:05:00', NULL, 'The router in Zürich reboots 🔥', false), "
        "(1, 2, 'commented', '2024-01-02 10:06:00', NULL, 'Suspect the janitor unplugs it.', true), "
        "(2, 1, 'created', '2024-01-02 10:00:00', 'open', NULL, false)"))
    db.session.commit()


def _found(q: str, user_id: int) -> set[int]:
    page = list_incidents(actor=db.session.get(User, user_id), filters=IncidentFilters(q=q), per_page=100)
    assert page.total == len(page.items)
    return {i.id for i in page.items}


def _assert_searchable() -> None:
    ann, ada = 1, 2
    assert _found("router", ann) == _found("router", ada) == {1}
    assert _found("zürich", ann) == {1}
    assert _found("🔥", ann) == {1}
    assert _found("flux", ann) == {2}
    assert _found("janitor", ada) == {1}
    assert _found("janitor", ann) == set()
    assert _found("incident", ann) == {1, 2}
    if not postgres.ENABLED:
        for table in ("incidents_fts", "incidents_fts_events"):  # each index equals its table's text
            db.session.execute(text(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)"))


def _search_objects() -> set[str]:
    if postgres.ENABLED:
        return set(db.session.scalars(text(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_incidents_search%'")))
    return set(db.session.scalars(text(
        "SELECT name FROM sqlite_master WHERE name LIKE 'incidents_fts%' AND type IN ('table', 'trigger') "
        "AND name NOT LIKE '%\\_data' ESCAPE '\\' AND name NOT LIKE '%\\_idx' ESCAPE '\\' "
        "AND name NOT LIKE '%\\_docsize' ESCAPE '\\' AND name NOT LIKE '%\\_config' ESCAPE '\\'")))


def _old_search(q: str) -> set[int]:
    """0011's search, as 0011's code ran it (title and description only)."""
    if postgres.ENABLED:
        return set(db.session.scalars(text(
            "SELECT id FROM incidents WHERE to_tsvector('simple', regexp_replace(title || ' ' || description, "
            "'[^[:alnum:]]+', ' ', 'g')) @@ to_tsquery('simple', :q)"), {"q": f"{q}:*"}))
    return set(db.session.scalars(text("SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH :q"),
                                  {"q": f'"{q}"*'}))


AT_0012 = {
    True: {"ix_incidents_search", "ix_incidents_search_events"},
    False: {"incidents_fts", "incidents_fts_events"} | {
        f"{table}_{trigger}" for table in ("incidents_fts", "incidents_fts_events")
        for trigger in ("insert", "delete", "update")},
}
AT_0011 = {
    True: {"ix_incidents_search"},
    False: {"incidents_fts", "incidents_fts_insert", "incidents_fts_delete", "incidents_fts_update"},
}


def test_upgrade_indexes_existing_text_then_round_trips(blank_database_url):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=blank_database_url)
    with app.app_context():
        flask_migrate.upgrade(revision="0011")
        _populate()
        flask_migrate.upgrade(revision="0012")
        assert _search_objects() == AT_0012[postgres.ENABLED]
        _assert_searchable()
        db.session.commit()  # the models are compared at the head, below (later migrations change them)

        flask_migrate.downgrade(revision="0011")
        assert _search_objects() == AT_0011[postgres.ENABLED]
        assert _old_search("incident") == {1, 2}
        assert _old_search("router") == set()  # comments are not searched at 0011
        # Written while at 0011: a comment and an incident, indexed when 0012 comes back.
        db.session.execute(text(
            "INSERT INTO incident_events (incident_id, actor_id, kind, created_at, body, internal) "
            "VALUES (2, 1, 'commented', '2024-01-03 09:00:00', 'Kettle tripped the fuse.', false)"))
        db.session.execute(text("UPDATE incidents SET title = 'Incident 2: breaker trips' WHERE id = 2"))
        db.session.commit()
        assert _old_search("breaker") == {2}  # 0011's triggers or index keep working
        db.session.commit()

        flask_migrate.upgrade()
        assert _search_objects() == AT_0012[postgres.ENABLED]
        _assert_searchable()
        assert _found("kettle", 1) == {2}
        assert _found("breaker fuse", 1) == {2}
        assert differences_from_the_models() == []
        db.session.commit()
        db.engine.dispose()
