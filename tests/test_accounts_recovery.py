"""Password reset by mail (issue 14, finding 13): /forgot answers the same for every login, the mailed
link works once and for an hour, a reset ends every session, admins can send a link."""
import re
import statistics
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from app.auth import recovery
from app.auth.roles import Role
from app.auth.service import update_user
from app.extensions import db
from app.mail.delivery import drain
from app.models import OutboxMessage, utcnow
from tests import factories
from tests.api_helpers import bearer, snapshot
from tests.mail.smtp import SmtpServer, mail_app
from tests.web_helpers import element_text, field_error, flashes, html, login

NEW_PASSWORD = "a-brand-new-secret"
LINK_SENT = ("info", "If an account matches, we sent a link to its e-mail address. It works once, within the "
                     "hour. No mail? Check the spelling, or ask an administrator.")


def reset_mails() -> list[OutboxMessage]:
    """Every reset mail in the outbox, oldest first, as committed."""
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.event == "password_reset")
                                   .order_by(OutboxMessage.id)))


def link_in(text: str) -> str:
    """The path of the reset link a mail body carries."""
    return urlsplit(re.search(r"https?://\S+/reset/[\w.-]+", text).group(0)).path


def ask_for_link(client, login_name: str):
    """POST the /forgot form; the response."""
    return client.post("/forgot", data={"login": login_name})


