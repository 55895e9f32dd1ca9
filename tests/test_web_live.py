"""The incident page's live state (GET /ui/incidents/<id>/live, polled by js/live.js): JSON with
an ETag that moves with every change the viewer may see, 304 while nothing did, 404 for an incident
the user may not see. And the page's hooks for the scripts: the banner's data, the comment box
mark, the keyboard help, the theme script in <head>, the print stylesheet."""
import re

import pytest

from app.incidents import service
from app.incidents.enums import Status
from tests.web_helpers import html, incident_in, login


def live(client, incident, **headers):
    """A poll, in an app context of its own as in production (the test's held one would lend every
    request the same `g`, and so the same signed-in user)."""
    with client.application.app_context():
        return client.get(f"/ui/incidents/{incident.id}/live", headers=headers)


def test_the_state_says_version_last_event_and_who(client, people):
    """The reporter's page after the admin assigned it: version, last event, by whom (not them)."""
    incident = incident_in(Status.ASSIGNED, people)
    login(client, people["reporter"])
    response = live(client, incident)
    assert response.status_code == 200 and response.mimetype == "application/json"
    state = response.get_json()
    assert state == {"reference": incident.reference, "version": incident.version,
                     "last_event_id": state["last_event_id"], "by": people["admin"].name,
                     "by_username": "admin", "by_you": False}
    assert state["last_event_id"] > 0
    assert response.headers["ETag"].startswith('W/"')


def test_the_same_state_again_is_304_with_the_same_tag(client, people):
    incident = incident_in(Status.OPEN, people)
    login(client, people["reporter"])
    tag = live(client, incident).headers["ETag"]
    again = live(client, incident, **{"If-None-Match": tag})
    assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", tag)


@pytest.mark.parametrize("change", ["comment", "edit", "assign", "internal note (staff view)"])
def test_the_tag_moves_with_a_comment_an_edit_and_an_assignment(client, people, change):
    """A comment leaves the version alone, yet the page must hear of it: the last event moves."""
    incident = incident_in(Status.OPEN, people)
    login(client, people["admin"])
    before = live(client, incident)
    if change == "comment":
        service.add_comment(actor=people["tech"], incident=incident, body="Looking at it")
    elif change == "edit":
        service.edit_incident(actor=people["reporter"], incident=incident, details={"title": "New title"})
    elif change == "assign":
        service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech"].id)
    else:
        service.add_comment(actor=people["tech"], incident=incident, body="Staff only", internal=True)
    after = live(client, incident, **{"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    state = after.get_json()
    assert state["last_event_id"] > before.get_json()["last_event_id"]
    if change == "comment":
        assert state["version"] == before.get_json()["version"]
        assert (state["by"], state["by_you"]) == (people["tech"].name, False)
    if change == "assign":
        assert state["by_you"] is True  # the admin's own change: the page needs no banner


def test_a_reporter_never_hears_of_an_internal_note(client, people):
    """Not even that one was written: the reporter's tag and state stay as they were."""
    incident = incident_in(Status.ASSIGNED, people)
    login(client, people["reporter"])
    before = live(client, incident)
    service.add_comment(actor=people["tech"], incident=incident, body="Staff only", internal=True)
    after = live(client, incident, **{"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 304


def test_each_user_has_their_own_tag(client, people, app):
    """`by_you` differs per viewer, so a tag is never another user's."""
    incident = incident_in(Status.OPEN, people)
    login(client, people["reporter"])
    mine = live(client, incident).headers["ETag"]
    other = app.test_client()
    with app.app_context():
        login(other, people["admin"])
    assert live(other, incident, **{"If-None-Match": mine}).status_code == 200


def test_another_reporter_gets_404(client, people):
    incident = incident_in(Status.OPEN, people)
    login(client, people["reporter_other"])
    assert live(client, incident).status_code == 404
    assert live(client, incident, **{"If-None-Match": "*"}).status_code == 404


def test_logged_out_is_sent_to_log_in(client, people):
    incident = incident_in(Status.OPEN, people)
    response = live(client, incident)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_page_carries_what_the_scripts_need(client, people):
    """The banner (a status region) with the state the page was rendered at, live.js, the comment
    box mark for `c`, the print button (hidden until app.js shows it)."""
    incident = incident_in(Status.ASSIGNED, people)
    service.add_comment(actor=people["tech"], incident=incident, body="Hello")
    login(client, people["reporter"])
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    banner = re.search(r'<div id="live-banner"[^>]*>', page).group(0)
    assert 'role="status"' in banner
    assert f'data-live-url="/ui/incidents/{incident.id}/live"' in banner
    assert f'data-version="{incident.version}"' in banner
    state = live(client, incident).get_json()
    assert f'data-last-event-id="{state["last_event_id"]}"' in banner
    assert 'src="/static/js/live.js"' in page
    assert re.search(r"<textarea[^>]*data-comment-box", page)
    assert re.search(r'<button[^>]*data-print hidden>Print</button>', page)


def test_every_page_loads_theme_in_head_and_keys_at_the_end(client, people):
    """theme.js before the stylesheets (no flash of the wrong colours), keys.js and the help dialog."""
    login(client, people["tech"])
    page = html(client.get("/ui/incidents/"))
    head = page.split("</head>")[0]
    assert head.index("js/theme.js") < head.index("bootstrap")
    assert 'src="/static/js/keys.js"' in page.split("</head>")[1]
    dialog = re.search(r'<div class="modal fade" id="keys-help"[^>]*>', page).group(0)
    assert 'aria-labelledby="keys-help-title"' in dialog
    assert 'id="theme-menu" hidden' in page
    assert 'data-list-url="/ui/incidents/"' in page


@pytest.mark.parametrize("path", ["js/theme.js", "js/keys.js", "js/live.js", "js/app.js"])
def test_the_scripts_are_served(client, path):
    response = client.get(f"/static/{path}")
    assert response.status_code == 200 and "javascript" in response.mimetype
    assert b'"use strict"' in response.data


def test_the_stylesheet_has_a_print_view_and_dark_twins(client):
    """@media print hides the navigation, forms and buttons and unclamps long comments; dark mode
    overrides the fixed light tints."""
    css = client.get("/static/css/app.css").get_data(as_text=True)
    printed = css[css.index("@media print"):]
    hidden = printed[:printed.index("display: none !important")]
    for part in ("header", "form", "button", ".btn", "#actions", ".live-banner", "nav[aria-label=\"Breadcrumb\"]"):
        assert part in hidden, part
    assert "max-height: none" in printed
    assert '[data-bs-theme="dark"] .event-internal' in css
    assert "#fff3cd" not in css.split(".event-internal .event-body")[1].split("}")[0]
