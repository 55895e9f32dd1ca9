"""Every page for every role: status code, key content, navigation by role, error pages in the
site's layout, and markup the Content-Security-Policy allows (no inline script or style)."""
import re

import pytest

from app.incidents.enums import Status
from tests import factories
from tests.web_helpers import html, incident_in, login

ROLES = ["admin", "tech", "reporter"]
# page -> {role: (status, text the page must contain)}; {own} is the reporter's open incident,
# {other} an incident reported by someone else.
PAGES = {
    "/": {"admin": (200, "Unassigned — to triage"), "tech": (200, "My queue"), "reporter": (200, "Reported by me")},
    "/ui/incidents/": {role: (200, "Apply filters") for role in ROLES},
    "/ui/incidents/new": {role: (200, "Report an incident") for role in ROLES},
    "/ui/incidents/{own}": {role: (200, "Own printer is down") for role in ROLES},
    "/ui/incidents/{other}": {"admin": (200, "Someone else"), "tech": (200, "Someone else"),
                              "reporter": (404, "Not Found")},
    "/ui/incidents/{own}/edit": {"admin": (200, "Save changes"), "tech": (302, ""), "reporter": (200, "Save changes")},
    "/ui/incidents/999999": {role: (404, "Not Found") for role in ROLES},
    "/ui/users/": {"admin": (200, "Create a user"), "tech": (403, "Forbidden"), "reporter": (403, "Forbidden")},
    "/ui/account": {role: (200, "API tokens") for role in ROLES},
}
CASES = [(path, role, *expected) for path, by_role in PAGES.items() for role, expected in by_role.items()]


@pytest.fixture
def scene(people):
    """The reporter's open incident and one reported by somebody else."""
    own = factories.make_incident(people["reporter"], title="Own printer is down")
    other = factories.make_incident(people["reporter_other"], title="Someone else's laptop")
    return {"own": own.id, "other": other.id}


@pytest.mark.parametrize(("path", "role", "status", "text"), CASES)
def test_every_page_for_every_role(client, people, scene, path, role, status, text):
    """Each role gets the page, a 403/404 in the site's layout, or a redirect."""
    login(client, people[role])
    response = client.get(path.format(**scene))
    assert response.status_code == status
    page = html(response)
    assert text in page
    if status in (403, 404):
        assert 'aria-label="Main"' in page and "Back to the dashboard" in page and "Traceback" not in page


@pytest.mark.parametrize("path", sorted({path for path in PAGES}))
def test_anonymous_visitors_are_sent_to_log_in(client, scene, path):
    """No page shows anything before login; the login keeps where they were going."""
    response = client.get(path.format(**scene))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(("role", "present", "absent"), [
    ("admin", ["/ui/users/", "/ui/outbox/", "/ui/account", "/ui/incidents/new"], []),
    ("tech", ["/ui/account", "/ui/incidents/"], ["/ui/users/", "/ui/outbox/"]),
    ("reporter", ["/ui/account", "/ui/incidents/new"], ["/ui/users/", "/ui/outbox/"]),
])
def test_the_navigation_follows_the_role(client, people, role, present, absent):
    """Admins get the Users and Outbox links; nobody else does."""
    login(client, people[role])
    nav = html(client.get("/")).split("</nav>")[0]
    for href in present:
        assert f'href="{href}"' in nav
    for href in absent:
        assert f'href="{href}"' not in nav


def test_the_current_page_is_marked_in_the_navigation(client, people):
    """aria-current tells screen readers where they are."""
    login(client, people["reporter"])
    nav = html(client.get("/ui/account")).split("</nav>")[0]
    assert re.search(r'href="/ui/account"\s*aria-current="page"', nav)


def test_the_dashboard_counts_statuses_in_lifecycle_order(client, people):
    """Open, assigned, in progress, on hold, resolved, closed: the order work flows, each with its count."""
    for status in [Status.CLOSED, Status.OPEN, Status.OPEN, Status.RESOLVED, Status.ON_HOLD]:
        incident_in(status, people)
    login(client, people["admin"])
    page = html(client.get("/"))
    section = page.split('id="by-status"')[1].split("</section>")[0]
    counts = re.findall(r'fs-3 fw-bold">(\d+)</span>\s*<span class="d-block text-body-secondary">([\w ]+)<', section)
    assert counts == [("2", "Open"), ("0", "Assigned"), ("0", "In progress"), ("1", "On hold"), ("1", "Resolved"),
                      ("1", "Closed")]
    assert 'href="/ui/incidents/?status=in_progress"' in section


