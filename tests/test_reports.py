"""Reports (SPEC "Reports and export") against figures worked out by hand on a fixed data set,
through the domain and through the API: every figure, the groupings, the daily backlog, the
validation errors and who may read them.

The data set (built through the real services, backdated with `at=`), days D0..D3 =
2025-03-02..05 (UTC); the report covers D1..D3. P1 targets 15 / 240 minutes, P2 60 / 480, both 24x7.

| inc | prio | tech       | created  | answered (assigned)  | resolved              | resolve clock        |
|-----|------|------------|----------|----------------------|-----------------------|----------------------|
| A   | P1   | tech       | D1 09:00 | 09:10 (600 s, met)   | D1 11:00 (7200 s)     | 7200 < 14400: met    |
| B   | P1   | tech       | D1 10:00 | 10:30 (1800 s, late) | D2 16:00 (108000 s)   | breached             |
| C   | P2   | tech_other | D2 08:00 | 08:20 (1200 s, met)  | D2 14:00 (21600 s)    | held 09-13: 7200 met |
| D   | P2   | -          | D2 12:00 | never (past due)     | -                     | open                 |
| E   | P1   | tech       | D3 09:00 | 09:05 (300 s, met)   | D3 10:00, closed 12:00, reopened 15:00: open |
| F   | P2   | tech_other | D0 20:00 | 20:30                | D2 09:00 (133200 s)   | breached             |
| G   | P3   | -          | D0 21:00 | never                | -                     | open                 |
"""
from datetime import UTC, date, datetime, timedelta

import pytest

from app.exceptions import InvalidInput, PermissionDenied
from app.incidents import reports, service
from app.incidents.reports import Grouping, Period
from tests.api_helpers import assert_problem, bearer

D0 = date(2025, 3, 2)
RANGE = Period(D0 + timedelta(days=1), D0 + timedelta(days=3))
RANGE_QUERY = "from=2025-03-03&to=2025-03-05"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Day Dn (n days after D0) at hh:mm UTC."""
    return datetime(D0.year, D0.month, D0.day, hour, minute, tzinfo=UTC) + timedelta(days=day)


def build_fixed_data_set(people) -> dict:
    """The incidents of the module's table, through the services; returns them by letter."""
    admin, tech, other, reporter = people["admin"], people["tech"], people["tech_other"], people["reporter"]

    def report(title: str, severity: str, when: datetime, **fields):
        return service.create_incident(actor=reporter, title=title, description="Report fixture.",
                                       severity=severity, urgency="medium", at=when, **fields)

    def work(incident, technician, assigned: datetime, started: datetime):
        service.assign_incident(actor=admin, incident=incident, technician_id=technician.id, at=assigned)
        service.start_incident(actor=technician, incident=incident, at=started)

    def resolve(incident, technician, when: datetime):
        service.resolve_incident(actor=technician, incident=incident, resolution_notes="Fixed.", at=when)

    made = {}
    made["F"] = report("F: payroll export fails", "high", at(0, 20))
    work(made["F"], other, at(0, 20, 30), at(0, 20, 40))
    made["G"] = report("G: printer jams", "medium", at(0, 21))
    made["A"] = report("A: VPN down", "critical", at(1, 9))
    work(made["A"], tech, at(1, 9, 10), at(1, 9, 20))
    resolve(made["A"], tech, at(1, 11))
    made["B"] = report("B: mail bounces", "critical", at(1, 10))
    work(made["B"], tech, at(1, 10, 30), at(1, 11))
    made["C"] = report("C: wiki slow", "high", at(2, 8))
    work(made["C"], other, at(2, 8, 20), at(2, 8, 30))
    service.hold_incident(actor=other, incident=made["C"], reason="Waiting on the vendor.", at=at(2, 9))
    resolve(made["F"], other, at(2, 9))
    made["D"] = report("D: badge reader offline", "high", at(2, 12))
    service.resume_incident(actor=other, incident=made["C"], at=at(2, 13))
    resolve(made["C"], other, at(2, 14))
    resolve(made["B"], tech, at(2, 16))
    made["E"] = report("E: checkout errors", "critical", at(3, 9))
    work(made["E"], tech, at(3, 9, 5), at(3, 9, 30))
    resolve(made["E"], tech, at(3, 10))
    service.close_incident(actor=reporter, incident=made["E"], at=at(3, 12))
    service.reopen_incident(actor=reporter, incident=made["E"], reason="Errors are back.", at=at(3, 15))
    return made


@pytest.fixture
def data_set(people):
    """The fixed data set of the module's docstring."""
    return build_fixed_data_set(people)


