"""The SLA clocks through the API: `responded_at`, `response_due_at`, `resolve_due_at` and `sla` on
every incident (read-only), portal events with `actor: null`, the `sla` list filter and the
`resolve_due_at` sort (on-hold incidents, which have no due time, last either way) by page and cursor.

Histories are written through the service with backdated `at=` times; every expected figure below
is worked out by hand from the SPEC's default policies (P1 15 / 240 min, P2 60 / 480 min, both 24x7)."""
import re
from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from app.extensions import db
from app.incidents import service
from app.incidents.enums import EventKind, Priority, SlaStanding, Status
from app.incidents.queries import IncidentFilters, list_incidents
from app.models import IncidentEvent, utcnow
from tests import factories
from tests.api_helpers import assert_problem, bearer
from tests.perf_helpers import load, recording
from tests.test_perf_plans import assert_indexed

API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MIN = 60


@pytest.fixture
def headers(people):
    """A bearer header per person."""
    return {name: bearer(person) for name, person in people.items()}


def z(moment: datetime) -> str:
    """A time as the API writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def history(people, severity: str, ago: timedelta, steps: list[tuple[int, str]], *, title: str | None = None):
    """An incident reported `ago` before now (T0, whole seconds), then each (minutes after T0, move)."""
    t0 = (utcnow() - ago).replace(microsecond=0)
    fields = {"title": title} if title else {}
    incident = factories.make_incident(people["reporter"], severity=severity, at=t0, **fields)
    tech, admin = people["tech"], people["admin"]
    moves = {
        "assign": lambda at: service.assign_incident(actor=admin, incident=incident, technician_id=tech.id, at=at),
        "start": lambda at: service.start_incident(actor=tech, incident=incident, at=at),
        "hold": lambda at: service.hold_incident(actor=tech, incident=incident, reason="Waiting on the vendor.",
                                                 at=at),
        "resume": lambda at: service.resume_incident(actor=tech, incident=incident, at=at),
        "resolve": lambda at: service.resolve_incident(actor=tech, incident=incident, resolution_notes="Fixed.",
                                                       at=at),
        "reopen": lambda at: service.reopen_incident(actor=admin, incident=incident, reason="Back again.", at=at),
        "comment": lambda at: service.add_comment(actor=admin, incident=incident, body="Looking.", at=at),
    }
    for minutes, move in steps:
        moves[move](t0 + timedelta(minutes=minutes))
    return incident, t0


def timed_get(client, url: str, headers: dict) -> tuple[dict, datetime, datetime]:
    """The answer, with the instants just before and after it was asked for."""
    before = utcnow()
    response = client.get(url, headers=headers)
    after = utcnow()
    assert response.status_code == 200, response.get_json()
    return response.get_json(), before, after


def assert_left(remaining: int, due: datetime, before: datetime, after: datetime) -> None:
    """A running (24x7) clock's seconds left: due minus the moment of the request, to the second."""
    assert int((due - after).total_seconds()) - 1 <= remaining <= int((due - before).total_seconds()) + 1, remaining


# (name, severity, how long ago T0 was, steps, expected). Expected times are minutes after T0;
# "left" is a due time in minutes after T0 that a running clock counts down to (checked against
# the request's own instant); an int is an exact remaining_seconds.
CASES = [
    ("running", "critical", timedelta(minutes=10), [], {
        "responded_at": None, "response_due_at": 15, "resolve_due_at": 240,
        "response": (15, "running", ("left", 15)), "resolve": (240, "running", ("left", 240)), "paused": False}),
    ("paused on hold", "high", timedelta(hours=3), [(20, "assign"), (30, "start"), (90, "hold")], {
        # Resolve counted 90 of 480 minutes before the hold: 390 minutes (23,400 s) left, no due time.
        "responded_at": 20, "response_due_at": 60, "resolve_due_at": None,
        "response": (60, "met", None), "resolve": (None, "paused", 23_400), "paused": True}),
    ("resumed", "high", timedelta(hours=4), [(5, "assign"), (10, "start"), (60, "hold"), (180, "resume")], {
        # 60 minutes counted before the hold; 420 left from 180: due at 600.
        "responded_at": 5, "response_due_at": 60, "resolve_due_at": 600,
        "response": (60, "met", None), "resolve": (600, "running", ("left", 600)), "paused": False}),
    ("met", "high", timedelta(hours=5), [(10, "assign"), (15, "start"), (120, "resolve")], {
        # A stopped clock's due time is where it would have run out.
        "responded_at": 10, "response_due_at": 60, "resolve_due_at": 480,
        "response": (60, "met", None), "resolve": (480, "met", None), "paused": False}),
    ("reopened", "high", timedelta(hours=5), [(5, "assign"), (10, "start"), (70, "resolve"), (200, "reopen")], {
        # The same resolve clock runs on after a reopen: 70 counted, 410 left from 200.
        "responded_at": 5, "response_due_at": 60, "resolve_due_at": 610,
        "response": (60, "met", None), "resolve": (610, "running", ("left", 610)), "paused": False}),
    ("breached and stopped", "critical", timedelta(hours=6), [(30, "assign"), (40, "start"), (300, "resolve")], {
        "responded_at": 30, "response_due_at": 15, "resolve_due_at": 240,
        "response": (15, "breached", None), "resolve": (240, "breached", None), "paused": False}),
    ("breached and running", "critical", timedelta(hours=5), [], {
        "responded_at": None, "response_due_at": 15, "resolve_due_at": 240,
        "response": (15, "breached", ("left", 15)), "resolve": (240, "breached", ("left", 240)), "paused": False}),
    ("answered by a staff comment", "critical", timedelta(minutes=30), [(12, "comment")], {
        "responded_at": 12, "response_due_at": 15, "resolve_due_at": 240,
        "response": (15, "met", None), "resolve": (240, "running", ("left", 240)), "paused": False}),
]


