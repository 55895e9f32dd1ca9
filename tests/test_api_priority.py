"""Urgency and priority through the API: written with the details, priority read-only, list filters
and sort, 422 on unknown values; on_hold and resume as PUT moves."""
import pytest

from app.extensions import db
from app.incidents.enums import Status
from tests import factories
from tests.api_helpers import assert_problem, bearer
from tests.web_helpers import incident_in


@pytest.fixture
def headers(people):
    """A bearer header per person."""
    return {name: bearer(person) for name, person in people.items()}


def test_report_with_urgency_answers_the_priority(client, headers):
    """Urgency in any case; the answer carries urgency and the derived priority."""
    response = client.post("/incidents/", headers=headers["reporter"], json={
        "title": "Checkout down", "description": "500s", "severity": "High", "urgency": "HIGH"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["severity"], body["urgency"], body["priority"]) == ("high", "high", "P1")
    default = client.post("/incidents/", headers=headers["reporter"], json={"title": "t", "description": "d"})
    assert (default.get_json()["urgency"], default.get_json()["priority"]) == ("medium", "P3")


def test_an_edit_of_urgency_moves_the_priority(client, people, headers):
    """PUT urgency: the priority follows in the same answer."""
    incident = factories.make_incident(people["reporter"], severity="low")
    response = client.put(f"/incidents/{incident.id}", headers=headers["admin"], json={"urgency": "high"})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["urgency"], response.get_json()["priority"]) == ("high", "P3")


@pytest.mark.parametrize("method", ["post", "put"])
def test_a_client_cannot_write_the_priority(client, people, headers, method):
    """`priority` in a body is an unknown field: 422, nothing written."""
    incident = factories.make_incident(people["reporter"])
    if method == "post":
        response = client.post("/incidents/", headers=headers["reporter"],
                               json={"title": "t", "description": "d", "priority": "P1"})
    else:
        response = client.put(f"/incidents/{incident.id}", headers=headers["admin"], json={"priority": "P1"})
    assert_problem(response, 422, "priority")
    db.session.expire_all()
    assert incident.priority.value == "P3" and incident.version == 1


@pytest.mark.parametrize("query", ["priority=P5", "priority=high", "urgency=urgent", "urgency=P1",
                                   "sort=-urgency"])
def test_unknown_filter_values_are_422(client, headers, query):
    """Like every other filter: a value that is not one of the choices is refused."""
    assert_problem(client.get(f"/incidents/?{query}", headers=headers["admin"]), 422)


def test_filter_and_sort_by_priority_and_urgency(client, people, headers):
    """Filters repeat and combine; `sort=priority` puts P1 first, pages follow by cursor."""
    made = {}
    for severity, urgency in [("low", "low"), ("critical", "high"), ("medium", "medium"), ("high", "medium"),
                              ("high", "low")]:
        made[severity, urgency] = factories.make_incident(people["reporter"], severity=severity, urgency=urgency)
    admin = headers["admin"]

    def ids(query):
        response = client.get(f"/incidents/?{query}", headers=admin)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("priority=p1&priority=P2") == [made["high", "medium"].id, made["critical", "high"].id]
    assert ids("urgency=low") == [made["high", "low"].id, made["low", "low"].id]
    assert ids("urgency=medium&priority=P3") == [made["medium", "medium"].id]
    by_priority = client.get("/incidents/?sort=priority", headers=admin).get_json()["items"]
    assert [item["priority"] for item in by_priority] == ["P1", "P2", "P3", "P3", "P4"]
    first = client.get("/incidents/?sort=-priority&per_page=2", headers=admin)
    pages = [first.get_json()]
    while pages[-1]["next"]:
        pages.append(client.get(f"/incidents/?sort=-priority&per_page=2&cursor={pages[-1]['next']}",
                                headers=admin).get_json())
    walked = [item["priority"] for page in pages for item in page["items"]]
    assert walked == ["P4", "P3", "P3", "P2", "P1"]
    assert pages[0]["total"] == 5


def test_on_hold_and_back_through_put(client, people, headers):
    """`on_hold` needs a reason (422 without); `in_progress` from on hold resumes; reason only with
    open or on_hold."""
    incident = incident_in(Status.IN_PROGRESS, people)
    url = f"/incidents/{incident.id}"
    assert_problem(client.put(url, headers=headers["tech"], json={"status": "on_hold"}), 422, "reason")
    assert_problem(client.put(url, headers=headers["tech"], json={"status": "resolved", "resolution_notes": "x",
                                                                  "reason": "y"}), 422, "reason")
    assert_problem(client.put(url, headers=headers["tech_other"],
                              json={"status": "On Hold", "reason": "Mine."}), 403)
    held = client.put(url, headers=headers["tech"], json={"status": "On Hold", "reason": "Waiting on the vendor."})
    assert held.status_code == 200 and held.get_json()["status"] == "on_hold"
    events = client.get(f"{url}/events", headers=headers["tech"]).get_json()["items"]
    assert (events[-1]["kind"], events[-1]["body"]) == ("on_hold", "Waiting on the vendor.")
    assert_problem(client.put(url, headers=headers["tech"], json={"status": "on_hold", "reason": "Again."}), 409)
    resumed = client.put(url, headers=headers["tech"], json={"status": "in_progress"})
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "in_progress"
    assert client.get(f"{url}/events", headers=headers["tech"]).get_json()["items"][-1]["kind"] == "resumed"


def test_the_reporters_comment_resumes_through_the_api(client, people, headers):
    """POST a comment as the reporter on an incident on hold: it is in progress again."""
    incident = incident_in(Status.ON_HOLD, people)
    response = client.post(f"/incidents/{incident.id}/comments", headers=headers["reporter"],
                           json={"body": "Here is the screenshot."})
    assert response.status_code == 201
    assert client.get(f"/incidents/{incident.id}", headers=headers["reporter"]).get_json()["status"] == "in_progress"


def test_the_document_lists_urgency_priority_and_the_on_hold_rule(client):
    """The OpenAPI document follows the schemas: urgency writable, priority read-only output, filters,
    and on_hold requiring a reason."""
    document = client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert "urgency" in schemas["IncidentUpdate"]["properties"]
    assert "priority" not in schemas["IncidentUpdate"]["properties"]
    assert {"urgency", "priority"} <= set(schemas["Incident"]["properties"])
    rules = schemas["IncidentUpdate"]["allOf"]
    reason_rule = next(rule for rule in rules if rule["then"] == {"required": ["reason"]})
    pattern = reason_rule["if"]["properties"]["status"]["pattern"]
    assert "[Hh]" in pattern and "[Oo][Pp][Ee][Nn]" in pattern
    parameters = {p["name"] for p in document["paths"]["/incidents/"]["get"]["parameters"]}
    assert {"priority", "urgency"} <= parameters
