"""No N+1: every list (API and HTML), detail and dashboard request runs the same number of SQL
statements whether the database holds 20 incidents or 400, and whether the page shows 5 rows or 100."""
import pytest

from app.extensions import db
from app.incidents import service
from tests import factories
from tests.api_helpers import bearer
from tests.perf_helpers import BULK_PASSWORD, first_bulk_incident, load, recording, user
from tests.web_helpers import login

# The most statements any of these pages may take: a budget, so a regression shows even at one size.
BUDGET = 15  # 14 before the saved views in the navigation (one query a page)
# (name, who asks: API caller or browser user, path; {n} is the page size, {id} an incident).
REQUESTS = [
    ("api list", "api", "admin", "/incidents/?per_page={n}"),
    ("api list sorted by severity", "api", "admin", "/incidents/?per_page={n}&sort=-severity"),
    ("api list, several statuses", "api", "admin", "/incidents/?per_page={n}&status=open&status=assigned"),
    ("api list, technician=me", "api", "bulk-tech-001", "/incidents/?per_page={n}&technician=me"),
    ("api list as a reporter", "api", "bulk-reporter-001", "/incidents/?per_page={n}"),
    ("api search", "api", "admin", "/incidents/?per_page={n}&q=on"),
    ("api detail", "api", "admin", "/incidents/{id}"),
    ("api timeline", "api", "admin", "/incidents/{id}/events"),
    ("html list", "web", "admin", "/ui/incidents/?per_page={html_n}"),
    ("html list, filtered", "web", "admin", "/ui/incidents/?per_page={html_n}&status=open&technician=none"),
    ("html detail", "web", "admin", "/ui/incidents/{id}"),
    ("dashboard, admin", "web", "admin", "/"),
    ("dashboard, technician", "web", "bulk-tech-001", "/"),
    ("dashboard, reporter", "web", "bulk-reporter-001", "/"),
]


def _statements(client, path: str, headers: dict) -> tuple[int, object]:
    client.get(path, headers=headers)  # first-request work (caches, lazy setup) is not the point
    # The test holds the app context, so requests would share its session: start from an empty
    # identity map, as a request in production does, or cached rows would hide lazy loads.
    db.session.remove()
    with recording() as seen:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return len(seen), response


@pytest.mark.parametrize(("name", "kind", "who", "path"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_statements_per_request_stay_constant(client, people, name, kind, who, path):
    """20 incidents and pages of 5, then 400 incidents, a longer timeline and pages of 100:
    the same statement count, within the budget."""
    load(20)
    incident = first_bulk_incident()
    if kind == "api":
        headers = bearer(people[who] if who in people else user(who))
    else:
        headers = {}
        login(client, who, factories.PASSWORD if who in people else BULK_PASSWORD)
    small, first = _statements(client, path.format(n=5, html_n=10, id=incident.id), headers)

    load(400)
    incident, admin = first_bulk_incident(), user("admin")  # the objects of before were let go
    for n in range(12):
        service.add_comment(actor=admin, incident=incident, body=f"Note {n}")
    large, second = _statements(client, path.format(n=100, html_n=100, id=incident.id), headers)

    assert small == large, f"{name}: {small} statements with little data, {large} with more"
    assert large <= BUDGET, f"{name}: {large} statements"
    if kind == "api" and "items" in first.get_json():
        assert len(second.get_json()["items"]) > len(first.get_json()["items"])  # the page did grow
