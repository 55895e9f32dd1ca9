"""Two-factor sign-in (SPEC "Accounts and sign-in (hardened)"): set up on /ui/account with a QR code
and a first code, the code asked for after the password, each code and recovery code good once,
wrong codes throttled like wrong passwords, HTTP Basic refused and `otp` taken by the token
endpoint, REQUIRE_2FA_ROLES, an admin's reset. Every code is a real TOTP computed here with pyotp."""
import hashlib
import re
import time
from datetime import timedelta
from urllib.parse import unquote

import pyotp
import pytest
import segno
from sqlalchemy import select

from app.auth import service as accounts
from app.auth import two_factor
from app.extensions import db
from app.models import Incident, RecoveryCode, User, utcnow
from tests import factories
from tests.api_helpers import assert_problem, basic, bearer
from tests.web_helpers import field_error, flashes, html, login

OWNER = {"REMOTE_ADDR": "192.0.2.10"}


@pytest.fixture
def app(make_app, request):
    """The app without the per-address request limit (the throttle is what is tested here); a test
    parametrizes it indirectly with more settings, e.g. REQUIRE_2FA_ROLES."""
    app = make_app(RATELIMIT_ENABLED=False, **getattr(request, "param", {}))
    with app.app_context():
        yield app
        db.session.remove()


def turn_on(user: User) -> tuple[pyotp.TOTP, list[str]]:
    """Two-factor sign-in on for `user`, confirmed with the previous time step's code (so the
    current step is still unused); the user's authenticator and recovery codes."""
    totp = pyotp.TOTP(two_factor.begin_setup(user=user))
    earlier = utcnow() - timedelta(seconds=30)
    return totp, two_factor.confirm_setup(user=user, code=totp.at(earlier), address="203.0.113.1", now=earlier)


def wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits that are none of the codes accepted now."""
    accepted = {totp.at(time.time() + offset) for offset in (-60, -30, 0, 30, 60)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in accepted)


def password_step(client, user: User, **request):
    """The password, right: the answer sends to the code page and nobody is logged in yet."""
    response = login(client, user, **request)
    assert response.headers["Location"].startswith("/login/2fa"), response.headers["Location"]
    return response


def code_step(client, code: str, **request):
    """The code page's answer to `code`."""
    return client.post("/login/2fa", data={"code": code}, **request)


def logged_in(client) -> bool:
    """Whether the client's session is signed in (a page that needs it answers 200)."""
    return client.get("/ui/account").status_code == 200


def digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").encode()).hexdigest()


# ---- setting it up -------------------------------------------------------------------------

def test_set_up_on_the_account_page_then_signing_in_asks_for_a_code(client, people):
    """Set up -> the QR code (an SVG drawn here, of the otpauth link with issuer and username) and
    the secret as text -> a wrong code refused -> the right one turns it on and shows ten recovery
    codes once, stored only as SHA-256. Then the password alone logs nobody in; the code does."""
    tech = people["tech"]
    login(client, tech)
    page = html(client.get("/ui/account"))
    assert "Set up two-factor sign-in" in page
    assert client.post("/ui/account/two-factor/setup").status_code == 302

    page = html(client.get("/ui/account"))
    db.session.refresh(tech)
    secret = tech.totp_secret
    shown = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', page).group(1)
    assert shown.replace(" ", "") == secret and len(secret) == 32
    uri = two_factor.provisioning_uri(tech)
    assert uri == f"otpauth://totp/Incident%20portal:tech?secret={secret}&issuer=Incident%20portal"
    src = unquote(re.search(r'<img[^>]*src="(data:image/svg\+xml[^"]+)"[^>]*id="two-factor-qr"', page).group(1))
    assert src == unquote(segno.make(uri, error="m").svg_data_uri(scale=4, border=4, dark="#000", light="#fff"))
    assert "<svg" in src and "<script" not in src
    assert two_factor.is_enabled(tech) is False

    totp = pyotp.TOTP(secret)
    refused = client.post("/ui/account/two-factor/confirm", data={"confirm-code": wrong_code(totp)})
    assert refused.status_code == 422
    assert field_error(html(refused), "confirm-code") == two_factor.WRONG_CODE

    confirmed = client.post("/ui/account/two-factor/confirm", data={"confirm-code": totp.now()})
    assert confirmed.status_code == 200 and confirmed.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<li>([a-z2-7]{5}-[a-z2-7]{5})</li>", html(confirmed))
    assert len(set(codes)) == 10
    db.session.refresh(tech)
    assert tech.totp_enabled_at is not None
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == tech.id)).all()
    assert sorted(stored) == sorted(digest(code) for code in codes)
    assert not any(code in html(client.get("/ui/account")) for code in codes)  # shown once

    client.post("/logout")
    password_step(client, tech)
    assert not logged_in(client)
    # The code of the next step: the current one was spent turning it on.
    response = code_step(client, totp.at(time.time() + 30))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and ("success", "Welcome, Tech.") in flashes(html(dashboard))


