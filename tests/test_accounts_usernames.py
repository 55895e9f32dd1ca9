"""Usernames are one account per name after NFKC + case folding (issue 14, finding 6): the API, the
users page and the CLI refuse `ADMIN1` beside `admin1`, sign-in finds the account whatever the case,
and migration 0005 keys the accounts of a database made by the previous head, collisions included."""
import sqlite3

import flask_migrate
import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from app import create_app
from app.auth.service import authenticate
from app.auth.usernames import username_key
from app.extensions import db
from app.models import User
from tests import factories
from tests.api_helpers import assert_problem, basic, bearer
from tests.web_helpers import login


@pytest.mark.parametrize("first, second", [("admin1", "ADMIN1"), ("Ops.Lead", "ops.lead"), ("tech-2", "TECH-2")])
def test_the_api_refuses_a_name_that_differs_only_in_case(client, people, first, second):
    """422 naming `username`; one account stays."""
    headers = bearer(people["admin"])
    body = {"password": "long enough 1", "role": "technician", "email": "x@example.test"}
    assert client.post("/users/", json={"username": first, **body}, headers=headers).status_code == 201
    assert_problem(client.post("/users/", json={"username": second, **body}, headers=headers), 422, "username")
    assert db.session.scalar(select(func.count()).select_from(User).where(
        User.username_key == username_key(first))) == 1


def test_the_users_page_and_the_cli_refuse_it_too(client, runner, people):
    """Same rule through the other two doors."""
    login(client, people["admin"])
    response = client.post("/ui/users/", data={"username": "ADMIN", "name": "Shadow", "email":
                                               "s@example.test", "role": "admin", "password": "long enough 1"})
    assert response.status_code == 422
    assert "This username is taken" in response.get_data(as_text=True)
    result = runner.invoke(args=["create-user", "Reporter", "--role", "reporter", "--email", "r@example.test",
                                 "--password", "long enough 1"])
    assert result.exit_code != 0
    assert "taken" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == len(people)


@pytest.mark.parametrize("typed", ["TECH", "Tech", "tech"])
def test_sign_in_finds_the_account_whatever_the_case(client, people, typed):
    """The login form and HTTP Basic look the name up by its key."""
    assert client.get("/me", headers=basic(typed)).get_json()["username"] == "tech"
    response = client.post("/login", data={"username": typed, "password": factories.PASSWORD})
    assert response.status_code == 302


def test_the_key_folds_compatibility_forms_and_case():
    """NFKC then casefold: fullwidth letters, ligatures and German sharp s meet their plain forms."""
    assert username_key("ＡＤＭＩＮ１") == username_key("admin1") == "admin1"
    assert username_key("ﬁre") == "fire"
    assert username_key("STRASSE") == username_key("straße")
    assert username_key("tech") != username_key("tech2")


def test_migration_0005_keys_a_populated_database_from_the_previous_head(tmp_path):
    """A file made by migration 0004 with incidents and two names that collide once case-folded:
    upgraded, every account keeps working, the older one owns the plain key, and a new collision
    is refused by the database itself."""
    path = tmp_path / "old.db"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        flask_migrate.upgrade(revision="0004")
        db.engine.dispose()
    raw = sqlite3.connect(path)
    for username in ("admin1", "ADMIN1", "Tech"):
        raw.execute("INSERT INTO users (username, name, email, role, password_hash, active, failed_logins, "
                    "session_version, created_at) VALUES (?, ?, ?, 'admin', ?, 1, 0, 0, '2026-01-01 00:00:00')",
                    (username, username, f"{username}@example.test", generate_password_hash(f"pw {username}")))
    raw.execute("INSERT INTO incidents (title, description, severity, category, status, reporter_id, created_at, "
                "updated_at, version) VALUES ('t', 'd', 2, 'other', 'open', 2, '2026-01-01', '2026-01-01', 1)")
    raw.commit()
    raw.close()
    with app.app_context():
        flask_migrate.upgrade()
        keys = dict(db.session.execute(select(User.username, User.username_key)).all())
        assert keys == {"admin1": "admin1", "ADMIN1": "admin1~2", "Tech": "tech"}
        # Each of the colliding pair still signs in by its own spelling; any other case finds the older.
        for typed, password, user_id in (("admin1", "pw admin1", 1), ("ADMIN1", "pw ADMIN1", 2),
                                         ("Admin1", "pw admin1", 1), ("TECH", "pw Tech", 3)):
            assert authenticate(username=typed, password=password, address="192.0.2.1").id == user_id, typed
        with pytest.raises(Exception, match="(?i)unique"):
            db.session.execute(User.__table__.insert().values(
                username="TECH", username_key="tech", name="x", email="x@example.test", role="reporter",
                password_hash="x", active=True, session_version=0))
        db.session.rollback()
        flask_migrate.downgrade(revision="0004")
        flask_migrate.upgrade()
        db.engine.dispose()
