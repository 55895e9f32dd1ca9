"""API credentials: tokens (issued, hashed, expiring, revoked), HTTP Basic, deactivation, rate limit, CSRF."""
import hashlib
import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import ApiToken, utcnow
from tests import factories
from tests.api_helpers import assert_problem, basic, bearer, snapshot
from tests.web_helpers import login


def _issue(client, username: str, password: str = factories.PASSWORD, **extra):
    return client.post("/auth/tokens", json={"username": username, "password": password, **extra})


def test_a_token_is_issued_once_stored_hashed_and_works(client, people):
    """201 with the token, its expiry (30 days, UTC Z) and the user; only the SHA-256 is stored."""
    response = _issue(client, "tech")
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"] == {"id": people["tech"].id, "username": "tech", "name": "Tech",
                            "email": "tech@example.test", "role": "technician", "active": True,
                            "two_factor": False}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["expires_at"])
    row = db.session.query(ApiToken).one()
    assert row.token_hash == hashlib.sha256(body["token"].encode()).hexdigest() != body["token"]
    assert abs(row.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    me = client.get("/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.get_json()["username"] == "tech"


def test_a_token_can_be_named_and_given_a_shorter_life(client, people):
    """`name` labels it (shown on the account page), `expires_in_days` shortens it."""
    assert _issue(client, "tech", name="nightly report", expires_in_days=2).status_code == 201
    row = db.session.query(ApiToken).one()
    assert row.name == "nightly report"
    assert abs(row.expires_at - (utcnow() + timedelta(days=2))) < timedelta(minutes=1)


@pytest.mark.parametrize(("username", "password"), [("tech", "wrong password"), ("nobody", factories.PASSWORD)])
def test_wrong_credentials_get_the_same_401(client, people, username, password):
    """Unknown user and wrong password read alike: no hint which part was wrong."""
    body = assert_problem(_issue(client, username, password), 401)
    assert body["detail"] == "Invalid username or password."
    assert db.session.query(ApiToken).count() == 0


def test_a_deactivated_user_gets_no_token_and_loses_the_ones_they_had(client, people):
    """Deactivation through the API revokes tokens; Basic stops working too."""
    target = people["reporter"]
    headers = bearer(target)
    assert client.get("/me", headers=headers).status_code == 200
    response = client.patch(f"/users/{target.id}", headers=bearer(people["admin"]), json={"active": False})
    assert response.get_json()["active"] is False
    assert_problem(client.get("/me", headers=headers), 401)
    assert_problem(client.get("/me", headers=basic("reporter")), 401)
    assert_problem(_issue(client, "reporter"), 401)


def test_an_expired_token_is_refused(client, people):
    """Past its expiry a token is 401 like any wrong one."""
    headers = bearer(people["tech"])
    token = db.session.query(ApiToken).one()
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    body = assert_problem(client.get("/me", headers=headers), 401)
    assert 'error="invalid_token"' in client.get("/me", headers=headers).headers["WWW-Authenticate"]
    assert "expired" in body["detail"]


def test_http_basic_works_like_curl_u(client, people):
    """`curl -u user:pass` reaches the API without a token."""
    response = client.get("/incidents/", headers=basic("reporter"))
    assert response.status_code == 200
    assert client.get("/me", headers=basic("admin")).get_json()["role"] == "admin"


def test_revoking_the_current_token(client, people):
    """DELETE /auth/tokens/current: 204 with no body, then that token is 401; others still work."""
    doomed, kept = bearer(people["tech"]), bearer(people["tech"])
    response = client.delete("/auth/tokens/current", headers=doomed)
    assert (response.status_code, response.data, response.content_type) == (204, b"", None)
    assert_problem(client.get("/me", headers=doomed), 401)
    assert client.get("/me", headers=kept).status_code == 200


def test_revoking_with_basic_credentials_is_400(client, people):
    """There is no token to revoke when the request used HTTP Basic."""
    before = snapshot()
    assert_problem(client.delete("/auth/tokens/current", headers=basic("tech")), 400)
    assert snapshot() == before


def test_token_requests_are_rate_limited_per_client(app, client, people):
    """Past RATELIMIT_TOKENS the answer is 429 problem+json with Retry-After, and no token is made."""
    app.config["RATELIMIT_TOKENS"] = "3 per minute"
    for _ in range(3):
        assert _issue(client, "tech", "wrong password").status_code == 401
    response = _issue(client, "tech")
    body = assert_problem(response, 429)
    assert "Try again later" in body["detail"]
    assert int(response.headers["Retry-After"]) > 0
    assert db.session.query(ApiToken).count() == 0


def test_the_api_needs_no_csrf_token_but_the_login_form_still_does(app, client, people):
    """The API is exempt (it ignores cookies); the HTML forms keep their protection."""
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/incidents/", headers=bearer(people["reporter"]),
                           json={"title": "With CSRF on", "description": "Still works."})
    assert response.status_code == 201
    assert _issue(client, "tech").status_code == 201
    login(client, "tech", expect=400)


def test_wrong_basic_passwords_hold_back_that_client_not_the_account(app, client, people):
    """After LOGIN_THROTTLE_FAILURES wrong Basic passwords this client gets 429 with Retry-After, even
    with the right password and on the token endpoint; the owner at another address is let in."""
    for _ in range(app.config["LOGIN_THROTTLE_FAILURES"]):
        assert_problem(client.get("/me", headers=basic("tech", "wrong password")), 401)
    for response in (client.get("/me", headers=basic("tech")), _issue(client, "tech")):
        assert "Too many attempts" in assert_problem(response, 429)["detail"]
        assert int(response.headers["Retry-After"]) > 0
    elsewhere = {"REMOTE_ADDR": "192.0.2.10"}
    assert client.get("/me", headers=basic("tech"), environ_base=elsewhere).status_code == 200
    assert client.post("/auth/tokens", json={"username": "tech", "password": factories.PASSWORD},
                       environ_base=elsewhere).status_code == 201
