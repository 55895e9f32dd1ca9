"""Every page of the portal, as each role that can see it: the list the accessibility (axe-core) and
phone-width checks walk (tests/browser/test_accessibility.py, tests/browser/test_phone.py).

The list is checked against the app's URL map (`unlisted_routes`): a GET route that answers HTML and
is neither visited here nor excluded with a reason in EXCLUDED fails the suite, so a page added later
is checked from its first commit.

A visit is a path template filled from the `Portal` the tests build (its own seeded server with a
webhook endpoint, a reset link and a two-factor account), the account it is seen as, the status the
page answers, and, for a page that only exists after an action (the second sign-in step, a form
sent back with errors), the steps that lead there."""
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from app.auth import recovery, two_factor
from app.extensions import db
from app.models import Incident, OutboxMessage, User
from app.webhooks import endpoints
from tests.browser.live import PASSWORD, LiveServer, seeded_app

ADMIN, TECHNICIAN, REPORTER = "admin1", "tech1", "reporter1"
TWO_FACTOR_USER = "tech3"  # signs in with a code on this portal: the second step is a page too
OWN_INCIDENT = "VPN drops every 10 minutes for remote staff"  # reporter1's, open, nothing done yet
BUSY_INCIDENT = "Payroll export job fails with a timeout"  # assigned, comments, an internal note, a watcher
RESOLVED_INCIDENT = "Printer on floor 3 shows offline"  # resolved: a bulk close takes it
WEBHOOK_URL = "https://hooks.example.com/accessibility-check"

# GET routes that answer no HTML page (or none of their own), each with why it is not visited.
EXCLUDED: dict[str, str] = {
    "static": "files (CSS, JS, images), not pages",
    "bootstrap.static": "Bootstrap's own files served by Bootstrap-Flask, not pages",
    "web.download_attachment": "the attached file itself, sent as a download",
    "web.preview_attachment": "the attached image itself (sandboxed), shown inside the incident page",
    "web.export_incidents": "a CSV file",
    "web.reports_summary_csv": "a CSV file",
    "web.reports_daily_csv": "a CSV file",
    "web.incident_live": "JSON that js/live.js polls for the incident page (which is visited)",
}
# The JSON API answers JSON (or problem+json): every route of the `api` blueprint but these pages.
API_HTML_ENDPOINTS = {"api.docs"}


@dataclass(frozen=True)
class Visit:
    """One page as one account sees it. `path` is a template filled with `Portal.ids`; `steps` run
    after opening it, to reach a page that only an action shows."""

    name: str
    path: str
    user: str | None = None
    status: int | None = 200
    steps: Callable[[Page, "Portal"], None] | None = field(default=None, compare=False)
    dark: bool = False  # checked in dark mode too: the pages people spend the day on, and one of each kind
    lands: str | None = None  # where the steps end up, when that is another route (checked)

    def url(self, portal: "Portal") -> str:
        """The absolute address on `portal`."""
        return portal.url + self.path.format(**portal.ids)

    def __str__(self) -> str:
        return self.name


def _wrong_password(page: Page, portal: "Portal") -> None:
    """The login form sent back: an account that does not exist (no real account gets throttled)."""
    page.get_by_label("Username").fill("nobody-here")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("form .invalid-feedback, .alert").first).to_be_visible()


def _second_factor(page: Page, portal: "Portal") -> None:
    """The password of an account with two-factor sign-in on: the page that asks for the code."""
    page.get_by_label("Username").fill(TWO_FACTOR_USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/2fa"))


def _empty_form_sent(page: Page, portal: "Portal") -> None:
    """The new-incident form sent empty: the same page with every error shown."""
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator(".invalid-feedback").first).to_be_visible()


def _webhook_added(page: Page, portal: "Portal") -> None:
    """A new endpoint added: the page that shows its secret once."""
    form = page.locator("form").filter(has=page.get_by_role("button", name="Add endpoint"))
    form.get_by_label("URL").fill(f"{WEBHOOK_URL}/{page.evaluate('Date.now()')}")
    form.get_by_label("incident.created", exact=True).check()
    form.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("heading", name="Webhook added", level=1)).to_be_visible()


def _webhook_refused(page: Page, portal: "Portal") -> None:
    """The new-endpoint form sent empty: the list again, with the form's errors."""
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".invalid-feedback").first).to_be_visible()


def _token_created(page: Page, portal: "Portal") -> None:
    """A new API token: the account page showing it once, with its Copy button."""
    page.get_by_label("Token name").fill("accessibility check")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_be_visible()


def _two_factor_setup(page: Page, portal: "Portal") -> None:
    """Two-factor setup begun: the account page with the QR code and the key."""
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.locator("#two-factor-secret")).to_be_visible()


