"""CSV out of the portal: the injection guard every CSV goes through, GET /incidents/export.csv
(the list's filters, the reporter's scope, streamed in id windows) and the reports' CSV forms, each
parsed back with the csv module."""
import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.auth.roles import Role
from app.incidents import export, reports
from app.incidents.enums import Status
from app.incidents.queries import IncidentFilters
from tests import factories
from tests.api_helpers import assert_problem, basic, bearer, held_context
from tests.perf_helpers import recording
from tests.test_reports import ALL, BY_PRIORITY, DAYS, RANGE_QUERY, build_fixed_data_set
from tests.web_helpers import login

DANGEROUS_TITLES = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", "=HYPERLINK(\"http://x\")"]


@pytest.fixture
def data_set(people):
    return build_fixed_data_set(people)


def parsed(response) -> list[dict[str, str]]:
    """The CSV answer as rows (the header checked first)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv" and response.mimetype_params.get("charset") == "utf-8"
    reader = csv.DictReader(io.StringIO(response.get_data().decode("utf-8")))
    rows = list(reader)
    assert tuple(reader.fieldnames) == export.INCIDENT_COLUMNS
    return rows


@pytest.mark.parametrize(("value", "cell"), [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1", "'+1"),
    ("-1", "'-1"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("1-1", "1-1"),
    (" =1", " =1"),
    ("'quoted", "'quoted"),
    ("", ""),
    (None, ""),
    (42, "42"),
    (-5, "'-5"),
])
def test_the_guard_quotes_what_a_spreadsheet_would_run(value, cell):
    """A leading =, +, -, @, tab or CR gets a `'`; anything else is left as it is."""
    assert export.safe_cell(value) == cell


def test_every_cell_of_a_csv_goes_through_the_guard_and_reads_back(monkeypatch):
    """Header and rows, chunked; parsed back, each cell is the guarded text, commas, quotes and
    line breaks included."""
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 2)
    rows = [("=1+1", 'say "hi", then\nleave'), ("\tx", "ok"), ("-", "@"), ("plain", "")]
    chunks = list(export.csv_chunks(("=header", "b"), rows))
    assert len(chunks) == 3  # rows 1-2, rows 3-4, the (empty) rest
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    back = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8"))))
    assert back == [["'=header", "b"], ["'=1+1", 'say "hi", then\nleave'], ["'\tx", "ok"], ["'-", "'@"],
                    ["plain", ""]]
    assert b"".join(chunks).endswith(b"\r\n")


def test_guarded_rows_are_written_as_given():
    """`rows_guarded`: the producer guarded its cells itself (the incident export); the header is
    still guarded here, and no cell is quoted twice."""
    chunks = export.csv_chunks(("=header", "b"), [("'=1+1", "-")], rows_guarded=True)
    back = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8"))))
    assert back == [["'=header", "b"], ["'=1+1", "-"]]


# Cells with everything that changes how the csv module writes a row: separators, quotes, line
# breaks, spaces, emptiness and text beyond ASCII.
_CELLS = st.text(alphabet=st.sampled_from(list(',"\r\n \'=ab-é✓')), max_size=6)


@given(rows=st.lists(st.lists(_CELLS, min_size=1, max_size=5), max_size=6))
def test_the_written_bytes_are_the_csv_module_s_for_any_cells(rows):
    """Rows without a comma, quote or line break are joined by hand (a tenth of `writerow`'s
    time); the bytes must be exactly what the csv module writes, for any mix of rows (one empty
    cell alone included, which the csv module writes as `""`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["a", "b"])
    writer.writerows(rows)
    written = b"".join(export.csv_chunks(("a", "b"), rows, rows_guarded=True))
    assert written == buffer.getvalue().encode("utf-8")
    assert list(csv.reader(io.StringIO(written.decode("utf-8"))))[1:] == [row for row in rows]


