"""/ui/reports, its CSV downloads, /ui/incidents/export.csv and the dashboard's service levels,
through the real login and the test client: figures from the hand-computed data set of
tests/test_reports.py, form errors, who may see what, and hostile names escaped in the SVG."""
import csv
import io
import re
from datetime import timedelta

import pytest

from app.auth.roles import Role
from app.auth.service import update_user
from app.incidents import reports, service
from app.models import utcnow
from tests import factories
from tests.test_reports import BY_PRIORITY, DAYS, RANGE_QUERY, build_fixed_data_set
from tests.web_helpers import element_text, field_error, html, login


@pytest.fixture
def data_set(people):
    return build_fixed_data_set(people)


def cells(page: str, table_id: str) -> list[list[str]]:
    """The text of each body row's cells (header cell first) of the table `table_id`."""
    table = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', page, re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row,
                                                                                   re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def bars(page: str, chart_id: str) -> list[tuple[str, str, str]]:
    """(series, label, value) of every bar of a chart."""
    chart = re.search(rf'<figure[^>]*id="{chart_id}"[^>]*>(.*?)</figure>', page, re.S).group(1)
    return re.findall(r'<rect class="bar"[^>]*data-series="([^"]*)" data-label="([^"]*)" data-value="([^"]*)"', chart)


def test_the_page_shows_the_hand_computed_figures(client, people, data_set):
    """The summary table, the daily table and the SLA-by-priority table hold the report's figures;
    the charts draw the same numbers."""
    login(client, people["tech"])
    page = html(client.get(f"/ui/reports?{RANGE_QUERY}"))
    assert cells(page, "summary-table") == [["All incidents", "5", "4", "3", "16m", "18h 45m", "1d 13h",
                                            "60 %", "50 %"]]
    assert [row[:4] for row in cells(page, "daily-table")] == [[day, str(c), str(r), str(b)]
                                                              for day, c, r, b, _ in DAYS]
    assert [row[0] for row in cells(page, "sla-table")] == ["P1", "P2", "P3", "P4"]
    assert cells(page, "sla-table")[0][3:] == ["66.7 %", "50 %"]
    assert cells(page, "sla-table")[3][1:] == ["—", "—", "—", "—"]
    flow = bars(page, "chart-flow")
    assert [(s, label, v) for s, label, v in flow if s == "Created"] == [("Created", day, str(c))
                                                                         for day, c, _, _, _ in DAYS]
    assert [v for s, _, v in flow if s == "Resolved"] == [str(r) for _, _, r, _, _ in DAYS]
    sla = bars(page, "chart-sla")
    assert [(label, v) for s, label, v in sla if s == "Response met"] == [
        (row["key"], f'{row["response_met_pct"]:g}') for row in BY_PRIORITY if row["response_met_pct"] is not None]
    points = re.findall(r'<circle class="point"[^>]*data-label="([^"]*)" data-value="([^"]*)"', page)
    assert points == [("2025-03-03", "2"), ("2025-03-04", "24.3")]  # MTTR in hours; none resolved on 03-05
    assert "chart-groups" not in page  # no grouping, no per-group chart


def test_grouped_the_page_adds_a_chart_per_group(client, people, data_set):
    login(client, people["admin"])
    page = html(client.get(f"/ui/reports?{RANGE_QUERY}&group_by=priority"))
    assert [row[0] for row in cells(page, "summary-table")] == ["P1", "P2", "P3", "P4"]
    backlog = [(label, v) for s, label, v in bars(page, "chart-groups") if s == "Backlog"]
    assert backlog == [(row["key"], str(row["backlog"])) for row in BY_PRIORITY]
    assert re.search(r'<option selected value="priority">Priority</option>', page)


def test_the_form_shows_the_range_it_defaulted_to(client, people):
    login(client, people["tech"])
    page = html(client.get("/ui/reports?from=&to=2025-03-31&group_by="))
    assert re.search(r'<input[^>]*id="from"[^>]*value="2025-03-02"', page)
    assert re.search(r'<input[^>]*id="to"[^>]*value="2025-03-31"', page)


@pytest.mark.parametrize(("query", "field", "message"), [
    ("from=2025-03-06&to=2025-03-05", "from", "Must not be after `to`."),
    ("from=2025-02-30", "from", "Must be a date written YYYY-MM-DD."),
    ("to=2025-03-05&from=2024-01-01", "to", "The range may span at most 366 days."),
    ("group_by=reporter", "group_by", "Must be one of: priority, severity, category, technician."),
])
def test_bad_input_is_a_form_error_and_a_422(client, people, query, field, message):
    login(client, people["tech"])
    response = client.get(f"/ui/reports?{query}")
    assert response.status_code == 422
    assert field_error(html(response), field) == message
    assert "<svg" not in html(response)


def test_every_refused_field_is_marked_at_once(client, people):
    login(client, people["tech"])
    page = html(client.get("/ui/reports?from=2025-03-06&to=2025-03-05&group_by=x"))
    assert field_error(page, "from") and field_error(page, "group_by") and field_error(page, "to") is None


