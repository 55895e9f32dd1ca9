"""Accounts under attack: the login rate limit cannot be dodged, tokens never reach the database in
plain text and stop at expiry or revocation, the password policy holds everywhere a password is
set, and the session cookie is HttpOnly, SameSite=Lax, Secure in production, and started afresh at
login. (Failed passwords are throttled per client: tests/test_accounts_throttle*.py.)"""
import hashlib
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import update

from app import create_app
from app.extensions import db
from app.models import ApiToken, utcnow
from config import ProductionConfig
from tests import factories, postgres
from tests.api_helpers import assert_problem, bearer, snapshot
from tests.web_helpers import csrf_token, html, login


# ---------------------------------------------------------------------------------------------
# Rate limit
# ---------------------------------------------------------------------------------------------
def test_the_login_rate_limit_holds_even_for_the_right_password_and_a_forged_forwarded_for(make_app):
    """Past RATELIMIT_LOGIN: 429 in the layout with Retry-After, nobody is logged in, and a made-up
    X-Forwarded-For does not buy a fresh allowance (no proxy is trusted by default)."""
    app = make_app(RATELIMIT_LOGIN="3 per minute")
    with app.app_context():
        factories.make_user(username="victim")
    client = app.test_client()
    for n in range(3):
        login(client, "victim", "wrong", expect=200, headers={"X-Forwarded-For": f"203.0.113.{n}"})
    for n in range(3):
        response = login(client, "victim", expect=429, headers={"X-Forwarded-For": f"198.51.100.{n}"})
        assert int(response.headers["Retry-After"]) > 0 and 'aria-label="Main"' in html(response)
    assert client.get("/").status_code == 302  # still not logged in