def test_dangerous_titles_come_out_quoted_and_everything_else_intact(client, people):
    """Titles a spreadsheet would run, and a reporter whose username starts with `-`, are quoted;
    a title with commas, quotes and accents reads back exactly."""
    sneaky = factories.make_user(Role.REPORTER, username="-sneaky")
    for title in DANGEROUS_TITLES:
        factories.make_incident(sneaky, title=title)
    factories.make_incident(people["reporter"], title='Café "down", again; ünïcode ✓')
    rows = parsed(client.get("/incidents/export.csv", headers=bearer(people["admin"])))
    assert [row["title"] for row in rows] == ["'" + title for title in DANGEROUS_TITLES] + [
        'Café "down", again; ünïcode ✓']
    assert {row["reporter"] for row in rows[:-1]} == {"'-sneaky"}


def test_a_technician_whose_username_looks_like_a_formula_is_quoted(client, people):
    """The export writes its rows ready for the CSV (no second pass over every cell): the
    technician's cell, chosen by a person like the title and the reporter's, is guarded too (of
    the formula starts, a username may hold only `-`)."""
    username = "-oncall"
    technician = factories.make_user(Role.TECHNICIAN, username=username)
    incident = factories.bring_to(Status.ASSIGNED, incident=factories.make_incident(people["reporter"]),
                                  admin=people["admin"], technician=technician)
    rows = parsed(client.get("/incidents/export.csv", headers=bearer(people["admin"])))
    assert [(row["reference"], row["technician"]) for row in rows] == [(incident.reference, "'" + username)]


def test_a_technician_made_while_the_export_runs_is_named(people, monkeypatch):
    """The usernames are read when the export starts; an incident not yet written that is given to
    a technician made since still names them."""
    monkeypatch.setattr(export, "ID_WINDOW", 1)
    first, second = (factories.make_incident(people["reporter"]) for _ in range(2))
    rows = export.incident_rows(actor=people["admin"], filters=IncidentFilters())
    assert next(rows)[0] == str(first.id)
    newcomer = factories.make_user(Role.TECHNICIAN, username="-newcomer")
    factories.bring_to(Status.ASSIGNED, incident=second, admin=people["admin"], technician=newcomer)
    row = dict(zip(export.INCIDENT_COLUMNS, next(rows), strict=True))
    assert (row["reference"], row["technician"]) == (second.reference, "'-newcomer")


def test_every_row_agrees_with_the_incident_as_the_api_writes_it(client, people, data_set):
    """The export reads its columns as the database stores them, without the models' conversion:
    each row still says what the API says of the same incident (times to the second in UTC with Z,
    the words, both clocks' states), for the fixed data set's statuses and clocks and for incidents
    written just now (times with microseconds), on SQLite and PostgreSQL alike."""
    for status in (Status.ASSIGNED, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED):
        factories.bring_to(status, incident=factories.make_incident(people["reporter"]), admin=people["admin"],
                           technician=people["tech"])
    factories.make_incident(people["reporter"])
    rows = parsed(client.get("/incidents/export.csv", headers=bearer(people["admin"])))
    assert len(rows) == len(data_set) + 5
    times = ("created_at", "responded_at", "resolved_at", "closed_at", "response_due_at", "resolve_due_at")
    for row in rows:
        api = client.get(f"/incidents/{row['id']}", headers=bearer(people["admin"])).get_json()
        assert row == {
            "id": str(api["id"]), "reference": api["reference"], "title": api["title"], "status": api["status"],
            "severity": api["severity"], "urgency": api["urgency"], "priority": api["priority"],
            "category": api["category"], "reporter": api["reporter"]["username"],
            "technician": (api["technician"] or {}).get("username", ""),
            **{name: api[name] or "" for name in times},
            "response_state": api["sla"]["response"]["state"], "resolve_state": api["sla"]["resolve"]["state"]}