@pytest.mark.parametrize(("name", "severity", "ago", "steps", "expected"), CASES, ids=[case[0] for case in CASES])
def test_each_incident_carries_its_clocks(client, people, headers, name, severity, ago, steps, expected):
    """The three times and the `sla` object, in the API's time format, for every kind of history;
    the list shows the same object as the incident itself."""
    incident, t0 = history(people, severity, ago, steps)

    def at(minutes):
        return None if minutes is None else z(t0 + timedelta(minutes=minutes))

    body, before, after = timed_get(client, f"/incidents/{incident.id}", headers["admin"])
    for field in ("responded_at", "response_due_at", "resolve_due_at"):
        assert body[field] == at(expected[field]), field
    assert body["sla"]["paused"] is expected["paused"]
    for clock in ("response", "resolve"):
        due, state, left = expected[clock]
        shown = body["sla"][clock]
        assert (shown["due_at"], shown["state"]) == (at(due), state), clock
        if left is None or isinstance(left, int):
            assert shown["remaining_seconds"] == left, clock
        else:
            assert_left(shown["remaining_seconds"], t0 + timedelta(minutes=left[1]), before, after)
    listed, _, _ = timed_get(client, "/incidents/", headers["admin"])
    item = next(item for item in listed["items"] if item["id"] == incident.id)
    assert {key: item[key] for key in ("responded_at", "response_due_at", "resolve_due_at")} == \
        {key: body[key] for key in ("responded_at", "response_due_at", "resolve_due_at")}
    assert (item["sla"]["response"]["state"], item["sla"]["resolve"]["state"]) == \
        (body["sla"]["response"]["state"], body["sla"]["resolve"]["state"])


def test_a_business_hours_clock_counts_only_open_hours(make_app, people):
    """A P3 (business calendar, 240 / 1440 min) reported Friday 16:00 UTC: 1 h counted on Friday,
    so the response is due Monday 12:00; remaining_seconds counts business seconds only."""
    app = make_app(SLA_TIMEZONE="UTC", SLA_BUSINESS_HOURS="Mon-Fri 09:00-17:00", SLA_HOLIDAYS="")
    with app.app_context():
        reporter = factories.make_user("reporter", username="bizreporter")
        friday = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
        incident = factories.make_incident(reporter, severity="medium", at=friday)
        body = app.test_client().get(f"/incidents/{incident.id}", headers=bearer(reporter)).get_json()
        db.session.remove()
    assert body["priority"] == "P3"
    assert body["response_due_at"] == "2026-11-30T12:00:00Z"
    # 1440 minutes = three 8-hour days: Fri 1 h, Mon-Wed 8 h each = 25 h > 24 h -> Wednesday 16:00.
    assert body["resolve_due_at"] == "2026-12-02T16:00:00Z"
    assert body["sla"]["response"]["state"] == "breached"  # those days are past now