def choose(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    """POST the reset form behind a link; the response."""
    return client.post(path, data={"new_password": password, "confirm": password if confirm is None else confirm})


def test_the_login_page_offers_a_way_back(client):
    """'Forgot your password?' on the login page leads to the form."""
    page = html(client.get("/login"))
    assert '<a href="/forgot">Forgot your password?</a>' in page
    assert 'name="login"' in html(client.get("/forgot"))


@pytest.mark.smtp
def test_a_link_by_mail_lets_the_owner_back_in(app, people):
    """Forgot -> the mail as a real SMTP server receives it -> the link -> a new password -> log in."""
    smtp = SmtpServer()
    smtp.start()
    try:
        with mail_app(app, smtp.port) as mailing:
            client = mailing.test_client()
            response = ask_for_link(client, "reporter")
            assert response.status_code == 302 and response.headers["Location"] == "/login"
            assert drain().unreachable is None
            (received,) = smtp.inbox.wait_for(1)
    finally:
        smtp.stop()
    assert received.rcpt_tos == ("reporter@example.test",)
    assert received.mail["Subject"] == "Reset your password"
    path = link_in(received.text)
    assert f'href="http://portal.test{path}"' in received.html
    assert "for your account reporter" in received.text

    form = client.get(path)
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    assert "For the account <strong>reporter</strong>" in html(form)
    done = choose(client, path)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    login(client, "reporter", NEW_PASSWORD)
    client.post("/logout")
    login(client, "reporter", factories.PASSWORD, expect=200)


def test_the_same_answer_whoever_is_asked_for(app, client, people):
    """Known, unknown and deactivated accounts, by name or address: one redirect, one message; mail
    goes only to the active account that exists."""
    app.config["RATELIMIT_FORGOT"] = "100 per minute"  # the limit has a test of its own
    factories.make_user(Role.REPORTER, username="gone", active=False)
    answers = []
    for name in ("reporter", "nobody-here", "gone", "REPORTER@example.test", "nobody@example.test",
                 "gone@example.test", "x" * 254):
        response = ask_for_link(client, name)
        answers.append((response.status_code, response.headers["Location"],
                        tuple(flashes(html(client.get("/login"))))))
    assert set(answers) == {(302, "/login", (LINK_SENT,))}
    assert [mail.recipient for mail in reset_mails()] == ["reporter@example.test"]


def test_forgot_takes_as_long_for_every_login(make_app):
    """An account that gets a mail (a write) answers no slower than one that does not exist or is
    deactivated: every answer waits PASSWORD_RESET_ANSWER_SECONDS at least (medians within 25 %)."""
    floor = 0.05
    app = make_app(RATELIMIT_ENABLED=False, PASSWORD_RESET_MAIL_INTERVAL_SECONDS=0,
                   PASSWORD_RESET_ANSWER_SECONDS=floor)
    with app.app_context():
        factories.make_user(Role.REPORTER, username="known")
        factories.make_user(Role.REPORTER, username="gone", active=False)
    client = app.test_client()
    logins = ("known", "unknown", "gone")
    took: dict[str, list[float]] = {name: [] for name in logins}
    for _ in range(30):
        for name in logins:  # interleaved, so a busy moment of the machine hits all three alike
            started = time.perf_counter()
            assert ask_for_link(client, name).status_code == 302
            took[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(times) for name, times in took.items()}
    assert min(min(times) for times in took.values()) >= floor
    assert max(medians.values()) <= 1.25 * min(medians.values()), medians
    with app.app_context():
        assert len(reset_mails()) == 30  # the known account really was mailed every time


def test_reset_mails_to_one_address_are_paced(app, people):
    """One mail per address per PASSWORD_RESET_MAIL_INTERVAL_SECONDS, by name or address alike."""
    now = utcnow()
    recovery.request_reset(login="reporter", now=now)
    recovery.request_reset(login="reporter@example.test", now=now + timedelta(minutes=1))
    recovery.request_reset(login="reporter", now=now + timedelta(minutes=4, seconds=59))
    assert len(reset_mails()) == 1
    recovery.request_reset(login="reporter", now=now + timedelta(minutes=5, seconds=1))
    recovery.request_reset(login="tech", now=now + timedelta(minutes=5, seconds=1))
    assert [mail.recipient for mail in reset_mails()] == ["reporter@example.test"] * 2 + ["tech@example.test"]


def test_the_forgot_form_is_rate_limited(make_app):
    """Past RATELIMIT_FORGOT the form answers 429 and mails nothing."""
    app = make_app(RATELIMIT_FORGOT="2 per minute", PASSWORD_RESET_MAIL_INTERVAL_SECONDS=0)
    with app.app_context():
        factories.make_user(Role.REPORTER, username="someone")
        client = app.test_client()
        codes = [ask_for_link(client, "someone").status_code for _ in range(3)]
        assert codes == [302, 302, 429]
        assert len(reset_mails()) == 2


def test_a_link_works_once(client, people):
    """After a reset the same link is refused with a clear message and changes nothing."""
    recovery.request_reset(login="tech")
    path = link_in(reset_mails()[0].body_text)
    assert choose(client, path).status_code == 302
    before = snapshot()
    for response in (client.get(path), choose(client, path, "yet-another-one")):
        assert response.status_code == 400
        assert "already used" in element_text(html(response), "reset-refused")
    assert snapshot() == before
    login(client, "tech", NEW_PASSWORD)


def test_a_link_dies_when_the_password_changes_another_way(client, people):
    """Changing the password on the account page also ends every link mailed before."""
    recovery.request_reset(login="tech")
    path = link_in(reset_mails()[0].body_text)
    login(client, "tech")
    assert client.post("/ui/account/password", data={
        "password-current_password": factories.PASSWORD, "password-new_password": "changed-myself",
        "password-confirm": "changed-myself"}).status_code == 302
    assert client.get(path).status_code == 400


def test_a_link_lasts_an_hour(app, people):
    """Good for PASSWORD_RESET_MAX_AGE_SECONDS after it was signed, refused after."""
    recovery.request_reset(login="tech")
    token = link_in(reset_mails()[0].body_text).removeprefix("/reset/")
    assert recovery.account_for_link(token, now=utcnow() + timedelta(minutes=59)).id == people["tech"].id
    with pytest.raises(recovery.ResetLinkRefused, match="expired"):
        recovery.account_for_link(token, now=utcnow() + timedelta(minutes=61))
    with pytest.raises(recovery.ResetLinkRefused, match="expired"):
        recovery.reset_password(token=token, new_password=NEW_PASSWORD, now=utcnow() + timedelta(minutes=61))


def test_an_expired_link_changes_nothing(app, client, people):
    """The page says the link expired; the form behind it changes nothing."""
    recovery.request_reset(login="tech")
    token = link_in(reset_mails()[0].body_text).removeprefix("/reset/")

    class TwoHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 7200

    # The same payload, signed as the app signs it, two hours ago.
    signing = {"secret_key": app.config["SECRET_KEY"], "salt": recovery.SALT}
    payload = URLSafeTimedSerializer(**signing).loads(token)
    old = URLSafeTimedSerializer(**signing, signer=TwoHoursAgo).dumps(payload)
    before = snapshot()
    for response in (client.get(f"/reset/{old}"), choose(client, f"/reset/{old}")):
        assert response.status_code == 400
        assert "expired" in element_text(html(response), "reset-refused")
    assert snapshot() == before


@pytest.mark.parametrize("token", ["not-a-link", "a" * 5000, "WzEsIngiXQ.aw9_xA.forged", "١٢٣", "%00", "..."])
def test_a_forged_link_is_refused(client, people, token):
    """Garbage, forgeries and hostile strings: 400 with the reason, nothing changed, never a 500."""
    before = snapshot()
    for response in (client.get(f"/reset/{token}"), choose(client, f"/reset/{token}")):
        assert response.status_code == 400
        assert "not valid" in element_text(html(response), "reset-refused")
    assert snapshot() == before


def test_a_link_for_another_secret_key_is_refused(app, client, people):
    """A link signed with another key (another deployment, an old key) is not valid here."""
    foreign = URLSafeTimedSerializer("another-secret", salt=recovery.SALT).dumps([people["tech"].id, "x" * 32])
    assert client.get(f"/reset/{foreign}").status_code == 400


def test_the_new_password_is_checked_and_the_link_survives_a_mistake(client, people):
    """Too short or not repeated: the error by its field (422), the link still works afterwards."""
    recovery.request_reset(login="tech")
    path = link_in(reset_mails()[0].body_text)
    short = choose(client, path, "short")
    assert short.status_code == 422
    assert field_error(html(short), "new_password") == "Must be at least 8 characters."
    differ = choose(client, path, NEW_PASSWORD, "something-else")
    assert differ.status_code == 422
    assert field_error(html(differ), "confirm") == "The passwords differ."
    assert choose(client, path).status_code == 302


def test_a_reset_ends_every_other_session(make_app):
    """A browser signed in before the reset is signed out by it (no app context is held between
    requests here, so each request loads its user afresh)."""
    app = make_app()
    with app.app_context():
        token = bearer(factories.make_user(Role.TECHNICIAN, username="tech"))
    elsewhere, resetting = app.test_client(), app.test_client()
    login(elsewhere, "tech")
    assert elsewhere.get("/ui/account").status_code == 200
    assert elsewhere.get("/me", headers=token).status_code == 200
    ask_for_link(resetting, "tech")
    with app.app_context():
        path = link_in(reset_mails()[0].body_text)
    assert choose(resetting, path).status_code == 302
    assert elsewhere.get("/ui/account").headers["Location"].startswith("/login")
    # A token minted with the old password (perhaps by whoever knew it) ends with it.
    assert elsewhere.get("/me", headers=token).status_code == 401
    assert ("success", "Your password was changed, and every session of your account was logged out. "
            "Log in with the new password.") in flashes(html(resetting.get("/login")))


def test_a_deactivated_account_gets_no_link_and_old_links_die(client, people):
    """Deactivating the account ends its links too."""
    recovery.request_reset(login="tech")
    path = link_in(reset_mails()[0].body_text)
    update_user(user=people["tech"], active=False)
    assert client.get(path).status_code == 400
    recovery.request_reset(login="tech", now=utcnow() + timedelta(hours=1))
    assert len(reset_mails()) == 1


def test_an_admin_sends_a_reset_link(app, client, people):
    """The users page's button mails the user a link that works; the mail says who sent it."""
    login(client, "admin")
    page = html(client.get("/ui/users/"))
    assert f'action="/ui/users/{people["tech"].id}/reset-link"' in page
    response = client.post(f"/ui/users/{people['tech'].id}/reset-link", follow_redirects=True)
    assert ("success", "A password reset link is on its way to tech (tech@example.test).") in flashes(html(response))
    (mail,) = reset_mails()
    assert mail.recipient == "tech@example.test" and mail.incident_id is None
    assert "Admin, an administrator of the incident portal, sent you this link" in mail.body_text
    owner = app.test_client()
    assert choose(owner, link_in(mail.body_text)).status_code == 302
    login(owner, "tech", NEW_PASSWORD)


def test_an_admin_cannot_send_a_link_to_a_deactivated_account(client, people):
    """Refused with a reason; no mail; and the button is not offered."""
    gone = factories.make_user(Role.REPORTER, username="gone", active=False)
    login(client, "admin")
    assert f"/ui/users/{gone.id}/reset-link" not in html(client.get("/ui/users/"))
    response = client.post(f"/ui/users/{gone.id}/reset-link", follow_redirects=True)
    assert ("danger", "gone is deactivated; reactivate the account first.") in flashes(html(response))
    assert reset_mails() == []