def test_behind_a_trusted_proxy_each_client_has_its_own_allowance(make_app):
    """With TRUSTED_PROXIES=1 (nginx in front) one client hitting the limit does not lock out the next."""
    app = make_app(RATELIMIT_LOGIN="2 per minute", TRUSTED_PROXIES=1)
    with app.app_context():
        factories.make_user(username="colleague")
    client = app.test_client()
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    codes = [login(client, "colleague", "wrong", expect=None, headers=attacker).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    login(client, "colleague", headers={"X-Forwarded-For": "198.51.100.20"})


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------
def _stored_bytes(app) -> bytes:
    """Every byte SQLite keeps for the database: the file, its WAL and shared memory."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    parts = []
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            with open(path + suffix, "rb") as file:
                parts.append(file.read())
    return b"".join(parts)


def test_a_plain_token_never_reaches_the_database(app, client, people):
    """Tokens from the API and from the account page: only their SHA-256 is stored, anywhere."""
    issued = client.post("/auth/tokens", json={"username": "tech", "password": factories.PASSWORD}).get_json()["token"]
    login(client, people["reporter"])
    page = html(client.post("/ui/account/tokens", data={"token-name": "script", "token-ttl_days": "7"}))
    shown = re.search(r'id="new-token-value" type="text" value="([^"]+)"', page).group(1)
    assert "no-store" in client.get("/ui/account").headers["Cache-Control"]
    assert shown not in html(client.get("/ui/account"))  # shown once, never again
    rows = db.session.query(ApiToken).all()
    assert sorted(row.token_hash for row in rows) == sorted(hashlib.sha256(t.encode()).hexdigest()
                                                             for t in (issued, shown))
    dump = repr(snapshot())
    for plain in (issued, shown):
        assert plain not in dump
        assert client.get("/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    if not postgres.ENABLED:
        raw = _stored_bytes(app)
        assert issued.encode() not in raw and shown.encode() not in raw


def test_a_token_stops_at_its_expiry_and_at_revocation_and_only_that_token(client, people):
    """Expiry and revocation act on one token; the user's other tokens keep working."""
    expiring, revoked, kept = (bearer(people["tech"]) for _ in range(3))
    digest = hashlib.sha256(expiring["Authorization"].split()[1].encode()).hexdigest()
    db.session.execute(update(ApiToken).where(ApiToken.token_hash == digest)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert_problem(client.get("/me", headers=expiring), 401)
    assert client.delete("/auth/tokens/current", headers=revoked).status_code == 204
    assert_problem(client.get("/me", headers=revoked), 401)
    assert_problem(client.delete("/auth/tokens/current", headers=revoked), 401)
    assert client.get("/me", headers=kept).status_code == 200


def test_a_token_made_up_from_a_stored_hash_is_useless(client, people):
    """Someone who reads the database (a backup, a leak) cannot use what is stored there."""
    bearer(people["admin"])
    stored = db.session.query(ApiToken).one().token_hash
    assert_problem(client.get("/me", headers={"Authorization": f"Bearer {stored}"}), 401)


# ---------------------------------------------------------------------------------------------
# Password policy
# ---------------------------------------------------------------------------------------------
def test_the_minimum_password_length_holds_wherever_a_password_is_set(make_app):
    """PASSWORD_MIN_LENGTH=12: the API, the users page and the account page all refuse 11 characters
    and accept 12; 257 characters are refused too; a refusal stores nothing."""
    app = make_app(PASSWORD_MIN_LENGTH=12)
    with app.app_context():
        admin = factories.make_user("admin", username="policyadmin", password="twelve chars")
        headers = bearer(admin)
        before = snapshot()
    client = app.test_client()
    login(client, "policyadmin", "twelve chars")
    for password, message in (("x" * 11, "at least 12 characters"), ("x" * 257, "256 characters")):
        new = {"username": "shorty", "password": password, "role": "reporter", "email": "s@example.test"}
        assert_problem(client.post("/users/", json=new, headers=headers), 422, "password")
        response = client.post("/ui/users/", data={**new, "name": "Shorty"})
        assert response.status_code == 422 and message in html(response)
        response = client.post("/ui/account/password", data={
            "password-current_password": "twelve chars", "password-new_password": password,
            "password-confirm": password})
        assert response.status_code == 422 and message in html(response)
    with app.app_context():
        assert snapshot() == before
    ok = {"username": "longenough", "password": "x" * 12, "role": "reporter", "email": "l@example.test"}
    assert client.post("/users/", json=ok, headers=headers).status_code == 201


# ---------------------------------------------------------------------------------------------
# The session cookie
# ---------------------------------------------------------------------------------------------
def _cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def _assert_locked_down(cookie: str, *, secure: bool) -> None:
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("; Secure" in cookie) is secure, cookie


@pytest.fixture
def production_app(monkeypatch, tmp_path, schema_template, request):
    """The production config (a real secret key, no background sender) on its own database."""
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "a-long-random-production-secret-0123456789")
    if postgres.ENABLED:
        server = request.getfixturevalue("pg_server")
        request.addfinalizer(server.drop_extra)
        url = server.fresh_database()
    else:
        shutil.copy(schema_template, tmp_path / "production.db")
        url = f"sqlite:///{tmp_path / 'production.db'}"
    app = create_app("production", SQLALCHEMY_DATABASE_URI=url, OUTBOX_BACKGROUND_SENDER=False,
                     PASSWORD_HASH_METHOD="pbkdf2:sha256:1000", APP_BASE_URL="https://portal.example")
    with app.app_context():
        factories.make_user(username="produser")
        yield app
        db.engine.dispose()


def test_in_production_both_login_cookies_are_secure_httponly_and_samesite(production_app):
    """The session cookie and the 'keep me logged in' cookie: never over plain HTTP, never to scripts."""
    client = production_app.test_client()
    token = csrf_token(client, base_url="https://portal.example")
    response = login(client, "produser", form={"remember": "y", "csrf_token": token},
                     base_url="https://portal.example", headers={"Referer": "https://portal.example/login"})
    cookies = _cookies(response)
    _assert_locked_down(cookies["session"], secure=True)
    _assert_locked_down(cookies["remember_token"], secure=True)
    # The server cannot take a remember cookie back, so it lives two weeks, not a year.
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookies["remember_token"]).group(1))
    assert expires - datetime.now(UTC) < timedelta(days=14, minutes=1)


def test_outside_production_secure_follows_session_cookie_secure(make_app):
    """Plain-HTTP development keeps working; SESSION_COOKIE_SECURE=true turns Secure on."""
    for secure in (False, True):
        app = make_app(SESSION_COOKIE_SECURE=secure)
        with app.app_context():
            factories.make_user(username=f"dev{int(secure)}")
        response = login(app.test_client(), f"dev{int(secure)}")
        _assert_locked_down(_cookies(response)["session"], secure=secure)


def test_login_starts_a_fresh_session(client, people):
    """Nothing planted in the session before login survives it (no session fixation), and the
    cookie after login is a different one."""
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "known to whoever handed this cookie over"
        session["csrf_token"] = "a token the attacker knows"
    before = client.get_cookie("session").value
    login(client, people["reporter"])
    assert client.get_cookie("session").value != before
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != "a token the attacker knows"
        assert session["_user_id"] == people["reporter"].get_id()