def test_answers_match_the_document_with_nulls(client, people, headers):
    """A paused incident (null resolve_due_at), a page, and a timeline with a portal event each
    validate against /openapi.json, as every answer must."""
    document = client.get("/openapi.json").get_json()
    incident, _ = history(people, "high", timedelta(hours=2), [(5, "assign"), (10, "start"), (30, "hold")])
    db.session.add(IncidentEvent(incident_id=incident.id, actor_id=None, kind=EventKind.SLA_WARNING,
                                 changes={"clock": "resolve", "due_at": utcnow().isoformat(), "mailed": False}))
    db.session.commit()
    answers = {
        "Incident": client.get(f"/incidents/{incident.id}", headers=headers["admin"]).get_json(),
        "IncidentPage": client.get("/incidents/?sort=resolve_due_at", headers=headers["admin"]).get_json(),
        "EventList": client.get(f"/incidents/{incident.id}/events", headers=headers["admin"]).get_json(),
    }
    assert answers["Incident"]["resolve_due_at"] is None and answers["Incident"]["sla"]["resolve"]["due_at"] is None
    for name, answer in answers.items():
        validator = Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": document["components"]},
                                         format_checker=FormatChecker())
        assert not [error.message for error in validator.iter_errors(answer)], name
    schemas = document["components"]["schemas"]
    clocks = {"responded_at", "response_due_at", "resolve_due_at", "sla"}
    assert clocks <= set(schemas["Incident"]["required"])
    assert not clocks & set(schemas["IncidentUpdate"]["properties"])
    assert "null" in str(schemas["Event"]["properties"]["actor"])
    sla_parameter = next(p for p in document["paths"]["/incidents/"]["get"]["parameters"] if p["name"] == "sla")
    assert sla_parameter["schema"]["items"]["pattern"]


def test_a_portal_event_has_a_null_actor(client, people, headers):
    """SLA notices the portal wrote (actor_id NULL): `actor` is null, the due time in the API's format
    (stored as Python's isoformat), `mailed: false` passed through."""
    incident, t0 = history(people, "critical", timedelta(minutes=16), [])
    due = t0 + timedelta(minutes=15, microseconds=250)
    for minutes, kind, extra in ((12, EventKind.SLA_WARNING, {}), (16, EventKind.SLA_BREACHED, {"mailed": False})):
        db.session.add(IncidentEvent(incident_id=incident.id, actor_id=None, kind=kind,
                                     created_at=t0 + timedelta(minutes=minutes),
                                     changes={"clock": "response", "due_at": due.isoformat(), **extra}))
    db.session.commit()
    items = client.get(f"/incidents/{incident.id}/events", headers=headers["reporter"]).get_json()["items"]
    assert [item["kind"] for item in items] == ["created", "sla_warning", "sla_breached"]
    warning, breach = items[1:]
    assert warning["actor"] is None and breach["actor"] is None
    assert warning["changes"] == {"clock": "response", "due_at": z(due)}
    assert breach["changes"] == {"clock": "response", "due_at": z(due), "mailed": False}
    assert warning["created_at"] == z(t0 + timedelta(minutes=12))
    assert items[0]["actor"]["username"] == "reporter"


@pytest.mark.parametrize("body", [{"responded_at": "2026-01-01T00:00:00Z"}, {"resolve_due_at": None},
                                  {"response_due_at": "2026-01-01T00:00:00Z"}, {"sla": {"paused": True}}])
def test_the_clocks_are_read_only(client, people, headers, body):
    """Like `priority`: a body carrying an SLA field is 422 naming it (unknown field), on create and
    on update, and nothing changes."""
    incident, _ = history(people, "critical", timedelta(minutes=5), [])
    field = next(iter(body))
    assert_problem(client.put(f"/incidents/{incident.id}", headers=headers["admin"], json=body), 422, field)
    assert_problem(client.post("/incidents/", headers=headers["reporter"],
                               json={"title": "t", "description": "d", **body}), 422, field)
    db.session.expire_all()
    assert incident.version == 1 and incident.responded_at is None


@pytest.fixture
def standings(people):
    """Incidents in each SLA standing now, by hand: which the `sla` filter must find."""
    made = {
        # P1, 5 of 15 response minutes used: nothing past 80 %.
        "fresh": history(people, "critical", timedelta(minutes=5), [], title="fresh")[0],
        # P1, 13 of 15 response minutes (past 12 = 80 %), not yet due.
        "response at risk": history(people, "critical", timedelta(minutes=13), [], title="response at risk")[0],
        # P1 unanswered for 20 minutes: the response is overdue.
        "response overdue": history(people, "critical", timedelta(minutes=20), [], title="response overdue")[0],
        # P2 answered in time, resolved in 2 h of 8: met and stopped.
        "met": history(people, "high", timedelta(hours=3), [(10, "assign"), (15, "start"), (120, "resolve")],
                       title="met")[0],
        # P1 resolved after 5 h of 4: breached for good.
        "resolved late": history(people, "critical", timedelta(hours=6),
                                 [(5, "assign"), (10, "start"), (300, "resolve")], title="resolved late")[0],
        # P2 on hold after 400 of 480 resolve minutes (past 384 = 80 %): at risk though paused.
        "held at risk": history(people, "high", timedelta(hours=8), [(5, "assign"), (10, "start"), (400, "hold")],
                                title="held at risk")[0],
        # P2 on hold after 60 minutes: fine.
        "held early": history(people, "high", timedelta(hours=3), [(5, "assign"), (10, "start"), (60, "hold")],
                              title="held early")[0],
        # P2 answered, 7 of 8 resolve hours gone and still running: at risk.
        "resolve at risk": history(people, "high", timedelta(hours=7), [(5, "assign"), (10, "start")],
                                   title="resolve at risk")[0],
    }
    return made


