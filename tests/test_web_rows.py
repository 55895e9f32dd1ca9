"""The incident tables' rows, written in Python for the whole page (app/web/rows.py): each row has
a cell under every heading in each table's shape, hostile text stays text, and the Take button's
form, CSRF token included, is one the take route accepts."""
import re
from html import unescape

import pytest

from app.extensions import db
from app.incidents import service
from app.incidents.enums import Status
from app.models import Incident
from tests import factories
from tests.web_helpers import csrf_token, html, login

HOSTILE = '<img src=x onerror=alert(1)> {title} {reference} </td></tr> & "quoted"'


def _tables(page: str) -> list[tuple[int, list[int]]]:
    """(heading count, cell count of each body row) of every incident table of the page."""
    found = []
    for table in re.findall(r'<table class="table table-hover align-middle incident-table">(.*?)</table>', page, re.S):
        head, body = table.split("<tbody>")
        rows = re.findall(r"<tr data-nav-row.*?</tr>", body, re.S)
        found.append((head.count("<th "), [row.count("<td") for row in rows]))
    return found


@pytest.mark.parametrize("who", ["admin", "tech", "reporter"])
def test_every_row_has_a_cell_under_each_heading(client, people, who):
    """The list (staff: with the bulk checkbox and the reporter) and the dashboard's panels (no
    checkbox; some with fewer time columns)."""
    reporter = people["reporter"]
    for n in range(3):
        factories.make_incident(reporter, title=f"Row {n}")
    service.assign_incident(actor=people["admin"], incident=db.session.get(Incident, 1),
                            technician_id=people["tech"].id)
    login(client, people[who])
    for path in ("/ui/incidents/", "/"):
        tables = _tables(html(client.get(path)))
        assert tables, path
        for headings, cells in tables:
            assert cells and set(cells) == {headings}, (path, headings, cells)


def test_hostile_text_in_a_row_is_shown_as_text(client, people):
    """A title and names with markup, format fields and quotes: escaped once, never markup, never
    filled in."""
    tech = people["tech"]
    tech.name = '<b>Tech</b> {href}'
    db.session.commit()
    incident = factories.make_incident(people["reporter"], title=HOSTILE)
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=tech.id)
    login(client, people["admin"])
    for path in ("/ui/incidents/", "/"):
        page = html(client.get(path))
        assert "<img src=x" not in page and "<b>Tech</b>" not in page
        row = re.search(rf'<tr data-nav-row data-href="/ui/incidents/{incident.id}">.*?</tr>', page, re.S).group(0)
        title = re.search(r'class="text-break incident-title"><a href="[^"]+">(.*?)</a>', row).group(1)
        assert unescape(title) == HOSTILE
        assert "&lt;b&gt;Tech&lt;/b&gt; {href}" in row


def test_the_take_button_posts_a_form_the_route_accepts(make_app):
    """With CSRF on, as in production: the row's form fields, sent as the browser sends them, take
    the incident; a row the technician may not take has no button. (The requests run outside the
    set-up's app context: inside it, `g` would carry one request's CSRF token into the next.)"""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        reporter = factories.make_user("reporter", username="rowsreporter")
        tech = factories.make_user("technician", username="rowstech")
        admin = factories.make_user("admin", username="rowsadmin")
        open_id = factories.make_incident(reporter, title="Take me").id
        factories.bring_to(Status.RESOLVED, incident=factories.make_incident(reporter, title="Done already"),
                           admin=admin, technician=tech)
    client = app.test_client()
    login(client, "rowstech", form={"csrf_token": csrf_token(client)})
    page = html(client.get("/ui/incidents/"))
    forms = re.findall(r'<form method="post" action="([^"]+)" class="d-inline take-row">(.*?)</form>', page, re.S)
    assert [action for action, _ in forms] == [f"/ui/incidents/{open_id}/take"]
    fields = dict(re.findall(r'<input name="([^"]+)" type="hidden" value="([^"]*)">', forms[0][1]))
    assert set(fields) == {"take-csrf_token", "take-version"}
    assert client.post(forms[0][0], data={**fields, "take-csrf_token": "forged"}).status_code == 400
    response = client.post(forms[0][0], data=fields)
    assert response.status_code == 302
    with app.app_context():
        taken = db.session.get(Incident, open_id)
        assert (taken.status, taken.technician.username) == (Status.ASSIGNED, "rowstech")