def test_the_code_page_keeps_next_and_only_serves_a_fresh_password_step(client, people):
    """`next` goes through both steps (and stays local); without a password step, after five
    minutes, or once the password changed, the code page sends back to the login form."""
    tech = people["tech"]
    totp, _ = turn_on(tech)
    step = login(client, tech, query_string={"next": "/ui/incidents/"})
    assert step.headers["Location"] == "/login/2fa?next=/ui/incidents/"
    assert code_step(client, totp.now(), query_string={"next": "/ui/incidents/"}).headers["Location"] == \
        "/ui/incidents/"
    client.post("/logout")

    other = client.application.test_client()
    assert other.get("/login/2fa").headers["Location"].startswith("/login")

    password_step(client, tech)
    with client.session_transaction() as session:
        session["second_factor"] = {**session["second_factor"], "until": time.time() - 1}
    late = code_step(client, totp.at(time.time() + 30))
    assert late.status_code == 302 and late.headers["Location"] == "/login" and not logged_in(client)

    password_step(client, tech)
    accounts.end_sessions(user=tech)  # e.g. the password changed elsewhere meanwhile
    assert code_step(client, totp.at(time.time() + 30)).headers["Location"] == "/login"
    assert not logged_in(client)


def test_a_code_works_once(client, people):
    """A code accepted once is refused after (same step), at the form and at the token endpoint; a
    code of an earlier step than the last one used is refused too."""
    tech = people["tech"]
    totp, _ = turn_on(tech)
    code = totp.now()
    password_step(client, tech)
    assert code_step(client, code).status_code == 302
    client.post("/logout")

    password_step(client, tech)
    replay = code_step(client, code)
    assert replay.status_code == 422 and field_error(html(replay), "code") == two_factor.WRONG_CODE
    assert not logged_in(client)
    assert "otp" in assert_problem(client.post("/auth/tokens", json={"username": "tech", "password": factories.PASSWORD,
                                                                     "otp": code}), 401)["detail"]
    assert code_step(client, totp.at(time.time() - 30)).status_code == 422  # older than the one used


def test_the_time_window_and_replay_in_the_domain(people):
    """At a fixed time: the steps either side are accepted, two steps away is not; the accepted
    step is recorded and nothing at or before it works again."""
    tech = people["tech"]
    totp, _ = turn_on(tech)
    now = utcnow() + timedelta(minutes=5)  # past every step turn_on used
    attempt = lambda seconds: two_factor.verify_sign_in(  # noqa: E731
        user=tech, code=totp.at(now + timedelta(seconds=seconds)), address="203.0.113.9", now=now)
    with pytest.raises(two_factor.CodeRefused):
        attempt(-60)
    with pytest.raises(two_factor.CodeRefused):
        attempt(60)
    attempt(-30)
    attempt(0)
    assert tech.totp_last_step == totp.timecode(now)
    for seconds in (-30, 0):
        with pytest.raises(two_factor.CodeRefused):
            attempt(seconds)
    attempt(30)


def test_a_recovery_code_signs_in_once(client, people):
    """A recovery code, typed in capitals with spaces, signs in once; it is marked used, and the
    others still work."""
    tech = people["tech"]
    _, codes = turn_on(tech)
    password_step(client, tech)
    assert code_step(client, " " + codes[3].upper().replace("-", " - ") + " ").status_code == 302
    assert logged_in(client)
    client.post("/logout")
    used = db.session.scalar(select(RecoveryCode).where(RecoveryCode.code_hash == digest(codes[3])))
    assert used.used_at is not None
    assert two_factor.recovery_codes_left(tech) == 9

    password_step(client, tech)
    assert code_step(client, codes[3]).status_code == 422
    assert code_step(client, codes[4]).status_code == 302