ALL = {"key": None, "label": "All incidents", "created": 5, "resolved": 4, "backlog": 3,
       "mtta_seconds": (600 + 1800 + 1200 + 300) // 4, "mttr_seconds": (7200 + 108000 + 21600 + 133200) // 4,
       "p90_resolve_seconds": 133200, "response_met_pct": 60.0, "resolve_met_pct": 50.0}
BY_PRIORITY = [
    {"key": "P1", "label": "P1", "created": 3, "resolved": 2, "backlog": 1, "mtta_seconds": 900,
     "mttr_seconds": 57600, "p90_resolve_seconds": 108000, "response_met_pct": 66.7, "resolve_met_pct": 50.0},
    {"key": "P2", "label": "P2", "created": 2, "resolved": 2, "backlog": 1, "mtta_seconds": 1200,
     "mttr_seconds": 77400, "p90_resolve_seconds": 133200, "response_met_pct": 50.0, "resolve_met_pct": 50.0},
    {"key": "P3", "label": "P3", "created": 0, "resolved": 0, "backlog": 1, "mtta_seconds": None,
     "mttr_seconds": None, "p90_resolve_seconds": None, "response_met_pct": None, "resolve_met_pct": None},
    {"key": "P4", "label": "P4", "created": 0, "resolved": 0, "backlog": 0, "mtta_seconds": None,
     "mttr_seconds": None, "p90_resolve_seconds": None, "response_met_pct": None, "resolve_met_pct": None},
]
DAYS = [  # (date, created, resolved, backlog at the end of the day, mean time to resolve that day)
    ("2025-03-03", 2, 1, 3, 7200),
    ("2025-03-04", 2, 3, 2, (108000 + 21600 + 133200) // 3),
    ("2025-03-05", 1, 0, 3, None),
]


def as_dicts(summary: reports.Summary) -> list[dict]:
    return [{name: getattr(group, name) for name in ("key", "label", *reports.FIGURES)} for group in summary.groups]


def test_the_summary_matches_the_hand_computed_figures(people, data_set):
    """Every figure of the ungrouped summary, and the data set really is what the table says."""
    assert data_set["E"].resolved_at is None and data_set["E"].status.value == "assigned"
    assert data_set["C"].resolve_spent_seconds == 7200
    summary = reports.summary(actor=people["tech"], period=RANGE)
    assert as_dicts(summary) == [ALL]


def test_grouped_by_priority_every_priority_is_listed_most_urgent_first(people, data_set):
    """P1..P4 with their own figures; a priority with nothing to average has nulls, not zeros."""
    summary = reports.summary(actor=people["admin"], period=RANGE, group_by=Grouping.PRIORITY)
    assert as_dicts(summary) == BY_PRIORITY


def test_grouped_by_technician_by_name_and_the_unassigned_last(people, data_set):
    """Each technician's incidents under their username; D and G (nobody's) under key null."""
    summary = reports.summary(actor=people["admin"], period=RANGE, group_by=Grouping.TECHNICIAN)
    rows = {group.key: group for group in summary.groups}
    assert [group.key for group in summary.groups] == ["tech", "techother", None]
    assert (rows["tech"].created, rows["tech"].resolved, rows["tech"].backlog) == (3, 2, 1)
    assert (rows["techother"].created, rows["techother"].resolved, rows["techother"].backlog) == (1, 2, 0)
    assert rows["techother"].mttr_seconds == (21600 + 133200) // 2
    assert (rows[None].label, rows[None].created, rows[None].backlog) == ("Unassigned", 1, 2)
    assert rows[None].response_met_pct == 0.0 and rows[None].mtta_seconds is None


@pytest.mark.parametrize(("group_by", "keys"), [
    (Grouping.SEVERITY, ["critical", "high", "medium", "low"]),
    (Grouping.CATEGORY, ["network", "server", "application", "database", "security", "other"]),
])
def test_every_grouping_adds_up_to_the_whole(people, data_set, group_by, keys):
    """Counts split across groups sum to the ungrouped ones."""
    summary = reports.summary(actor=people["admin"], period=RANGE, group_by=group_by)
    assert [group.key for group in summary.groups] == keys
    for name in ("created", "resolved", "backlog"):
        assert sum(getattr(group, name) for group in summary.groups) == ALL[name]


def test_the_daily_report_adds_up(people, data_set):
    """Per day: created, resolved, backlog at the end of the day (yesterday's + created - resolved)
    and that day's mean time to resolve; the last day's backlog is the summary's."""
    days = reports.daily(actor=people["tech"], period=RANGE)
    assert [(d.day.isoformat(), d.created, d.resolved, d.backlog, d.mttr_seconds) for d in days] == DAYS
    before = reports.daily(actor=people["tech"], period=Period(D0, D0))
    assert before[0].backlog == 2  # F and G, created on D0, open at its end
    assert days[0].backlog == before[0].backlog + days[0].created - days[0].resolved


def test_a_range_before_anything_happened_has_zeros_and_nulls(people, data_set):
    """No incidents yet: counts zero, times and shares null (nothing to average)."""
    empty = reports.summary(actor=people["admin"], period=Period(date(2024, 1, 1), date(2024, 1, 31)))
    assert as_dicts(empty) == [{"key": None, "label": "All incidents", "created": 0, "resolved": 0, "backlog": 0,
                                "mtta_seconds": None, "mttr_seconds": None, "p90_resolve_seconds": None,
                                "response_met_pct": None, "resolve_met_pct": None}]


def test_the_percentile_is_the_nearest_rank(people):
    """Ten resolutions of 1..10 hours: p90 is the 9th (9 hours), the mean 5.5 hours; eleven: the 10th."""
    start = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)
    for hours in range(1, 12):
        incident = service.create_incident(actor=people["reporter"], title=f"{hours} h", description="d",
                                           at=start)
        service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech"].id,
                                at=start)
        service.start_incident(actor=people["tech"], incident=incident, at=start)
        service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="ok",
                                 at=start + timedelta(hours=hours, days=1 if hours == 11 else 0))
    ten = reports.summary(actor=people["admin"], period=Period(date(2025, 6, 2), date(2025, 6, 2))).groups[0]
    assert (ten.resolved, ten.p90_resolve_seconds, ten.mttr_seconds) == (10, 9 * 3600, int(5.5 * 3600))
    eleven = reports.summary(actor=people["admin"], period=Period(date(2025, 6, 2), date(2025, 6, 3))).groups[0]
    assert (eleven.resolved, eleven.p90_resolve_seconds) == (11, 10 * 3600)


