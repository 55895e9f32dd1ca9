"""Issue 18's rough edges on the incident page, one regression test each: #1 the reporter's empty
"What you can do now" card, #3 an expired form that lost the typed comment and spoke jargon,
#7 a timeline mixing usernames and full names, #10 the description below the actions on a phone."""
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.incidents import queries, service
from app.incidents.enums import Status
from app.models import IncidentEvent
from tests import factories
from tests.web_helpers import csrf_token, html, incident_in, login


def card(page: str) -> str:
    """The "What you can do now" card's body."""
    return re.search(r'<section class="card mb-3" aria-labelledby="actions-heading" id="actions">(.*?)</section>',
                     page, re.S).group(1)


def text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


# ---- #1 ---------------------------------------------------------------------------------------

def test_1_a_reporter_on_their_open_incident_is_told_what_they_can_do(client, people):
    """No lifecycle move is theirs yet, but editing and commenting are: the card says so, with links."""
    incident = incident_in(Status.OPEN, people)
    login(client, people["reporter"])
    body = card(html(client.get(f"/ui/incidents/{incident.id}")))
    assert f'href="/ui/incidents/{incident.id}/edit"' in body
    assert 'href="#comment-heading"' in body
    assert "Edit the details while it is open." in text(body)
    assert "Add a comment" in text(body)


def test_1_the_card_is_never_empty(client, people):
    """Every role and state the card has no form for says something."""
    for status in (Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS):
        incident = incident_in(status, people)
        for who in ("reporter", "tech_other"):
            login(client, people[who])
            body = text(card(html(client.get(f"/ui/incidents/{incident.id}"))))
            assert body.removeprefix("What you can do now").strip(), (status, who)
            client.post("/logout")


# ---- #3 ---------------------------------------------------------------------------------------

@pytest.fixture
def csrf_app(make_app):
    """An app with CSRF on (as in production), its people and an incident in progress."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        people = {role: factories.make_user(role, username=f"csrf{role}")
                  for role in ("admin", "technician", "reporter")}
        incident = factories.make_incident(people["reporter"], title="Expiring forms")
        factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"],
                           technician=people["technician"])
        yield app, people, incident


def signed_in(app, username):
    client = app.test_client()
    with app.app_context():
        login(client, username, form={"csrf_token": csrf_token(client)})
    return client


def comments(incident_id: int) -> int:
    return db.session.scalar(select(func.count(IncidentEvent.id)).where(IncidentEvent.incident_id == incident_id,
                                                                        IncidentEvent.kind == "commented"))


TYPED = "Line one of a long comment\nwith <b>markup</b> & an emoji 🙂"


@pytest.mark.parametrize("token", [None, "forged-or-expired"])
def test_3_an_expired_comment_form_keeps_the_text_and_says_press_again(csrf_app, token):
    """400, the page again with the typed text in the box, plain words, a fresh token that works."""
    app, people, incident = csrf_app
    client = signed_in(app, "csrfreporter")
    data = {"comment-body": TYPED}
    if token:
        data["comment-csrf_token"] = token
    with app.app_context():
        response = client.post(f"/ui/incidents/{incident.id}/comments", data=data)
        page = html(response)
        assert response.status_code == 400
        assert comments(incident.id) == 0
        box = re.search(r'<textarea[^>]*name="comment-body"[^>]*>(.*?)</textarea>', page, re.S)
        assert unescape(box.group(1)).strip("\r\n") == TYPED
        assert "<b>markup</b>" not in page.split("id=\"comment-form\"")[1]  # the text is escaped, not markup
        assert "The form expired; press “Add comment” again." in text(page)
        assert "CSRF" not in text(page)
        fresh = re.search(r'name="comment-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert fresh != token
        again = client.post(f"/ui/incidents/{incident.id}/comments",
                            data={"comment-body": TYPED, "comment-csrf_token": fresh})
        assert again.status_code == 302
        assert comments(incident.id) == 1


def test_3_other_incident_forms_keep_their_text_too(csrf_app):
    """The technician's resolution notes survive an expired form the same way."""
    app, people, incident = csrf_app
    client = signed_in(app, "csrftechnician")
    with app.app_context():
        response = client.post(f"/ui/incidents/{incident.id}/resolve",
                               data={"resolve-resolution_notes": "Replaced the fuser unit."})
        page = html(response)
        assert response.status_code == 400
        notes = re.search(r'<textarea[^>]*name="resolve-resolution_notes"[^>]*>(.*?)</textarea>', page, re.S)
        assert notes.group(1).strip() == "Replaced the fuser unit."
        assert "The form expired; press “Resolve” again." in text(page)
        assert queries.get_incident(actor=people["admin"], incident_id=incident.id).status == Status.IN_PROGRESS


