"""A forgotten password in a real browser: the login page's link, the form, the mailed link (read
from the outbox, as the sender would send it), a new password, and logging in with it."""
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import OutboxMessage
from tests.browser.live import LiveServer, seeded_app
from tests.browser.story import flashes

pytestmark = pytest.mark.browser

NEW_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """A portal of its own (this test changes a password), CSRF on, served on a free port."""
    app = seeded_app(tmp_path_factory.mktemp("reset") / "portal.db")
    with LiveServer(app) as server:
        yield app, server.url


def mailed_link(app) -> str:
    """The reset link in the newest mail of the outbox."""
    with app.app_context():
        body = db.session.scalars(select(OutboxMessage.body_text).order_by(OutboxMessage.id.desc())).first()
        db.session.remove()
    return re.search(r"https?://\S+/reset/[\w.-]+", body).group(0)


def test_forgot_mail_reset_log_in(page: Page, portal):
    """Forgot your password? -> link mailed -> choose a new one -> log in with it (not the old one)."""
    app, url = portal
    page.goto(f"{url}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Username or e-mail address").fill("tech2")
    page.get_by_role("button", name="Send me a link").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(flashes(page)).to_contain_text("If an account matches, we sent a link")

    link = mailed_link(app)
    page.goto(url + link[link.index("/reset/"):])
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(flashes(page)).to_contain_text("Your password was changed")

    page.get_by_label("Username").fill("tech2")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(flashes(page)).to_contain_text("Welcome, Tom Tech.")

    page.goto(url + link[link.index("/reset/"):])
    expect(page.locator("#reset-refused")).to_contain_text("already used")
