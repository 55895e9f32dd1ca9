"""The bulk bar's POST /ui/incidents/bulk and its result page: staff only, CSRF, what was done and what
was refused (with links), hostile input refused whole with a flash, nothing changed."""
import re

import pytest
from flask import render_template
from flask_login import login_user

from app.extensions import db
from app.incidents import service
from app.incidents.enums import Severity, Status
from app.models import Incident
from app.web.listing import parse_list_query
from tests import factories
from tests.api_helpers import snapshot
from tests.web_helpers import csrf_token, flashes, html, incident_in, login

PATH = "/ui/incidents/bulk"


@pytest.fixture
def admin_client(client, people):
    login(client, people["admin"])
    return client


def status_of(incident) -> Status:
    db.session.refresh(incident)
    return incident.status


def test_close_shows_what_was_done_and_what_was_refused_with_links(admin_client, people):
    resolved = incident_in(Status.RESOLVED, people, title="Printer jam")
    still_open = incident_in(Status.OPEN, people, title="VPN down")

    response = admin_client.post(PATH, data={"action": "close", "ids": [str(resolved.id), str(still_open.id)]})

    assert response.status_code == 200
    page = html(response)
    assert "1 done, 1 refused." in page
    done = re.search(r'<table[^>]*id="bulk-done".*?</table>', page, re.S).group(0)
    refused = re.search(r'<table[^>]*id="bulk-refused".*?</table>', page, re.S).group(0)
    assert f'href="/ui/incidents/{resolved.id}"' in done and "Printer jam" in done and "Closed." in done
    assert f'href="/ui/incidents/{still_open.id}"' in refused
    assert f"Cannot close {still_open.reference} while it is open." in refused
    assert (status_of(resolved), status_of(still_open)) == (Status.CLOSED, Status.OPEN)


def test_the_post_needs_the_csrf_token_the_bar_carries(make_app):
    """CSRF on (as in production): with the page's token it works; without one, 400 and nothing closed.
    The requests run outside a held app context: Flask-WTF keeps the token in `g`, which a held context
    would share across requests."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        people = {"admin": factories.make_user("admin"), "tech": factories.make_user("technician"),
                  "reporter": factories.make_user("reporter")}
        first, second = (incident_in(Status.RESOLVED, people).id for _ in range(2))
        admin = people["admin"].username
    client = app.test_client()
    login(client, admin, form={"csrf_token": csrf_token(client)})
    token = csrf_token(client, "/ui/incidents/new")

    done = client.post(PATH, data={"action": "close", "ids": str(first), "csrf_token": token})
    refused = client.post(PATH, data={"action": "close", "ids": str(second)})

    assert done.status_code == 200 and "1 done, 0 refused." in done.text
    assert refused.status_code == 400
    with app.app_context():
        assert [db.session.get(Incident, n).status for n in (first, second)] == [Status.CLOSED, Status.RESOLVED]


def test_reporters_get_403_and_anonymous_users_the_login(client, people):
    own = factories.make_incident(people["reporter"])
    assert client.post(PATH, data={"action": "watch", "ids": str(own.id)}).status_code == 302
    login(client, people["reporter"])
    before = snapshot()
    assert client.post(PATH, data={"action": "watch", "ids": str(own.id)}).status_code == 403
    assert snapshot() == before


XSS = '<script>alert("bulk")</script><img src=x onerror=alert(1)>'


def test_a_hostile_resolution_note_and_title_are_shown_as_text(admin_client, people):
    incident = incident_in(Status.IN_PROGRESS, people, title=f"Title {XSS}")
    response = admin_client.post(PATH, data={"action": "resolve", "ids": str(incident.id),
                                              "resolution_notes": f"Fixed {XSS}"})
    page = html(response)
    assert response.status_code == 200 and "1 done, 0 refused." in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;bulk&#34;)&lt;/script&gt;" in page
    db.session.refresh(incident)
    assert incident.resolution_notes == f"Fixed {XSS}"


@pytest.mark.parametrize(("data", "message"), [
    ({"action": "close", "ids": ["abc"]}, "Incidents: Only incident numbers can be selected."),
    ({"action": "close", "ids": ["-1"]}, "Incidents: Only incident numbers can be selected."),
    ({"action": "close", "ids": ["1e3"]}, "Incidents: Only incident numbers can be selected."),
    ({"action": "close", "ids": ["9" * 40]}, "Incidents: Only incident numbers can be selected."),
    ({"action": "close"}, "Incidents: Select at least one incident, or choose all matching incidents."),
    ({"action": "close", "ids": [str(n) for n in range(1, 502)]}, "Incidents: At most 500 incidents at once."),
    ({"action": "explode", "ids": ["1"]}, "Action: Must be one of"),
    ({"ids": ["1"]}, "Action: Must be one of"),
    ({"action": "resolve", "ids": ["1"], "resolution_notes": " \r\n "}, "Resolution note: Required with action"),
    ({"action": "resolve", "ids": ["1"], "resolution_notes": "x" * 10_001}, "Resolution note: Must be at most"),
    ({"action": "resolve", "ids": ["1"], "resolution_notes": "Fixed\x00"}, "Resolution note: Must not contain control"),
    ({"action": "resolve", "ids": ["1"], "resolution_notes": "Fixed\x1b[31m"}, "Resolution note: Must not contain"),
    ({"action": "assign", "ids": ["1"], "technician_id": "nobody"}, "Technician: Choose someone from the list."),
    ({"action": "assign", "ids": ["1"], "technician_id": "424242"}, "Technician: Must be the id of an active"),
    ({"action": "severity", "ids": ["1"], "severity": "apocalyptic"}, "Severity: Must be one of"),
    ({"action": "close", "scope": "matching", "filter-status": "bogus"}, "Incidents: The list's filters were not"),
    ({"action": "close", "scope": "matching", "filter-sort": "priority"}, "Incidents: The list's filters were not"),
])
def test_a_wrong_form_is_a_flash_back_to_the_list_and_changes_nothing(admin_client, people, data, message):
    incident_in(Status.RESOLVED, people)
    before = snapshot()
    response = admin_client.post(PATH, data={**data, "back": "/ui/incidents/?status=resolved"})
    assert response.status_code == 302 and response.headers["Location"] == "/ui/incidents/?status=resolved"
    assert snapshot() == before
    shown = flashes(html(admin_client.get(response.headers["Location"])))
    assert any(kind == "danger" and text.startswith(message) for kind, text in shown), shown


@pytest.mark.parametrize("back", ["https://evil.example/ui/incidents/", "//evil.example/ui/incidents/",
                                  "/logout", "/ui/incidents/\\evil", "javascript:alert(1)"])
def test_the_way_back_is_only_ever_the_list(admin_client, back):
    response = admin_client.post(PATH, data={"action": "close", "back": back})
    assert response.status_code == 302 and response.headers["Location"] == "/ui/incidents/"


def test_duplicate_ids_are_one_result(admin_client, people):
    resolved = incident_in(Status.RESOLVED, people)
    page = html(admin_client.post(PATH, data={"action": "close", "ids": [str(resolved.id)] * 3}))
    assert "1 done, 0 refused." in page and page.count(f'data-incident-id="{resolved.id}"') == 1


def test_all_matching_sends_the_list_s_filters(admin_client, people):
    """scope=matching acts on what the list's filters match (high severity here), not on ticked rows."""
    high = [factories.make_incident(people["reporter"], severity="high") for _ in range(2)]
    low = factories.make_incident(people["reporter"], severity="low")

    response = admin_client.post(PATH, data={"action": "severity", "severity": "critical", "scope": "matching",
                                              "filter-severity": "high", "ids": str(low.id)})

    assert "2 done, 0 refused." in html(response)
    for incident in high:
        db.session.refresh(incident)
        assert incident.severity == Severity.CRITICAL
    db.session.refresh(low)
    assert low.severity == Severity.LOW