def test_service_levels_are_the_summarys_figures(people, data_set):
    """The dashboard's figures (no backlog, no percentile) equal the summary's, grouped or not."""
    levels = reports.service_levels(actor=people["admin"], period=RANGE)
    assert [(lv.mtta_seconds, lv.mttr_seconds, lv.response_met_pct, lv.resolve_met_pct) for lv in levels] == [
        (ALL["mtta_seconds"], ALL["mttr_seconds"], ALL["response_met_pct"], ALL["resolve_met_pct"])]
    by_priority = reports.service_levels(actor=people["admin"], period=RANGE, group_by=Grouping.PRIORITY)
    assert [(lv.key, lv.response_met_pct, lv.resolve_met_pct) for lv in by_priority] == [
        (row["key"], row["response_met_pct"], row["resolve_met_pct"]) for row in BY_PRIORITY]


def test_reporters_may_not_read_reports(people, data_set):
    """The domain refuses them, whatever the door."""
    for read in (lambda: reports.summary(actor=people["reporter"], period=RANGE),
                 lambda: reports.daily(actor=people["reporter"], period=RANGE),
                 lambda: reports.service_levels(actor=people["reporter"], period=RANGE)):
        with pytest.raises(PermissionDenied):
            read()


# ---- the range and the grouping ----------------------------------------------------------------

TODAY = date(2026, 5, 20)


@pytest.mark.parametrize(("first", "last", "expected"), [
    (None, None, (date(2026, 4, 21), TODAY)),
    ("", "", (date(2026, 4, 21), TODAY)),
    ("2026-05-01", None, (date(2026, 5, 1), TODAY)),
    (None, "2026-01-31", (date(2026, 1, 2), date(2026, 1, 31))),
    ("2026-01-01", "2026-01-01", (date(2026, 1, 1), date(2026, 1, 1))),
    ("2024-01-01", "2024-12-31", (date(2024, 1, 1), date(2024, 12, 31))),  # 366 days (a leap year)
    ("2026-06-01", "2026-06-30", (date(2026, 6, 1), date(2026, 6, 30))),  # the future: zeros, not an error
])
def test_the_range_defaults_to_the_last_30_days(first, last, expected):
    """`to` defaults to today, `from` to 29 days before `to`; `to` is included."""
    period = reports.parse_period(first=first, last=last, today=TODAY)
    assert (period.first, period.last) == expected
    assert period.end - period.start == timedelta(days=len(period.days))