def test_each_column_of_a_row(client, people, data_set):
    """Every column of two incidents of the data set, times in UTC with Z, clocks as of now."""
    rows = {row["reference"]: row for row in parsed(client.get("/incidents/export.csv",
                                                               headers=bearer(people["tech"])))}
    a, d = data_set["A"], data_set["D"]
    assert rows[a.reference] == {
        "id": str(a.id), "reference": a.reference, "title": "A: VPN down", "status": "resolved",
        "severity": "critical", "urgency": "medium", "priority": "P1", "category": "other",
        "reporter": "reporter", "technician": "tech", "created_at": "2025-03-03T09:00:00Z",
        "responded_at": "2025-03-03T09:10:00Z", "resolved_at": "2025-03-03T11:00:00Z", "closed_at": "",
        "response_due_at": "2025-03-03T09:15:00Z", "resolve_due_at": "2025-03-03T13:00:00Z",
        "response_state": "met", "resolve_state": "met"}
    assert (rows[d.reference]["technician"], rows[d.reference]["responded_at"], rows[d.reference]["response_state"],
            rows[d.reference]["resolve_state"]) == ("", "", "breached", "breached")
    assert list(rows) == [f"INC-{n}" for n in sorted(int(ref[4:]) for ref in rows)]  # by id


@pytest.mark.parametrize(("who", "query", "letters"), [
    ("admin", "", "FGABCDE"),
    ("admin", "status=open", "GD"),
    ("admin", "status=Open&status=on_hold", "GD"),
    ("admin", "priority=p1", "ABE"),
    ("admin", "severity=high&urgency=medium", "FCD"),
    ("tech", "technician=me", "ABE"),
    ("admin", "technician=none", "GD"),
    ("admin", "q=printer", "G"),
    ("admin", "q=vpn+down", "A"),
    ("admin", "sla=ok", "AC"),
    ("admin", "sla=breached", "FGBDE"),
    ("tech_other", "reporter=me", ""),
])
def test_the_export_takes_the_lists_filters(client, people, data_set, who, query, letters):
    """Each filter of GET /incidents/ narrows the export exactly as it narrows the list."""
    rows = parsed(client.get(f"/incidents/export.csv?{query}", headers=bearer(people[who])))
    assert [row["title"][0] for row in rows] == list(letters)
    listed = client.get(f"/incidents/?{query}&per_page=100", headers=bearer(people[who])).get_json()
    assert sorted(row["id"] for row in rows) == sorted(str(item["id"]) for item in listed["items"])


def test_the_lists_order_and_paging_do_not_apply(client, people, data_set):
    """Every matching incident, by id: `sort`, `page`, `per_page` and `cursor` are not parameters here."""
    rows = parsed(client.get("/incidents/export.csv?sort=-priority&page=2&per_page=1&cursor=x",
                             headers=bearer(people["admin"])))
    assert [row["title"][0] for row in rows] == list("FGABCDE")


def test_a_reporter_exports_their_own_incidents_only(client, people, data_set):
    """Whatever they ask for: their own, as on the list; asking for someone else's gives none."""
    other = factories.make_user(Role.REPORTER, username="other")
    factories.make_incident(other, title="Someone else's")
    own = parsed(client.get("/incidents/export.csv", headers=bearer(people["reporter"])))
    assert len(own) == 7 and {row["reporter"] for row in own} == {"reporter"}
    theirs = parsed(client.get(f"/incidents/export.csv?reporter={other.id}", headers=basic("reporter")))
    assert theirs == []
    assert len(parsed(client.get("/incidents/export.csv", headers=bearer(other)))) == 1


@pytest.mark.parametrize("query", ["status=done", "priority=P5", "sla=late", "technician=someone",
                                   "q=%00"])
def test_bad_filters_are_422_like_the_list(client, people, query):
    assert_problem(client.get(f"/incidents/export.csv?{query}", headers=bearer(people["admin"])), 422)


def test_the_api_export_never_takes_the_session_cookie(client, people):
    """Like every API URL: a signed-in browser's cookie is not a credential (the UI has its own URL)."""
    login(client, people["admin"])
    assert_problem(client.get("/incidents/export.csv"), 401)
    assert client.get("/ui/incidents/export.csv").status_code == 200