def test_only_the_chosen_action_s_fields_are_read(admin_client, people):
    """Without scripts the bar sends every field; close ignores the severity and note it also carries."""
    resolved = incident_in(Status.RESOLVED, people)
    page = html(admin_client.post(PATH, data={"action": "close", "ids": str(resolved.id), "severity": "low",
                                              "urgency": "low", "resolution_notes": "", "technician_id": "1"}))
    assert "1 done, 0 refused." in page


def test_a_technician_takes_and_watches_for_themselves(client, people):
    login(client, people["tech_other"])
    free, busy = incident_in(Status.OPEN, people), incident_in(Status.ASSIGNED, people)
    page = html(client.post(PATH, data={"action": "take", "ids": [str(free.id), str(busy.id)]}))
    assert "1 done, 1 refused." in page and f"Cannot take {busy.reference} while it is assigned." in page
    page = html(client.post(PATH, data={"action": "watch", "ids": str(busy.id)}))
    assert "You are watching it." in page


def _bar(app, user, args: dict, total: int = 3) -> str:
    """The bar as the list page includes it, for `user` and a list asked for with `args`."""
    with app.test_request_context("/ui/incidents/", query_string=args):
        login_user(user)
        from flask import request
        query = parse_list_query(request.args, user)
        return render_template("web/_bulk_bar.html", query=query, page=type("Page", (), {"total": total})(),
                               technicians=service.technicians())


def test_the_bar_offers_each_role_its_actions_and_carries_the_filters(app, people):
    admin_bar = _bar(app, people["admin"], {"status": ["open", "assigned"], "q": f"disk {XSS}"}, total=734)
    tech_bar = _bar(app, people["tech"], {})

    assert 'id="bulk-form" method="post"' in admin_bar and 'name="csrf_token"' in admin_bar
    assert 'value="assign"' in admin_bar and 'value="take"' not in admin_bar
    assert 'id="bulk-technician"' in admin_bar and 'id="bulk-watcher"' in admin_bar
    assert 'value="take"' in tech_bar and 'value="assign"' not in tech_bar
    assert 'id="bulk-technician"' not in tech_bar and 'id="bulk-watcher"' not in tech_bar
    for action in ("severity", "urgency", "watch", "resolve", "close"):
        assert f'value="{action}"' in admin_bar and f'value="{action}"' in tech_bar
    assert '<input type="hidden" name="filter-status" value="open">' in admin_bar
    assert '<input type="hidden" name="filter-status" value="assigned">' in admin_bar
    assert "<script>alert" not in admin_bar and 'name="filter-q" value="disk &lt;script&gt;' in admin_bar
    assert "Select all 734 matching (the newest 500" in admin_bar
    assert 'name="back" value="/ui/incidents/?' in admin_bar
    assert 'src="/static/js/bulk.js"' in admin_bar
