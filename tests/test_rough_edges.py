"""Rough edges of issue 18 a new user found: deactivation asked for and explained (#4), the outbox
saying mail sending is off (#5), one line ending whatever the door (#8), the users page's filters
(#9), usernames in the technician filter of the list page (#11)."""
import re

import pytest
from sqlalchemy import select

from app.auth.roles import Role
from app.auth.service import issue_token, list_tokens, user_for_token
from app.extensions import db
from app.models import Incident, IncidentEvent, User
from tests import factories
from tests.api_helpers import bearer
from tests.web_helpers import field_error, flashes, html, login


def fresh(model, row_id):
    """The row as committed now."""
    db.session.rollback()
    return db.session.get(model, row_id)


def element(page: str, element_id: str) -> str:
    """The opening tag and what follows of the element `element_id` (to the end of its section)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}".*?</\1>', page, re.S)
    assert found, f"no #{element_id} on the page"
    return found.group(0)


# ---- #4 deactivation is confirmed and says what it did ---------------------------------------------------

def test_the_deactivate_button_asks_first_and_changes_nothing(client, people):
    """The row's button (no confirmation sent) brings the confirmation, naming the tokens it will
    revoke; the account, its session and its tokens are untouched."""
    target = people["tech"]
    _, first = issue_token(user=target, name="script")
    _, second = issue_token(user=target, name="ci")
    version = target.session_version
    login(client, people["admin"])

    response = client.post(f"/ui/users/{target.id}/deactivate")

    assert response.status_code == 200
    panel = element(html(response), "deactivate-confirm")
    assert "Deactivate tech?" in panel
    assert "I understand: this signs tech out and revokes their 2 API tokens." in panel
    assert 'name="confirm"' in panel and 'type="checkbox"' in panel
    user = fresh(User, target.id)
    assert user.active and user.session_version == version
    assert user_for_token(first) is not None and user_for_token(second) is not None


@pytest.mark.parametrize("sent", [{"asked": "y"}, {"asked": "y", "confirm": "on"}], ids=["unticked", "forged"])
def test_sending_the_confirmation_unticked_is_refused_server_side(client, people, sent):
    """The form sent without the box (no JS, or a crafted request): 422, the box marked, nothing changed."""
    target = people["tech"]
    _, plain = issue_token(user=target, name="script")
    login(client, people["admin"])

    response = client.post(f"/ui/users/{target.id}/deactivate", data=sent)

    assert response.status_code == 422
    assert field_error(html(response), "confirm") == "Tick the box to confirm the deactivation; nothing was changed."
    assert fresh(User, target.id).active and user_for_token(plain) is not None


def test_the_confirmed_deactivation_signs_out_revokes_and_says_so(app, people):
    """Ticked: the user's own browser session ends at its next request, even after a reactivation,
    their tokens stop, and the flash counts them."""
    target = people["tech"]
    issue_token(user=target, name="one")
    _, plain = issue_token(user=target, name="two")
    admin, victim = app.test_client(), app.test_client()
    with app.app_context():  # each client's requests in a fresh context: `g` caches the signed-in user
        login(victim, target)
        assert victim.get("/ui/incidents/").status_code == 200
    with app.app_context():
        login(admin, people["admin"])
        response = admin.post(f"/ui/users/{target.id}/deactivate", data={"asked": "y", "confirm": "y"},
                              follow_redirects=True)
        assert ("success", "tech is deactivated: signed out everywhere, 2 API tokens revoked.") in \
            flashes(html(response))
    assert fresh(User, target.id).active is False
    assert user_for_token(plain) is None and list_tokens(user=fresh(User, target.id)) == []
    with app.app_context():
        admin.post(f"/ui/users/{target.id}/reactivate")
    assert fresh(User, target.id).active is True
    with app.app_context():
        assert victim.get("/ui/incidents/").status_code == 302  # the old session stays ended


# ---- #5 the outbox says when sending is switched off -----------------------------------------------------

def test_the_outbox_says_mail_is_off_without_a_mail_server(client, people):
    """MAIL_SERVER empty (the testing config): the alert says mail is queued, not sent, and how to
    switch it on; it counts what waits."""
    factories.make_incident(people["reporter"])
    waiting = db.session.scalar(select(db.func.count()).select_from(
        db.metadata.tables["outbox_messages"]).where(db.metadata.tables["outbox_messages"].c.status == "pending"))
    assert waiting > 0
    login(client, people["admin"])
    alert = element(html(client.get("/ui/outbox/")), "mail-off")
    text = " ".join(re.sub(r"<[^>]+>", " ", alert).split())
    assert "Mail sending is switched off" in text
    assert f"queued here but never sent ({waiting} waiting)" in text
    assert "To switch it on, set MAIL_SERVER" in text


def test_the_outbox_has_no_such_alert_with_a_mail_server(make_app):
    """MAIL_SERVER set (the background sender off, so nothing is really sent): no alert."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=1, OUTBOX_BACKGROUND_SENDER=False)
    with app.app_context():
        factories.make_user(Role.ADMIN, username="admin")
        client = app.test_client()
        login(client, "admin")
        page = html(client.get("/ui/outbox/"))
        db.session.remove()
    assert "<h1" in page and 'id="mail-off"' not in page


