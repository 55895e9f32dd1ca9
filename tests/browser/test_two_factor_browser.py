"""Two-factor sign-in in a real browser: set it up on the account page (the QR code shown, the key
read off the page as a person would type it into their app), log out, log in with the password and
then a code computed here from that key with pyotp."""
import re
import time

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.browser.live import PASSWORD, LiveServer, seeded_app
from tests.browser.story import flashes

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def portal(tmp_path_factory) -> str:
    """A portal of its own (this test changes how an account signs in), CSRF on, on a free port."""
    app = seeded_app(tmp_path_factory.mktemp("two-factor") / "portal.db")
    with LiveServer(app) as server:
        yield server.url


def log_in_with_password(page: Page, url: str) -> None:
    """The login form, filled and sent, as tech1."""
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill("tech1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_set_up_two_factor_then_log_in_with_a_code(page: Page, portal):
    """Account page -> set up -> QR code drawn (an image that loads under the CSP) and the key ->
    the app's code -> ten recovery codes; log out; password, then a code: signed in."""
    log_in_with_password(page, portal)
    expect(flashes(page)).to_contain_text("Welcome, Tara Tech.")
    page.goto(f"{portal}/ui/account")
    page.get_by_role("button", name="Set up two-factor sign-in").click()

    qr = page.get_by_role("img", name="QR code to add the Incident portal to an authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("image => image.complete && image.naturalWidth > 0")
    secret = page.locator("#two-factor-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    totp = pyotp.TOTP(secret)

    page.get_by_label("Code from your app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(flashes(page)).to_contain_text("Two-factor sign-in is on.")
    expect(page.locator("#recovery-codes li")).to_have_count(10)

    page.get_by_role("button", name="Log out").click()
    expect(flashes(page)).to_contain_text("You have been logged out.")
    log_in_with_password(page, portal)
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor sign-in")
    expect(flashes(page)).to_have_count(0)  # the password alone said no welcome
    # The next time step's code: the current one was spent turning it on.
    page.get_by_label("Code from your app, or a recovery code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(flashes(page)).to_contain_text("Welcome, Tara Tech.")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