def test_the_export_streams_in_id_windows(client, people, monkeypatch):
    """The answer is a stream written while rows are read: one query per window of ids, no
    OFFSET, no query for all rows at once; each incident once, in id order, across windows."""
    monkeypatch.setattr(export, "ID_WINDOW", 3)
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 2)
    made = [factories.make_incident(people["reporter"], title=f"Row {n}") for n in range(8)]
    with recording() as statements:
        response = client.get("/incidents/export.csv?q=row", headers=bearer(people["admin"]), buffered=False)
        assert response.is_streamed and not isinstance(response.response, list | tuple)
        # stream_with_context starts the stream in the view (to keep the request's context): the
        # first window is read by then, the others only as the body is read.
        assert len([sql for sql, _ in statements if "incidents.id >" in sql]) == 1
        chunks = list(response.response)
    assert len(chunks) == 1 + 8 // 2  # a chunk per two rows, then the rest
    windows = [sql for sql, _ in statements if "incidents.id >" in sql]
    assert len(windows) == 3  # ids 1-3, 4-6, 7-8
    assert all("OFFSET" not in sql and "LIMIT" not in sql for sql, _ in statements)
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [row["id"] for row in rows] == [str(incident.id) for incident in made]


def test_the_csv_is_written_only_as_it_is_read(people, data_set):
    """The domain's rows are a generator: nothing is queried until the first row is asked for."""
    with recording() as statements:
        rows = export.incident_rows(actor=people["admin"], filters=IncidentFilters())
    assert statements == []
    assert len(list(rows)) == 7


# ---- the reports' CSV forms --------------------------------------------------------------------

def test_the_summary_csv_is_the_summary(client, people, data_set):
    response = client.get(f"/reports/summary.csv?{RANGE_QUERY}", headers=bearer(people["tech"]))
    assert response.mimetype == "text/csv" and response.is_streamed
    assert response.headers["Content-Disposition"] == 'attachment; filename="summary_2025-03-03_2025-03-05.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = {"from": "2025-03-03", "to": "2025-03-05", "group_by": "", "key": "", "label": "All incidents",
                **{name: str(ALL[name]) for name in reports.FIGURES}}
    assert rows == [expected]
    grouped = client.get(f"/reports/summary.csv?{RANGE_QUERY}&group_by=priority", headers=bearer(people["admin"]))
    rows = list(csv.DictReader(io.StringIO(grouped.get_data(as_text=True))))
    assert [{name: row[name] for name in ("key", *reports.FIGURES)} for row in rows] == [
        {name: "" if group[name] is None else str(group[name]) for name in ("key", *reports.FIGURES)}
        for group in BY_PRIORITY]


def test_the_daily_csv_is_the_daily_report(client, people, data_set):
    response = client.get(f"/reports/daily.csv?{RANGE_QUERY}", headers=bearer(people["admin"]))
    back = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert back[0] == list(reports.DAILY_COLUMNS)
    assert back[1:] == [[day, str(c), str(r), str(b), "" if m is None else str(m)] for day, c, r, b, m in DAYS]


@pytest.mark.parametrize("seconds", [0, 5])
def test_the_response_cache_passes_a_stream_through(make_app, monkeypatch, seconds):
    """A bearer GET of the export goes through the response cache (app/caching.py) unbuffered: its
    first batch is read before the body is, not the whole table into memory first."""
    monkeypatch.setattr(export, "ID_WINDOW", 1)
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 1)
    app = make_app(RESPONSE_CACHE_SECONDS=seconds)
    with held_context(app):
        admin = factories.make_user(Role.ADMIN, username="admin")
        for _ in range(4):
            factories.make_incident(admin)
        with recording() as statements:
            response = app.test_client().get("/incidents/export.csv", headers=bearer(admin), buffered=False)
            assert len([sql for sql, _ in statements if "incidents.id >" in sql]) == 1
            assert len(b"".join(response.response).splitlines()) == 5