# ---- the API -------------------------------------------------------------------------------

def test_basic_is_refused_and_the_token_endpoint_takes_otp(client, people):
    """With 2FA: Basic with the right password is 401 saying to use a token (with the challenge);
    a token needs `otp` (missing or wrong: 401 naming it; right: 201); a token issued before goes
    on working; `two_factor` shows in the user object. Accounts without 2FA are unchanged."""
    tech = people["tech"]
    earlier_token = bearer(tech)
    totp, codes = turn_on(tech)

    refused = client.get("/me", headers=basic("tech"))
    body = assert_problem(refused, 401)
    assert "token" in body["detail"] and "otp" in body["detail"]
    assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="incident-portal"')
    assert "two-factor" not in assert_problem(client.get("/me", headers=basic("tech", "wrong-password")),
                                              401)["detail"]
    assert client.get("/me", headers=earlier_token).get_json()["two_factor"] is True

    credentials = {"username": "tech", "password": factories.PASSWORD}
    assert "otp" in assert_problem(client.post("/auth/tokens", json=credentials), 401)["detail"]
    assert assert_problem(client.post("/auth/tokens", json={**credentials, "otp": wrong_code(totp)}),
                          401)["detail"] == f"otp: {two_factor.WRONG_CODE}"
    issued = client.post("/auth/tokens", json={**credentials, "otp": totp.now()})
    assert issued.status_code == 201 and issued.get_json()["user"]["two_factor"] is True
    assert client.get("/me", headers={"Authorization": f"Bearer {issued.get_json()['token']}"}).status_code == 200
    assert client.post("/auth/tokens", json={**credentials, "otp": codes[0]}).status_code == 201

    assert client.get("/me", headers=basic("reporter")).get_json()["two_factor"] is False
    assert client.post("/auth/tokens", json={"username": "reporter", "password": factories.PASSWORD,
                                             "otp": "123456"}).status_code == 201  # ignored without 2FA


@pytest.mark.parametrize("otp, status", [("x" * 100_000, 422), (123456, 422), ("", 422), (None, 422),
                                         ("１２３４５６", 401), ("abc", 401), ("12345\x00", 401)])
def test_a_malformed_otp_is_a_clean_refusal(client, people, otp, status):
    """Over-long, not a string, empty: 422 naming otp; a string that is no code: 401. Never a 500."""
    turn_on(people["tech"])
    response = client.post("/auth/tokens", json={"username": "tech", "password": factories.PASSWORD, "otp": otp})
    assert_problem(response, status, *(["otp"] if status == 422 else []))


# ---- guessing ------------------------------------------------------------------------------

def test_guessing_codes_is_throttled_like_passwords(app, client, people):
    """Five wrong codes: that client gets 429 with Retry-After, even for the right code, at the form
    and the token endpoint; a right password again does not wash the count clean (the code has its
    own count). The owner at another address signs in with a code."""
    admin = people["admin"]
    totp, _ = turn_on(admin)
    password_step(client, admin)
    for _ in range(5):
        assert code_step(client, wrong_code(totp)).status_code == 422
    held = code_step(client, totp.now())
    assert held.status_code == 429 and 0 < int(held.headers["Retry-After"]) <= 30
    assert [kind for kind, _ in flashes(html(held))] == ["danger"] and not logged_in(client)

    password_step(client, admin)  # the password is right, and counts for nothing here
    assert code_step(client, totp.now()).status_code == 429
    assert_problem(client.post("/auth/tokens", json={"username": "admin", "password": factories.PASSWORD,
                                                     "otp": totp.now()}), 429)

    owner = app.test_client()
    password_step(owner, admin, environ_base=OWNER)
    assert code_step(owner, totp.now(), environ_base=OWNER).status_code == 302
    assert logged_in(owner)


@pytest.mark.parametrize("code", ["abcdef", "x" * 100_000, "１２３４５６", "", "12 34", "<script>"])
def test_a_malformed_code_is_a_form_error(client, people, code):
    """No code shape, too long, fullwidth digits, empty: 422 with the message beside the field,
    nobody logged in, and no guess counted (ten of them are not held back)."""
    tech = people["tech"]
    turn_on(tech)
    password_step(client, tech)
    for _ in range(10):
        response = code_step(client, code)
        assert response.status_code == 422
        assert field_error(html(response), "code")
    assert not logged_in(client)