STANDING = {
    "breached": {"response overdue", "resolved late"},
    "at_risk": {"response at risk", "held at risk", "resolve at risk"},
    "ok": {"fresh", "met", "held early"},
}


@pytest.mark.parametrize("value", sorted(STANDING))
def test_the_sla_filter_finds_each_standing(client, people, headers, standings, value):
    """Each value finds exactly its incidents, with a total to match; any case and spelling."""
    by_id = {incident.id: name for name, incident in standings.items()}
    for spelling in (value, value.upper().replace("_", " "), value.replace("_", "-").title()):
        body = client.get(f"/incidents/?sla={spelling}", headers=headers["admin"]).get_json()
        assert {by_id[item["id"]] for item in body["items"]} == STANDING[value], spelling
        assert body["total"] == len(STANDING[value])


def test_the_sla_filter_repeats_and_combines(client, people, headers, standings):
    """Several values match any of them; with other filters, and for a reporter only their own."""
    by_id = {incident.id: name for name, incident in standings.items()}

    def names(query, who="admin"):
        body = client.get(f"/incidents/?{query}", headers=headers[who]).get_json()
        assert body["total"] == len(body["items"]), body
        return {by_id.get(item["id"], item["title"]) for item in body["items"]}

    assert names("sla=breached&sla=at_risk") == STANDING["breached"] | STANDING["at_risk"]
    assert names("sla=ok&sla=at_risk&sla=breached") == set(standings)
    assert names("sla=at_risk&status=on_hold") == {"held at risk"}
    assert names("sla=breached&priority=P1&sort=resolve_due_at") == STANDING["breached"]
    assert names("sla=at_risk&q=risk") == STANDING["at_risk"]
    factories.make_incident(people["reporter_other"], title="someone else's", severity="critical")
    assert names("sla=ok", who="reporter_other") == {"someone else's"}


@pytest.mark.parametrize("query", ["sla=late", "sla=", "sla=ok&sla=maybe", "sla=P1", "sort=resolve_due",
                                   "sort=-resolve_due_at_"])
def test_unknown_sla_values_and_sorts_are_422(client, headers, query):
    """Like every other filter: a value that is not one of the choices is refused, naming the parameter."""
    assert_problem(client.get(f"/incidents/?{query}", headers=headers["admin"]), 422, query.split("=")[0])


@pytest.fixture
def due_times(people):
    """Nine incidents: six with a resolve due time (two of them the same instant), three on hold."""
    same = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    made = [
        history(people, "critical", timedelta(minutes=30), [])[0],  # due in 3 h 30 m
        history(people, "high", timedelta(hours=2), [(5, "assign"), (10, "start"), (30, "hold")])[0],
        history(people, "low", timedelta(minutes=5), [])[0],  # P4, business calendar
        factories.make_incident(people["reporter"], severity="critical", at=same),  # the tie:
        factories.make_incident(people["reporter"], severity="critical", at=same),  # same due instant
        history(people, "high", timedelta(hours=3), [(5, "assign"), (10, "start"), (20, "hold")])[0],
        history(people, "high", timedelta(hours=6), [(5, "assign"), (10, "start"), (60, "resolve")])[0],
        history(people, "critical", timedelta(hours=5), [])[0],  # overdue: due in the past
        history(people, "medium", timedelta(hours=1), [(5, "assign"), (10, "start"), (20, "hold")])[0],
    ]
    assert sum(incident.resolve_due_at is None for incident in made) == 3
    return made


def _expected(incidents, descending: bool) -> list[int]:
    """Due times soonest first (latest first when descending), ties by id the same way; then the
    incidents with no due time (on hold), by id the same way."""
    dated = sorted((i for i in incidents if i.resolve_due_at), key=lambda i: (i.resolve_due_at, i.id),
                   reverse=descending)
    undated = sorted((i for i in incidents if not i.resolve_due_at), key=lambda i: i.id, reverse=descending)
    return [i.id for i in dated + undated]