def _bulk_closed(page: Page, portal: "Portal") -> None:
    """Two rows ticked on the list and closed in bulk: the result page, one done and one refused."""
    for title in (RESOLVED_INCIDENT, OWN_INCIDENT):
        page.get_by_role("row").filter(has=page.get_by_role("link", name=title, exact=True)) \
            .locator("input.bulk-select").check()
    bar = page.locator("#bulk-bar")
    bar.get_by_label("Action").select_option("close")
    bar.get_by_role("button", name="Apply to 2").click()
    expect(page.locator("#bulk-summary")).to_have_text(re.compile(r"^\d+ done, \d+ refused\.$"))


VISITS: list[Visit] = [
    # Anyone
    Visit("login", "/login", dark=True),
    Visit("login-refused", "/login", steps=_wrong_password, status=None),
    Visit("login-second-factor", "/login", steps=_second_factor, status=None, lands="/login/2fa"),
    Visit("forgot", "/forgot"),
    Visit("reset", "/reset/{reset_token}"),
    Visit("reset-refused", "/reset/not-a-real-link", status=400),
    Visit("docs-anonymous", "/docs"),
    Visit("not-found-anonymous", "/no-such-page", status=404),
    # A reporter
    Visit("dashboard-reporter", "/", REPORTER, dark=True),
    Visit("list-reporter", "/ui/incidents/", REPORTER, dark=True),
    Visit("new-reporter", "/ui/incidents/new", REPORTER, dark=True),
    Visit("new-errors-reporter", "/ui/incidents/new", REPORTER, steps=_empty_form_sent, status=None),
    Visit("detail-reporter", "/ui/incidents/{own_incident}", REPORTER, dark=True),
    Visit("edit-reporter", "/ui/incidents/{own_incident}/edit", REPORTER),
    Visit("account-reporter", "/ui/account", REPORTER),
    Visit("forbidden-reporter", "/ui/users/", REPORTER, status=403),
    Visit("not-found-reporter", "/ui/incidents/999999", REPORTER, status=404, dark=True),
    # A technician
    Visit("dashboard-technician", "/", TECHNICIAN, dark=True),
    Visit("list-technician", "/ui/incidents/", TECHNICIAN, dark=True),
    Visit("list-filtered-technician", "/ui/incidents/?status=open&status=assigned&q=printer", TECHNICIAN),
    Visit("detail-technician", "/ui/incidents/{busy_incident}", TECHNICIAN, dark=True),
    Visit("new-technician", "/ui/incidents/new", TECHNICIAN),
    Visit("reports-technician", "/ui/reports", TECHNICIAN),
    Visit("account-token-technician", "/ui/account", "tech2", steps=_token_created, status=None, dark=True),
    Visit("account-technician", "/ui/account", TECHNICIAN),
    # An admin
    Visit("dashboard-admin", "/", ADMIN, dark=True),
    Visit("list-admin", "/ui/incidents/", ADMIN, dark=True),
    Visit("bulk-result-admin", "/ui/incidents/", ADMIN, steps=_bulk_closed, status=None, lands="/ui/incidents/bulk",
          dark=True),
    Visit("detail-admin", "/ui/incidents/{busy_incident}", ADMIN, dark=True),
    Visit("detail-open-admin", "/ui/incidents/{own_incident}", ADMIN),
    Visit("edit-admin", "/ui/incidents/{busy_incident}/edit", ADMIN),
    Visit("new-admin", "/ui/incidents/new", ADMIN),
    Visit("account-admin", "/ui/account", ADMIN, dark=True),
    Visit("account-two-factor-admin", "/ui/account", "admin2", steps=_two_factor_setup, status=None),
    Visit("reports-admin", "/ui/reports", ADMIN, dark=True),
    Visit("sla-admin", "/ui/admin/sla", ADMIN, dark=True),
    Visit("users-admin", "/ui/users/", ADMIN, dark=True),
    Visit("outbox-admin", "/ui/outbox/", ADMIN, dark=True),
    Visit("webhooks-admin", "/ui/admin/webhooks/", ADMIN, dark=True),
    Visit("webhook-added-admin", "/ui/admin/webhooks/", ADMIN, steps=_webhook_added, status=None, dark=True),
    Visit("webhook-refused-admin", "/ui/admin/webhooks/", ADMIN, steps=_webhook_refused, status=None),
    Visit("webhook-edit-admin", "/ui/admin/webhooks/{webhook}/edit", ADMIN),
    Visit("webhook-delete-admin", "/ui/admin/webhooks/{webhook}/delete", ADMIN),
    Visit("webhook-rotate-admin", "/ui/admin/webhooks/{webhook}/rotate", ADMIN),
    Visit("webhook-deliveries-admin", "/ui/admin/webhooks/{webhook}/deliveries", ADMIN, dark=True),
    Visit("docs-admin", "/docs", ADMIN),
]
DARK_VISITS = [visit for visit in VISITS if visit.dark]