@pytest.mark.parametrize("action, field", [("confirm", "confirm-code"), ("recovery-codes", "regenerate-code"),
                                           ("disable", "disable-code")])
def test_the_account_forms_refuse_malformed_codes(client, people, action, field):
    """A 100,000-character code on each account form: 422 with the error beside it, nothing changed."""
    tech = people["tech"]
    if action == "confirm":
        two_factor.begin_setup(user=tech)
        login(client, tech)
    else:
        totp, _ = turn_on(tech)
        password_step(client, tech)
        code_step(client, totp.now())
    before = (tech.totp_secret, tech.totp_enabled_at)
    response = client.post(f"/ui/account/two-factor/{action}", data={field: "7" * 100_000})
    assert response.status_code == 422 and field_error(html(response), field)
    db.session.refresh(tech)
    assert (tech.totp_secret, tech.totp_enabled_at) == before


# ---- the account's own choices -------------------------------------------------------------

def test_new_recovery_codes_need_a_current_code_and_replace_the_old(client, people):
    """New codes for a code from the app (a recovery code will not do); the old ones stop working."""
    tech = people["tech"]
    totp, old = turn_on(tech)
    password_step(client, tech)
    code_step(client, totp.now())
    assert client.post("/ui/account/two-factor/recovery-codes", data={"regenerate-code": old[0]}).status_code == 422
    response = client.post("/ui/account/two-factor/recovery-codes",
                           data={"regenerate-code": totp.at(time.time() + 30)})
    new = re.findall(r"<li>([a-z2-7]{5}-[a-z2-7]{5})</li>", html(response))
    assert response.status_code == 200 and len(set(new)) == 10 and not set(new) & set(old)
    client.post("/logout")
    password_step(client, tech)
    assert code_step(client, old[1]).status_code == 422
    assert code_step(client, new[1]).status_code == 302


def test_turning_it_off_takes_a_code_or_a_recovery_code(client, people):
    """A wrong code changes nothing; a recovery code turns it off, codes and all; then the password
    alone signs in again."""
    tech = people["tech"]
    totp, codes = turn_on(tech)
    password_step(client, tech)
    code_step(client, totp.now())
    refused = client.post("/ui/account/two-factor/disable", data={"disable-code": wrong_code(totp)})
    assert refused.status_code == 422 and field_error(html(refused), "disable-code") == two_factor.WRONG_CODE
    assert client.post("/ui/account/two-factor/disable", data={"disable-code": codes[9]}).status_code == 302
    db.session.refresh(tech)
    assert (tech.totp_secret, tech.totp_enabled_at) == (None, None)
    assert db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == tech.id)).all() == []
    client.post("/logout")
    assert login(client, tech).headers["Location"] == "/"


# ---- REQUIRE_2FA_ROLES and the admin's reset -----------------------------------------------