# ---- #8 line endings -------------------------------------------------------------------------------------

TYPED = "First line\r\nsecond line\r\rthird after a lone CR\r\n"
STORED = "First line\nsecond line\n\nthird after a lone CR"


def test_the_web_form_and_the_api_store_the_same_text(client, people):
    """The same description and comment through the page (CRLF, as browsers send) and the API
    (CR and CRLF in JSON): stored identically, with "\\n" only."""
    reporter = people["reporter"]
    login(client, reporter)
    response = client.post("/ui/incidents/new", data={"title": "From the web", "description": TYPED,
                                                       "severity": "low", "urgency": "low", "category": "other"})
    assert response.status_code == 302, html(response)
    web_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/ui/incidents/{web_id}/comments", data={"comment-body": TYPED}).status_code == 302

    api = bearer(reporter)
    created = client.post("/incidents/", json={"title": "From the API", "description": TYPED}, headers=api)
    assert created.status_code == 201, created.get_json()
    api_id = created.get_json()["id"]
    assert client.post(f"/incidents/{api_id}/comments", json={"body": TYPED}, headers=api).status_code == 201

    db.session.rollback()
    web, via_api = db.session.get(Incident, web_id), db.session.get(Incident, api_id)
    assert web.description == via_api.description == STORED
    bodies = [db.session.scalars(select(IncidentEvent.body).where(IncidentEvent.incident_id == i,
                                                                  IncidentEvent.body.is_not(None))).all()
              for i in (web_id, api_id)]
    assert STORED in bodies[0] and STORED in bodies[1]
    assert not any("\r" in (body or "") for found in bodies for body in found)


def test_clean_text_normalises_line_endings():
    """The one rule every door uses, and the length counted after it."""
    from app.incidents.validation import clean_text
    errors: dict = {}
    assert clean_text("a\r\nb\rc\n", field="x", max_length=5, errors=errors) == "a\nb\nc"
    assert errors == {}
    assert clean_text("ab\r\ncd", field="x", max_length=5, errors=errors) == "ab\ncd" and errors == {}


# ---- #9 the users page's filters -------------------------------------------------------------------------

def rows(page: str) -> list[str]:
    """The usernames of the accounts table's rows."""
    return re.findall(r'<tr id="user-([^"]+)"', page)


def test_the_users_page_filters_by_role_and_state(client, people):
    """`role` and `state` narrow the table, and the form shows what is chosen."""
    factories.make_user(Role.TECHNICIAN, username="gonetech", active=False)
    login(client, people["admin"])
    assert rows(html(client.get("/ui/users/?role=technician"))) == ["gonetech", "tech", "techother"]
    page = html(client.get("/ui/users/?role=Technician&state=active"))
    assert rows(page) == ["tech", "techother"]
    assert '<option value="technician" selected>' in page and '<option value="active" selected>' in page
    assert rows(html(client.get("/ui/users/?state=deactivated"))) == ["gonetech"]
    assert 'id="user-filters-ignored"' not in page