@pytest.mark.parametrize(("first", "last", "field", "message"), [
    ("2026-13-01", None, "from", "YYYY-MM-DD"),
    ("2026-02-30", None, "from", "YYYY-MM-DD"),
    ("20260101", None, "from", "YYYY-MM-DD"),
    ("2026-1-1", None, "from", "YYYY-MM-DD"),
    ("yesterday", None, "from", "YYYY-MM-DD"),
    (" 2026-01-01", None, "from", "YYYY-MM-DD"),
    ("\u0662\u0660\u0662\u0666-01-01", None, "from", "YYYY-MM-DD"),  # Arabic-Indic digits
    (None, "2026-05-20T00:00", "to", "YYYY-MM-DD"),
    (None, "0001-01-01", "to", "between"),
    ("2026-01-01", "9999-12-31", "to", "between"),
    ("2026-05-02", "2026-05-01", "from", "after"),
    ("2023-01-01", "2024-01-02", "to", "366 days"),  # 367 days (2023-01-01 to 2024-01-01 is 366)
])
def test_bad_ranges_are_refused_naming_the_field(first, last, field, message):
    """Each refusal says which field and why."""
    with pytest.raises(InvalidInput) as refused:
        reports.parse_period(first=first, last=last, today=TODAY)
    assert list(refused.value.errors) == [field]
    assert message in refused.value.errors[field][0]


def test_grouping_takes_any_case_and_refuses_the_rest():
    assert reports.parse_grouping("Priority") == Grouping.PRIORITY
    assert reports.parse_grouping(" technician ") == Grouping.TECHNICIAN
    assert reports.parse_grouping("") is None and reports.parse_grouping(None) is None
    with pytest.raises(InvalidInput) as refused:
        reports.parse_grouping("reporter")
    assert "priority, severity, category, technician" in refused.value.errors["group_by"][0]


# ---- through the API -----------------------------------------------------------------------------

def test_the_api_summary_is_the_hand_computed_one(client, people, data_set):
    response = client.get(f"/reports/summary?{RANGE_QUERY}", headers=bearer(people["tech"]))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"from": "2025-03-03", "to": "2025-03-05", "group_by": None, "groups": [ALL]}
    grouped = client.get(f"/reports/summary?{RANGE_QUERY}&group_by=PRIORITY", headers=bearer(people["admin"]))
    assert grouped.get_json()["group_by"] == "priority" and grouped.get_json()["groups"] == BY_PRIORITY


def test_the_api_daily_report(client, people, data_set):
    response = client.get(f"/reports/daily?{RANGE_QUERY}", headers=bearer(people["admin"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["from"], body["to"]) == ("2025-03-03", "2025-03-05")
    assert [(d["date"], d["created"], d["resolved"], d["backlog"], d["mttr_seconds"]) for d in body["days"]] == DAYS


def test_the_api_defaults_to_the_30_days_ending_today(client, people):
    today = datetime.now(UTC).date()
    body = client.get("/reports/summary", headers=bearer(people["admin"])).get_json()
    assert (body["from"], body["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    days = client.get("/reports/daily", headers=bearer(people["admin"])).get_json()["days"]
    assert len(days) == 30 and days[-1]["date"] == today.isoformat()


@pytest.mark.parametrize("path", ["/reports/summary", "/reports/daily", "/reports/summary.csv",
                                  "/reports/daily.csv"])
@pytest.mark.parametrize(("query", "field"), [
    ("from=2025-02-30", "from"),
    ("from=03/01/2025", "from"),
    ("to=tomorrow", "to"),
    ("from=2025-03-05&to=2025-03-04", "from"),
    ("from=2024-01-01&to=2025-01-01", "to"),
    ("to=9999-12-31", "to"),
])
def test_bad_ranges_are_422_problems(client, people, path, query, field):
    """problem+json naming the field, on the JSON and the CSV forms alike."""
    assert_problem(client.get(f"{path}?{query}", headers=bearer(people["admin"])), 422, field)


@pytest.mark.parametrize("path", ["/reports/summary", "/reports/summary.csv"])
@pytest.mark.parametrize("group_by", ["reporter", "status", "P1", "priority,severity"])
def test_an_unknown_grouping_is_a_422_problem(client, people, path, group_by):
    assert_problem(client.get(f"{path}?group_by={group_by}", headers=bearer(people["admin"])), 422, "group_by")


@pytest.mark.parametrize("path", ["/reports/summary", "/reports/daily", "/reports/summary.csv",
                                  "/reports/daily.csv"])
def test_reporters_get_403_and_strangers_401(client, people, path):
    assert_problem(client.get(path, headers=bearer(people["reporter"])), 403)
    assert_problem(client.get(path), 401)
