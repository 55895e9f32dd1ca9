"""SLA policies: admins read and change them in the API and on /ui/admin/sla; a change applies to
incidents that get the priority afterwards; bad targets are refused and change nothing."""
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents import service
from app.incidents.enums import Priority, SlaCalendar
from app.models import SlaPolicy
from tests import factories
from tests.api_helpers import assert_problem, basic
from tests.web_helpers import field_error, flashes, html, login

# SPEC "Priority and SLA": P1 15 / 240 / 24x7; P2 60 / 480 / 24x7; P3 240 / 1440 / business; P4 480 / 2400 / business.
SPEC_DEFAULTS = [("P1", 15, 240, "24x7"), ("P2", 60, 480, "24x7"), ("P3", 240, 1440, "business"),
                 ("P4", 480, 2400, "business")]
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC (business hours in the default calendar)


def rows(answer) -> list[tuple]:
    return [(p["priority"], p["response_minutes"], p["resolve_minutes"], p["calendar"]) for p in answer["items"]]


def test_admins_read_the_defaults_of_spec(client, people):
    answer = client.get("/sla-policies/", headers=basic("admin"))
    assert answer.status_code == 200
    assert rows(answer.get_json()) == SPEC_DEFAULTS
    assert {p["updated_at"] for p in answer.get_json()["items"]} == {None}


@pytest.mark.parametrize("who", ["tech", "reporter"])
def test_only_admins_read_or_change_policies(client, people, who):
    username = people[who].username
    assert_problem(client.get("/sla-policies/", headers=basic(username)), 403)
    assert_problem(client.put("/sla-policies/P1", headers=basic(username),
                              json={"response_minutes": 5, "resolve_minutes": 60, "calendar": "24x7"}), 403)
    assert_problem(client.get("/sla-policies/"), 401)


def test_a_change_applies_to_incidents_that_get_the_priority_afterwards(client, people):
    before = factories.make_incident(people["reporter"], severity="medium", at=T0)  # P3
    answer = client.put("/sla-policies/p3", headers=basic("admin"),
                        json={"response_minutes": 30, "resolve_minutes": 120, "calendar": "24X7"})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["priority"], body["response_minutes"], body["resolve_minutes"], body["calendar"]) == \
        ("P3", 30, 120, "24x7")
    assert body["updated_by"] == "admin" and body["updated_at"]
    assert client.get("/sla-policies/P3", headers=basic("admin")).get_json() == body

    after = factories.make_incident(people["reporter"], severity="medium", at=T0)
    assert after.priority == Priority.P3
    assert (after.sla_calendar, after.response_target_minutes, after.resolve_target_minutes) == \
        (SlaCalendar.ALWAYS, 30, 120)
    assert after.response_due_at == T0 + timedelta(minutes=30)
    assert after.resolve_due_at == T0 + timedelta(minutes=120)
    # The incident reported before keeps SPEC's P3 targets on business hours (Mon-Fri 09:00-17:00 UTC).
    assert (before.sla_calendar, before.response_target_minutes, before.resolve_target_minutes) == \
        (SlaCalendar.BUSINESS, 240, 1440)
    assert before.response_due_at == T0 + timedelta(hours=4)
    assert before.resolve_due_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)  # 24 business hours: Thursday 10:00


def test_an_incident_whose_priority_changes_takes_that_priority_s_policy(client, people):
    client.put("/sla-policies/P1", headers=basic("admin"),
               json={"response_minutes": 10, "resolve_minutes": 100, "calendar": "24x7"})
    incident = factories.make_incident(people["reporter"], severity="low", at=T0)  # P4
    service.edit_incident(actor=people["admin"], incident=incident, details={"severity": "critical"})
    assert incident.priority == Priority.P1
    assert (incident.response_target_minutes, incident.resolve_target_minutes) == (10, 100)
    assert incident.response_due_at == T0 + timedelta(minutes=10)  # still counted from its creation