def test_the_dashboard_shows_each_role_its_own_work(client, people):
    """A technician's queue holds their incidents; a reporter sees only their own."""
    mine = incident_in(Status.IN_PROGRESS, people, title="Queue item for tech")
    factories.make_incident(people["reporter_other"], title="Not the reporter's")
    login(client, people["tech"])
    queue = html(client.get("/")).split("<main", 1)[1].split("My queue", 1)[1].split("</section>")[0]
    assert mine.title in queue
    client.post("/logout")
    login(client, people["reporter"])
    page = html(client.get("/"))
    assert mine.title in page and "Not the reporter's" not in page


def test_resolved_incidents_ask_their_reporter_to_close_them(client, people):
    """The 'please confirm' panel appears only when there is something to confirm."""
    login(client, people["reporter"])
    assert "please confirm" not in html(client.get("/"))
    incident = incident_in(Status.RESOLVED, people, title="Fixed, awaiting confirmation")
    page = html(client.get("/"))
    assert "please confirm" in page and incident.title in page


def test_an_unexpected_error_is_a_page_in_the_layout_without_a_traceback(make_app):
    """A 500 says sorry in the site's layout and shows nothing of the code."""
    app = make_app()

    @app.get("/ui/boom")
    def boom():
        raise RuntimeError("secret internals")

    with app.app_context():
        factories.make_user(username="erroruser")
    client = app.test_client()
    login(client, "erroruser")
    response = client.get("/ui/boom")
    assert response.status_code == 500
    page = html(response)
    assert "Internal Server Error" in page and 'aria-label="Main"' in page
    assert "secret internals" not in page and "Traceback" not in page


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"(?:href|src)\s*=\s*\"(?:https?:)?//", re.I), "off-site asset or link"),
]


@pytest.mark.parametrize("role", ROLES)
def test_pages_carry_nothing_the_content_security_policy_would_block(client, people, scene, role):
    """script-src 'self' and style-src 'self': no inline code or styles, no CDN, on any page."""
    incident_in(Status.RESOLVED, people)
    login(client, people[role])
    paths = ["/", "/ui/incidents/", "/ui/incidents/new", f"/ui/incidents/{scene['own']}",
             f"/ui/incidents/{scene['own']}/edit", "/ui/account", "/ui/users/", "/ui/incidents/1/nope"]
    for path in paths:
        response = client.get(path)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        for pattern, what in INLINE:
            assert not pattern.search(html(response)), f"{what} on {path}"


def test_the_login_page_and_the_assets_are_served_locally(client):
    """Bootstrap's CSS and JS, and the portal's own, come from this server."""
    page = html(client.get("/login"))
    assets = re.findall(r'(?:href|src)="(/[^"]+\.(?:css|js|svg))"', page)
    assert any("bootstrap" in a and a.endswith(".css") for a in assets)
    assert any("bootstrap" in a and a.endswith(".js") for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


CONTROL = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.I)


@pytest.mark.parametrize("role", ROLES)
def test_every_control_has_a_label_and_ids_are_unique(client, people, scene, role):
    """Screen readers name every field; duplicate ids would tie a label to the wrong field."""
    incident_in(Status.IN_PROGRESS, people)
    incident_in(Status.RESOLVED, people)
    login(client, people[role])
    paths = ["/", "/ui/incidents/", "/ui/incidents/new", "/ui/incidents/1", "/ui/incidents/2", "/ui/incidents/3",
             f"/ui/incidents/{scene['own']}/edit", "/ui/account", "/ui/users/", "/login"]
    for path in paths:
        page = html(client.get(path))
        ids = re.findall(r'\bid="([^"]+)"', page)
        assert len(ids) == len(set(ids)), f"duplicate ids on {path}"
        labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', page))
        for tag, attributes in CONTROL.findall(page):
            if re.search(r'type="(hidden|submit)"', attributes):
                continue
            if re.search(r'\baria-label="[^"]+"', attributes):
                continue  # named for screen readers without a visible label (a row's checkbox)
            control_id = re.search(r'\bid="([^"]+)"', attributes)
            assert control_id and control_id.group(1) in labelled, f"unlabelled <{tag}{attributes}> on {path}"