def test_3_any_other_form_gets_plain_words(csrf_app):
    """A form elsewhere (here: reporting an incident) gets a page that says what happened and
    what to do, without the token's jargon."""
    app, people, incident = csrf_app
    client = signed_in(app, "csrfreporter")
    with app.app_context():
        response = client.post("/ui/incidents/new", data={"title": "x", "description": "y"})
        page = text(html(response))
        assert response.status_code == 400
        assert "The form expired" in page and "reload the page" in page
        assert "CSRF" not in page


def test_3_an_expired_form_on_someone_elses_incident_leaks_nothing(csrf_app):
    """Another reporter's expired comment on an incident they may not see: the plain page, no incident."""
    app, people, incident = csrf_app
    with app.app_context():
        factories.make_user("reporter", username="csrfstranger")
    client = signed_in(app, "csrfstranger")
    with app.app_context():
        response = client.post(f"/ui/incidents/{incident.id}/comments", data={"comment-body": "hi"})
        assert response.status_code == 400
        assert "Expiring forms" not in html(response)


# ---- #7 ---------------------------------------------------------------------------------------

def timeline(page: str) -> str:
    return re.search(r'<ol class="timeline list-unstyled" id="timeline">(.*?)</ol>', page, re.S).group(1)


def test_7_the_timeline_names_people_by_full_name_with_the_username_as_tooltip(client, people):
    """Actors and the technicians an assignment names, all the same way."""
    incident = incident_in(Status.ASSIGNED, people)
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech_other"].id)
    service.add_comment(actor=people["tech_other"], incident=incident, body="On it")
    login(client, people["admin"])
    events = timeline(html(client.get(f"/ui/incidents/{incident.id}")))
    words = text(events)
    assert "Admin assigned it to Tech " in words + " "
    assert "Admin reassigned it from Tech to Techother" in words
    assert "Techother commented" in words
    people_shown = re.findall(r'<span class="person" title="([^"]*)" data-username="([^"]*)">([^<]*)</span>', events)
    assert {(title, name) for title, username, name in people_shown if title == username} == {
        ("reporter", "Reporter"), ("admin", "Admin"), ("tech", "Tech"), ("techother", "Techother")}
    # No bare username anywhere in the words of the timeline.
    assert not re.search(r"\b(techother|tech)\b", words)


def test_7_hostile_names_are_escaped_in_the_timeline(client, people):
    hostile = factories.make_user("technician", username="hostiletech")
    hostile.name = '<img src=x onerror=alert(1)>"'
    db.session.commit()
    incident = factories.make_incident(people["reporter"])
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=hostile.id)
    login(client, people["admin"])
    events = timeline(html(client.get(f"/ui/incidents/{incident.id}")))
    assert "<img src=x" not in events
    assert "&lt;img src=x onerror=alert(1)&gt;&#34;" in events


# ---- #10 --------------------------------------------------------------------------------------

def test_10_the_description_comes_before_the_actions_in_the_page(client, people):
    """One column on a phone shows the source order: description, then the cards, then the timeline."""
    incident = incident_in(Status.OPEN, people)
    login(client, people["admin"])
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert page.index('id="incident-description"') < page.index('id="actions"') < page.index('id="timeline"')
    assert "order-first" not in page


def test_10_the_first_invalid_field_is_focused_by_app_js(client):
    """The server marks invalid fields `.is-invalid`; app.js focuses the first one on load."""
    script = client.get("/static/js/app.js").get_data(as_text=True)
    assert 'querySelector("main .is-invalid' in script and ".focus()" in script