@pytest.mark.parametrize("sort", ["resolve_due_at", "-resolve_due_at"])
@pytest.mark.parametrize("extra", ["", "&q=incident", "&status=open&status=on_hold&status=in_progress&status=resolved"])
def test_the_resolve_due_sort_pages_through_every_incident_once(client, headers, due_times, sort, extra):
    """By page number and by cursor, at several page sizes (pages that end inside the due times,
    on the border, and inside the on-hold tail): every incident exactly once, nulls last."""
    expected = _expected(due_times, sort.startswith("-"))
    for per_page in (1, 2, 4, 6, 7, 100):
        query = f"sort={sort}&per_page={per_page}{extra}"
        by_number, number = [], 1
        while True:
            body = client.get(f"/incidents/?{query}&page={number}", headers=headers["admin"]).get_json()
            assert body["total"] == len(expected)
            if not body["items"]:
                break
            by_number += [item["id"] for item in body["items"]]
            number += 1
        first = client.get(f"/incidents/?{query}", headers=headers["admin"]).get_json()
        by_cursor, cursor = [item["id"] for item in first["items"]], first["next"]
        while cursor:
            body = client.get(f"/incidents/?{query}&cursor={cursor}", headers=headers["admin"]).get_json()
            assert body["page"] is None and len(body["items"]) <= per_page
            by_cursor += [item["id"] for item in body["items"]]
            cursor = body["next"]
        assert by_number == expected, per_page
        assert by_cursor == expected, per_page


def test_a_cursor_in_the_on_hold_tail_keeps_its_sort(client, headers, due_times):
    """A cursor whose row has no due time is refused under another sort, like any cursor."""
    body = client.get("/incidents/?sort=resolve_due_at&per_page=7", headers=headers["admin"]).get_json()
    cursor = body["next"]
    held = client.get(f"/incidents/?sort=resolve_due_at&per_page=7&cursor={cursor}", headers=headers["admin"])
    assert [item["resolve_due_at"] for item in held.get_json()["items"]] == [None, None]
    assert_problem(client.get(f"/incidents/?sort=-resolve_due_at&cursor={cursor}", headers=headers["admin"]),
                   422, "cursor")
    assert_problem(client.get(f"/incidents/?sort=created_at&cursor={cursor}", headers=headers["admin"]),
                   422, "cursor")


@pytest.fixture
def bulk(app, people):
    """2,000 generated incidents with their clocks (some on hold), indexed and ANALYZEd as
    `flask seed --bulk` leaves them."""
    load(2_000)
    return app


PLAN_FILTERS = {
    "none": {},
    "status": {"status": [Status.OPEN]},
    "several statuses": {"status": [Status.OPEN, Status.IN_PROGRESS, Status.ON_HOLD]},
    "priority": {"priority": [Priority.P1]},
    "breached": {"sla": [SlaStanding.BREACHED]},
    "at risk or ok": {"sla": [SlaStanding.AT_RISK, SlaStanding.OK]},
}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("sort", ["resolve_due_at", "-resolve_due_at", "-created_at", "priority"])
@pytest.mark.parametrize("name", PLAN_FILTERS)
def test_the_new_sort_and_filter_walk_an_index(bulk, people, name, sort):
    """SQLite's plans: no full scan of incidents and no sort below the page, for page 1, a deep page
    (inside the on-hold tail of the due-time sort) and a page by cursor. One known exception: the
    total of an `sla`-filtered list reads every incident (a standing depends on the time now, so
    no tally or index can count it): that count is the only statement allowed to scan."""
    filters = IncidentFilters(**PLAN_FILTERS[name])
    admin = people["admin"]
    with recording() as statements:
        first = list_incidents(actor=admin, filters=filters, sort=sort, per_page=10)
        last = list_incidents(actor=admin, filters=filters, sort=sort, per_page=10, page=-(-first.total // 10))
        if first.next_cursor:
            list_incidents(actor=admin, filters=filters, sort=sort, per_page=10, cursor=first.next_cursor)
    assert first.total > 0 and last.items
    holds = Status.ON_HOLD in (filters.status or [Status.ON_HOLD])
    if sort.lstrip("-") == "resolve_due_at" and not filters.sla and holds:
        assert last.items[-1].resolve_due_at is None  # the last page is in the on-hold tail
    if filters.sla:
        statements = [(sql, parameters) for sql, parameters in statements if not sql.startswith("SELECT count(*)")]
    assert_indexed(statements)