def params(visits: list[Visit]) -> list:
    """The visits as pytest parameters named after them."""
    return [pytest.param(visit, id=visit.name) for visit in visits]
# Any value fills a template for matching a path against the URL map.
SAMPLE_IDS = {"reset_token": "token", "own_incident": 1, "busy_incident": 2, "webhook": 3}


def endpoint_of(app: Flask, path: str) -> str | None:
    """The endpoint a GET of `path` reaches, or None for no route (an error page)."""
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(urlsplit(path).path, method="GET")
    except (NotFound, MethodNotAllowed):
        return None
    return endpoint


def html_get_endpoints(app: Flask) -> set[str]:
    """Every endpoint a browser can GET that may answer an HTML page: all but the JSON API's."""
    found = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        if rule.endpoint.startswith("api.") and rule.endpoint not in API_HTML_ENDPOINTS:
            continue
        found.add(rule.endpoint)
    return found


def unlisted_routes(app: Flask) -> list[str]:
    """The HTML GET routes no visit reaches and EXCLUDED does not explain (should be none)."""
    visited = {endpoint_of(app, path.format(**SAMPLE_IDS)) for visit in VISITS for path in (visit.path, visit.lands)
               if path is not None}
    rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    return sorted(f"{endpoint} ({rules[endpoint]})" for endpoint in html_get_endpoints(app) - visited - set(EXCLUDED))


@dataclass
class Portal:
    """A seeded portal on a free port with what the visits need: `ids` fills their paths."""

    url: str
    ids: dict
    _sessions: dict = field(default_factory=dict)

    def sign_in(self, browser: Browser, page: Page, username: str | None) -> None:
        """Give `page` the cookies of `username` signed in through the login form (once per account;
        the form itself is a visit of its own)."""
        if username is None:
            return
        if username not in self._sessions:
            context = browser.new_context(base_url=self.url)
            login = context.new_page()
            login.goto("/login")
            login.get_by_label("Username").fill(username)
            login.get_by_label("Password").fill(PASSWORD)
            login.get_by_role("button", name="Log in").click()
            expect(login.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
            self._sessions[username] = context.cookies()
            context.close()
        page.context.add_cookies(self._sessions[username])

    def open(self, browser: Browser, page: Page, visit: Visit) -> None:
        """Open the visit's page (and take its steps), checking it is the page meant."""
        self.sign_in(browser, page, visit.user)
        response = page.goto(visit.url(self))
        if visit.status is not None:
            assert response is not None and response.status == visit.status, \
                f"{visit.name}: {visit.url(self)} answered {response.status if response else None}"
            # No redirect away (to the login form, or from an edit form refused)
            assert urlsplit(page.url).path == urlsplit(visit.url(self)).path, f"{visit.name}: landed on {page.url}"
        if visit.steps is not None:
            visit.steps(page, self)
        if visit.lands is not None:
            assert urlsplit(page.url).path == visit.lands.format(**self.ids), f"{visit.name}: landed on {page.url}"
        page.wait_for_load_state("load")


def _prepare(app: Flask) -> dict:
    """What the visits need beyond the seed: a webhook endpoint, a reset link, a two-factor account."""
    with app.app_context():
        users = {user.username: user for user in db.session.scalars(select(User))}
        ids = {title_key: db.session.scalar(select(Incident.id).where(Incident.title == title))
               for title_key, title in (("own_incident", OWN_INCIDENT), ("busy_incident", BUSY_INCIDENT))}
        endpoint, _secret = endpoints.create_endpoint(
            actor=users[ADMIN], url=WEBHOOK_URL, events=["incident.created"], description="Accessibility check")
        ids["webhook"] = endpoint.id
        recovery.request_reset(login="reporter2")
        body = db.session.scalar(select(OutboxMessage.body_text)
                                 .where(OutboxMessage.recipient == "reporter2@example.com")
                                 .order_by(OutboxMessage.id.desc()))
        ids["reset_token"] = re.search(r"/reset/([^\s/]+)", body).group(1)
        secret = two_factor.begin_setup(user=users[TWO_FACTOR_USER])
        two_factor.confirm_setup(user=users[TWO_FACTOR_USER], code=pyotp.TOTP(secret).now(), address=None)
        db.engine.dispose()
    return ids


def serve(directory: Path):
    """A context manager: a fresh seeded portal in `directory`, prepared for the visits."""
    app = seeded_app(directory / "portal.db")
    ids = _prepare(app)

    class _Serving:
        def __enter__(self) -> Portal:
            self._server = LiveServer(app).__enter__()
            return Portal(url=self._server.url, ids=ids)

        def __exit__(self, *exc) -> None:
            self._server.__exit__(*exc)

    return _Serving()