def test_reporters_are_refused_and_see_no_menu_entry(client, people):
    login(client, people["reporter"])
    for path in ("/ui/reports", "/ui/reports/summary.csv", "/ui/reports/daily.csv"):
        assert client.get(path).status_code == 403
    assert 'href="/ui/reports"' not in html(client.get("/"))
    client.post("/logout")
    login(client, people["tech"])
    assert 'href="/ui/reports"' in html(client.get("/"))


def test_signed_out_visitors_go_to_the_login(client):
    response = client.get("/ui/reports/daily.csv")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_csv_links_work_with_the_session(client, people, data_set):
    """The page's links carry its range and grouping; the browser downloads them with its session."""
    login(client, people["admin"])
    page = html(client.get(f"/ui/reports?{RANGE_QUERY}&group_by=priority"))
    summary_link = re.search(r'href="([^"]+)" id="summary-csv"', page).group(1).replace("&amp;", "&")
    daily_link = re.search(r'href="([^"]+)" id="daily-csv"', page).group(1).replace("&amp;", "&")
    summary = client.get(summary_link)
    assert summary.mimetype == "text/csv" and summary.is_streamed
    assert "attachment" in summary.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(summary.get_data(as_text=True))))
    assert [(row["key"], row["created"], row["mttr_seconds"]) for row in rows] == [
        (row["key"], str(row["created"]), str(row["mttr_seconds"] or "")) for row in BY_PRIORITY]
    daily = list(csv.reader(io.StringIO(client.get(daily_link).get_data(as_text=True))))
    assert daily[0] == list(reports.DAILY_COLUMNS)
    assert daily[1:] == [[day, str(c), str(r), str(b), "" if m is None else str(m)] for day, c, r, b, m in DAYS]


def test_a_bad_range_on_a_csv_link_is_a_422_page(client, people):
    login(client, people["tech"])
    response = client.get("/ui/reports/summary.csv?from=2025-13-01")
    assert response.status_code == 422 and response.mimetype == "text/html"


def test_a_hostile_technician_name_is_text_in_the_table_and_the_chart(client, people):
    """group_by=technician puts people's names into the SVG: escaped there as everywhere."""
    hostile = factories.make_user(Role.TECHNICIAN, username="mallory")
    name = '<script>alert("x")</script><b onload=alert(1)>&'
    update_user(user=hostile, name=name)
    incident = factories.make_incident(people["reporter"])
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=hostile.id)
    login(client, people["admin"])
    page = html(client.get("/ui/reports?group_by=technician"))
    assert "<script>alert" not in page and "<b onload" not in page
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b onload=alert(1)&gt;&amp;"
    chart = re.search(r'<figure[^>]*id="chart-groups"[^>]*>(.*?)</figure>', page, re.S).group(1)
    assert f'data-label="{escaped}"' in chart and f">{escaped}</text>" in chart
    assert cells(page, "summary-table")[0][0] == re.sub(r"<[^>]+>", " ", escaped).strip()


# ---- the dashboard ---------------------------------------------------------------------------

def test_staff_see_the_last_30_days_on_the_dashboard(client, people):
    """MTTA, MTTR and both SLA shares of the last 30 days, the same as the report's; a link to it."""
    start = utcnow() - timedelta(days=2)
    incident = service.create_incident(actor=people["reporter"], title="Recent", description="d",
                                       severity="critical", at=start)
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech"].id,
                            at=start + timedelta(minutes=10))
    service.start_incident(actor=people["tech"], incident=incident, at=start + timedelta(minutes=20))
    service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="ok",
                             at=start + timedelta(hours=3))
    login(client, people["tech"])
    cards = element_text(html(client.get("/")), "service-level-cards")
    assert cards == ("10m Mean time to answer (MTTA) 3h Mean time to resolve (MTTR) "
                     "100 % Response SLA met 100 % Resolve SLA met")
    assert 'href="/ui/reports"' in html(client.get("/"))


def test_an_empty_month_reads_as_dashes(client, people):
    login(client, people["admin"])
    assert element_text(html(client.get("/")), "service-level-cards") == (
        "— Mean time to answer (MTTA) — Mean time to resolve (MTTR) — Response SLA met — Resolve SLA met")


def test_reporters_dashboards_have_no_service_levels(client, people):
    login(client, people["reporter"])
    assert 'id="service-level-cards"' not in html(client.get("/"))


# ---- the incident list's export, for the signed-in browser ------------------------------------

def test_the_ui_export_keeps_the_lists_filters_and_the_reporters_scope(client, people, data_set):
    """/ui/incidents/export.csv reads the list page's query string; a reporter gets their own."""
    login(client, people["tech"])
    response = client.get("/ui/incidents/export.csv?status=open&sort=-priority&page=3")
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["title"] for row in rows] == ["G: printer jams", "D: badge reader offline"]
    client.post("/logout")
    other = factories.make_user(Role.REPORTER, username="someoneelse")
    factories.make_incident(other, title="Not yours")
    login(client, people["reporter"])
    mine = list(csv.DictReader(io.StringIO(client.get("/ui/incidents/export.csv").get_data(as_text=True))))
    assert len(mine) == 7 and {row["reporter"] for row in mine} == {"reporter"}