@pytest.mark.parametrize("body, fields", [
    ({"response_minutes": 0, "resolve_minutes": 60, "calendar": "24x7"}, ["response_minutes"]),
    ({"response_minutes": 10, "resolve_minutes": -5, "calendar": "24x7"}, ["resolve_minutes"]),
    ({"response_minutes": 90, "resolve_minutes": 60, "calendar": "24x7"}, ["response_minutes"]),
    ({"response_minutes": 10, "resolve_minutes": 60, "calendar": "weekdays"}, ["calendar"]),
    ({"response_minutes": "10", "resolve_minutes": 60.5, "calendar": "24x7"}, ["response_minutes", "resolve_minutes"]),
    ({"response_minutes": 10, "resolve_minutes": 10**9, "calendar": "24x7"}, ["resolve_minutes"]),
    ({"response_minutes": 10, "calendar": "24x7"}, ["resolve_minutes"]),
    ({"response_minutes": 10, "resolve_minutes": 60, "calendar": "24x7", "priority": "P2"}, ["priority"]),
])
def test_bad_targets_are_422_and_change_nothing(client, people, body, fields):
    assert_problem(client.put("/sla-policies/P2", headers=basic("admin"), json=body), 422, *fields)
    assert rows(client.get("/sla-policies/", headers=basic("admin")).get_json()) == SPEC_DEFAULTS


def test_an_unknown_priority_is_404(client, people):
    for path in ("/sla-policies/P5", "/sla-policies/high", "/sla-policies/%00"):
        assert_problem(client.put(path, headers=basic("admin"),
                                  json={"response_minutes": 5, "resolve_minutes": 60, "calendar": "24x7"}), 404)
        assert_problem(client.get(path, headers=basic("admin")), 404)


def test_the_admin_page_shows_and_saves_each_policy(client, people):
    login(client, people["admin"])
    page = html(client.get("/ui/admin/sla"))
    for priority, response, resolve, calendar in SPEC_DEFAULTS:
        form = re.search(rf'<form[^>]*action="/ui/admin/sla/{priority}".*?</form>', page, re.S).group(0)
        prefix = priority.lower()
        assert re.search(rf'id="{prefix}-response_minutes"[^>]*value="{response}"', form)
        assert re.search(rf'id="{prefix}-resolve_minutes"[^>]*value="{resolve}"', form)
        assert re.search(rf'<option selected value="{calendar}"|<option value="{calendar}" selected', form)
    answer = client.post("/ui/admin/sla/P4", data={"p4-response_minutes": "120", "p4-resolve_minutes": "960",
                                                   "p4-calendar": "24x7"}, follow_redirects=True)
    assert answer.status_code == 200
    assert ("success", "Saved the P4 policy. Incidents that get P4 from now on hold it.") in flashes(html(answer))
    stored = client.get("/sla-policies/P4", headers=basic("admin")).get_json()
    assert (stored["response_minutes"], stored["resolve_minutes"], stored["calendar"]) == (120, 960, "24x7")


def test_the_admin_page_shows_errors_in_the_row_and_saves_nothing(app, client, people):
    login(client, people["admin"])
    answer = client.post("/ui/admin/sla/P2", data={"p2-response_minutes": "600", "p2-resolve_minutes": "0",
                                                   "p2-calendar": "24x7"})
    assert answer.status_code == 422
    page = html(answer)
    assert field_error(page, "p2-resolve_minutes")
    assert 'value="600"' in page  # what was typed is shown again
    blank = client.post("/ui/admin/sla/P2", data={"p2-response_minutes": "soon", "p2-resolve_minutes": "",
                                                  "p2-calendar": "24x7"})
    assert blank.status_code == 422 and field_error(html(blank), "p2-resolve_minutes")
    assert db.session.scalars(select(SlaPolicy)).all() == []


@pytest.mark.parametrize("who", ["tech", "reporter"])
def test_the_admin_page_is_for_admins(client, people, who):
    login(client, people[who])
    assert client.get("/ui/admin/sla").status_code == 403
    assert client.post("/ui/admin/sla/P1", data={"p1-response_minutes": "1", "p1-resolve_minutes": "2",
                                                 "p1-calendar": "24x7"}).status_code == 403