@pytest.mark.parametrize(("query", "named"), [
    ("role=overlord", "role=overlord"),
    ("state=asleep", "state=asleep"),
    ("active=false", "active"),
    ("role=%3Cscript%3Ealert(1)%3C/script%3E", "role=&lt;script&gt;alert(1)&lt;/script&gt;"),
])
def test_a_value_the_users_page_ignores_is_shown(client, people, query, named):
    """Not understood: a visible warning naming it (escaped), and the whole list, not a silent guess."""
    login(client, people["admin"])
    page = html(client.get(f"/ui/users/?{query}"))
    warning = element(page, "user-filters-ignored")
    assert named in warning and "<script>" not in page.split('id="user-filters-ignored"')[1].split("</div>")[0]
    assert len(rows(page)) == 5


# ---- #11 the technician filter takes a username, in both doors -------------------------------------------

@pytest.fixture
def assigned(people):
    """One incident assigned to tech, one to techother, one left open."""
    def make(technician):
        incident = factories.make_incident(people["reporter"], title=f"Held by {technician.username}")
        return factories.bring_to("assigned", incident=incident, admin=people["admin"], technician=technician).id
    ids = {"tech": make(people["tech"]), "techother": make(people["tech_other"])}
    ids["open"] = factories.make_incident(people["reporter"], title="Nobody home").id
    return ids


def api_ids(client, headers, query: str) -> list[int]:
    response = client.get(f"/incidents/?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return sorted(item["id"] for item in response.get_json()["items"])


@pytest.mark.parametrize("name", ["tech", "TECH", "Tech"])
def test_the_api_takes_a_username_whatever_its_case(client, people, assigned, name):
    """`technician=<username>` lists what `technician=<id>` lists."""
    api = bearer(people["admin"])
    assert api_ids(client, api, f"technician={name}") == [assigned["tech"]] == \
        api_ids(client, api, f"technician={people['tech'].id}")


@pytest.mark.parametrize("value", ["ghost", "no such user", "x" * 90])
def test_the_api_refuses_a_username_nobody_has(client, people, assigned, value):
    """422 naming `technician`, never an empty page that looks like "nothing assigned"."""
    from tests.api_helpers import assert_problem
    response = client.get("/incidents/", query_string={"technician": value}, headers=bearer(people["admin"]))
    assert_problem(response, 422, "technician")


def test_the_api_documents_the_username(client):
    """/openapi.json says the filter takes a username."""
    spec = client.get("/openapi.json").get_json()
    params = {p["name"]: p for p in spec["paths"]["/incidents/"]["get"]["parameters"]}
    assert "username" in params["technician"]["description"]


def list_titles(page: str) -> list[str]:
    found = set(re.findall(r"Held by \w+|Nobody home", page))
    return sorted(found & {"Held by tech", "Held by techother", "Nobody home"})


@pytest.mark.parametrize("name", ["tech", "TECH"])
def test_the_list_page_takes_a_username(client, people, assigned, name):
    """The same lookup as the API: the page lists that technician's incidents, no warning."""
    login(client, people["admin"])
    page = html(client.get(f"/ui/incidents/?technician={name}"))
    assert list_titles(page) == ["Held by tech"]
    assert 'id="ignored-filters"' not in page


def test_the_list_page_warns_about_a_username_nobody_has(client, people, assigned):
    """An unknown name is kept out of the filter (everything is listed) and said so, escaped."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/", query_string={"technician": "<b>ghost</b>"}))
    assert list_titles(page) == ["Held by tech", "Held by techother", "Nobody home"]
    warning = element(page, "ignored-filters")
    assert "technician=&lt;b&gt;ghost&lt;/b&gt;" in warning
