"""Browser login: generic errors, local-only redirects, deactivated users, rate limit, CSRF."""
import re

import pytest

from app.auth.routes import GENERIC_LOGIN_ERROR
from app.auth.service import update_user
from tests import factories
from tests.web_helpers import flashes, html, login


def test_login_then_dashboard_then_logout(client, people):
    """A valid login lands on the dashboard; logout ends the session."""
    response = login(client, "reporter")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert b"Dashboard" in client.get("/").data
    client.post("/logout")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(("username", "password"), [("reporter", "wrong-password"), ("nobody", "password123"),
                                                    ("", "")])
def test_login_failures_all_say_the_same_thing(client, people, username, password):
    """Wrong password and unknown user are indistinguishable."""
    response = login(client, username, password, expect=200)
    if username:
        assert GENERIC_LOGIN_ERROR.encode() in response.data
    assert client.get("/").status_code == 302


def test_a_deactivated_user_cannot_log_in_and_is_logged_out(client, people):
    """Deactivation ends existing sessions too."""
    login(client, "reporter")
    assert client.get("/").status_code == 200
    update_user(user=people["reporter"], active=False)
    assert client.get("/").status_code == 302
    response = login(client, "reporter", expect=200)
    assert GENERIC_LOGIN_ERROR.encode() in response.data


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "http:/evil.example"])
def test_next_never_leaves_the_site(client, people, target):
    """?next= to anything but a local path falls back to the dashboard."""
    response = login(client, "reporter", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_next_follows_a_local_path(client, people):
    """?next=/ui/account is honoured."""
    response = login(client, "reporter", query_string={"next": "/ui/account?tab=tokens"})
    assert response.headers["Location"] == "/ui/account?tab=tokens"


def test_pages_need_a_login(client):
    """Anonymous visitors are sent to the login page, keeping where they wanted to go."""
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_logout_is_post_only(client, people):
    """A link (GET) cannot log anyone out."""
    login(client, "reporter")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_repeated_failures_hold_back_this_browser_not_the_account(app, client, people):
    """After the threshold this client gets the login form back with 429, Retry-After and a generic
    'try again' even for the right password; the owner's browser elsewhere logs in."""
    for _ in range(app.config["LOGIN_THROTTLE_FAILURES"]):
        login(client, "reporter", "wrong-password", expect=200)
    response = login(client, "reporter", expect=429)
    assert re.fullmatch(r"Too many attempts; try again in \d+ seconds\.", flashes(html(response))[0][1])
    assert 'name="password"' in html(response) and int(response.headers["Retry-After"]) > 0
    login(app.test_client(), "reporter", environ_base={"REMOTE_ADDR": "192.0.2.10"})


def test_login_is_rate_limited(make_app):
    """Past the limit the login form answers 429 in the site's layout."""
    app = make_app(RATELIMIT_LOGIN="3 per minute")
    client = app.test_client()
    codes = [login(client, "x", "y", expect=None).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    assert b"Too Many Requests" in login(client, "x", "y", expect=429).data


def test_login_form_refuses_a_missing_csrf_token(make_app):
    """With CSRF on (as in production) a forged POST is refused and nobody is logged in."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        factories.make_user("reporter", username="victim")
    client = app.test_client()
    login(client, "victim", expect=400)
    assert client.get("/").status_code == 302


def test_session_cookie_is_httponly_and_samesite_lax(client, people):
    """The session cookie cannot be read by scripts or sent cross-site on POSTs."""
    response = login(client, "reporter")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _fresh_app_with_reporter(make_app):
    """An app with no app context held by the test, so each request loads its user afresh."""
    app = make_app()
    with app.app_context():
        factories.make_user("reporter", username="victim")
    return app


def test_logout_ends_every_copy_of_the_session(make_app):
    """A cookie copied before logout (a stolen session) no longer works afterwards."""
    app = _fresh_app_with_reporter(make_app)
    client, thief = app.test_client(), app.test_client()
    login(client, "victim")
    thief.set_cookie("session", client.get_cookie("session").value)
    assert thief.get("/").status_code == 200
    client.post("/logout")
    assert thief.get("/").status_code == 302


def test_a_password_change_logs_out_other_sessions_but_not_this_one(make_app):
    """The browser that changed the password stays in; every other session ends."""
    app = _fresh_app_with_reporter(make_app)
    client, other = app.test_client(), app.test_client()
    login(client, "victim")
    login(other, "victim")
    assert other.get("/").status_code == 200
    response = client.post("/ui/account/password", data={
        "password-current_password": factories.PASSWORD, "password-new_password": "a-new-password",
        "password-confirm": "a-new-password"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302