@pytest.mark.parametrize("app", [{"REQUIRE_2FA_ROLES": ["admin"]}], indirect=True)
def test_a_required_role_sets_it_up_before_anything_else(client, people):
    """An admin without 2FA: logged in, yet every page and form sends to the set-up (nothing done),
    the API takes neither Basic nor a new token; other roles are unaffected. Once set up, the portal
    opens, and turning it off is refused."""
    login(client, people["admin"])
    for path in ("/", "/ui/incidents/", "/ui/users/", "/ui/outbox/", "/ui/incidents/new"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/ui/account#two-factor", path
    created = client.post("/ui/incidents/new", data={"title": "T", "description": "D"})
    assert created.headers["Location"] == "/ui/account#two-factor" and db.session.query(Incident).count() == 0
    page = html(client.get("/ui/account"))
    assert "Your role requires two-factor sign-in" in page
    assert "token" in assert_problem(client.get("/me", headers=basic("admin")), 401)["detail"]
    assert_problem(client.post("/auth/tokens", json={"username": "admin", "password": factories.PASSWORD}), 401)

    reporter = client.application.test_client()
    login(reporter, people["reporter"])
    assert reporter.get("/").status_code == 200

    client.post("/ui/account/two-factor/setup")
    db.session.refresh(people["admin"])
    totp = pyotp.TOTP(people["admin"].totp_secret)
    assert client.post("/ui/account/two-factor/confirm", data={"confirm-code": totp.now()}).status_code == 200
    assert client.get("/").status_code == 200
    assert "Turn off two-factor sign-in" not in html(client.get("/ui/account"))
    refused = client.post("/ui/account/two-factor/disable", data={"disable-code": totp.at(time.time() + 30)},
                          follow_redirects=True)
    assert ("danger", "Two-factor sign-in is required for the admin role; it cannot be turned off.") in \
        flashes(html(refused))
    assert two_factor.is_enabled(db.session.get(User, people["admin"].id))


def test_an_unknown_role_in_require_2fa_roles_refuses_to_start(make_app):
    """A misspelt role would require nothing of anyone: the app does not start."""
    with pytest.raises(RuntimeError, match="REQUIRE_2FA_ROLES names no such role: admins"):
        make_app(REQUIRE_2FA_ROLES=["admins"])


@pytest.mark.parametrize("app", [{"REQUIRE_2FA_ROLES": ["technician"]}], indirect=True)
def test_an_admin_resets_a_users_two_factor(client, people):
    """The users page marks who has 2FA and offers a reset; the API's `reset_2fa: true` does the
    same. After it the user signs in with the password, and a required role sets it up again."""
    tech, other = people["tech"], people["tech_other"]
    turn_on(tech)
    turn_on(other)
    admin = bearer(people["admin"])
    assert_problem(client.patch(f"/users/{tech.id}", headers=admin, json={"reset_2fa": "yes"}), 422, "reset_2fa")
    assert_problem(client.patch(f"/users/{tech.id}", headers=bearer(tech), json={"reset_2fa": True}), 403)
    reset = client.patch(f"/users/{tech.id}", headers=admin, json={"reset_2fa": True})
    assert reset.status_code == 200 and reset.get_json()["two_factor"] is False
    db.session.refresh(tech)
    assert (tech.totp_secret, tech.totp_enabled_at, tech.totp_last_step) == (None, None, None)
    assert db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == tech.id)).all() == []

    login(client, people["admin"])
    page = html(client.get("/ui/users/"))
    row = lambda username: re.search(rf'<tr id="user-{username}".*?</tr>', page, re.S).group(0)  # noqa: E731
    assert "2FA" in row("techother") and "Reset 2FA" in row("techother")
    assert "Reset 2FA" not in row("tech")
    answer = client.post(f"/ui/users/{other.id}/reset-two-factor", follow_redirects=True)
    assert ("success", "Two-factor sign-in of techother was reset; they sign in with their password and set it "
                       "up again.") in flashes(html(answer))
    assert not two_factor.is_enabled(db.session.get(User, other.id))
    client.post("/logout")

    assert login(client, other).headers["Location"] == "/"  # the password alone signs in...
    assert client.get("/").headers["Location"] == "/ui/account#two-factor"  # ...to set it up again


def test_the_cli_resets_two_factor_when_no_admin_can(runner, people):
    """`flask reset-2fa USERNAME` (any case): the way back in for the last admin who lost both phone
    and recovery codes; an unknown name is a clear error and exit 1."""
    admin = people["admin"]
    turn_on(admin)
    result = runner.invoke(args=["reset-2fa", "ADMIN"])
    assert result.exit_code == 0, result.output
    assert "Two-factor sign-in of admin is off" in result.output
    db.session.refresh(admin)
    assert not two_factor.is_enabled(admin)
    assert db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == admin.id)).all() == []
    missing = runner.invoke(args=["reset-2fa", "nobody"])
    assert missing.exit_code == 1 and "There is no user 'nobody'" in missing.output


def test_turning_it_on_ends_sessions_signed_in_with_the_password_alone(make_app):
    """A browser signed in elsewhere with the password alone is signed out when 2FA goes on; the
    browser that turned it on stays in (no app context held between requests: each loads its user)."""
    app = make_app()
    with app.app_context():
        factories.make_user("technician", username="tech")
    elsewhere, here = app.test_client(), app.test_client()
    login(elsewhere, "tech")
    login(here, "tech")
    assert here.post("/ui/account/two-factor/setup").status_code == 302
    with app.app_context():
        secret = db.session.scalar(select(User.totp_secret).where(User.username == "tech"))
    confirmed = here.post("/ui/account/two-factor/confirm", data={"confirm-code": pyotp.TOTP(secret).now()})
    assert confirmed.status_code == 200
    assert here.get("/ui/account").status_code == 200
    assert elsewhere.get("/ui/account").headers["Location"].startswith("/login")
