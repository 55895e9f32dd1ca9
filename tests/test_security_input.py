"""Hostile input, through the real forms and the real API: markup and script in every text field,
SQL-looking strings, NUL and other control characters, over-long and non-UTF-8 input, forged CSRF
tokens, open redirects through ?next=, method overrides, oversize bodies and ids wider than any
database integer. Each is refused with a clear 4xx or stored harmlessly; none is ever a 500; and a
refusal leaves every table exactly as it was."""
import base64
import io
import json
import re
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from app.auth.emails import is_email
from app.auth.roles import Role
from app.extensions import db
from app.incidents import attachments
from app.incidents.enums import Status
from app.incidents.markdown import render as render_markdown
from app.models import Incident, OutboxMessage, User
from tests import factories
from tests.api_helpers import assert_problem, basic, bearer, snapshot
from tests.web_helpers import csrf_token, html, incident_in, login
from tests.xss_corpus import dangers_in_document

MARKUP = set("<>\"'&")
# Script, markup and template syntax in the shapes attackers use: element, attribute break-out,
# closing the surrounding element, URL schemes, template braces, pre-escaped text, JSON escapes.
XSS = [
    "<script>alert('xss-1')</script>",
    '"><img src=x onerror=alert("xss-2")>',
    "'><svg/onload=alert(3)>",
    "</textarea><script>alert(4)</script>",
    "</title><script>alert(5)</script>",
    '<a href="javascript:alert(6)">click me</a>',
    "<iframe srcdoc='<script>alert(7)</script>'></iframe>",
    "<style>body{display:none}</style>",
    "{{ 7*7 }} {% raw %}${7*7}",
    "&lt;script&gt;alert(9)&lt;/script&gt;",
    "<<SCRIPT>alert(10);//<</SCRIPT>",
    '<div style="background:url(javascript:alert(11))">x</div>',
]
SQLISH = [
    "'; DROP TABLE incidents; --",
    "\" OR 1=1 --",
    "%' OR '1'='1",
    "1; DELETE FROM users WHERE 1=1",
    "') UNION SELECT password_hash, username FROM users --",
    "\\'; UPDATE users SET role='admin' --",
    "incident* OR title:secret NEAR(a b)",   # FTS5 query syntax
]


def assert_inert(page: str, payload: str, where: str) -> None:
    """The raw payload never reaches the page as markup. (Text made only of entities, `&lt;script&gt;`,
    is inert as it stands: Markdown shows it as the characters it names, escaped again.)"""
    if MARKUP & set(payload) and set("<>\"'") & set(payload):
        assert payload not in page, f"unescaped payload on {where}"


def counts() -> dict[str, int]:
    """Rows per table."""
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Incident, User, OutboxMessage)}


# ---------------------------------------------------------------------------------------------
# Markup and script
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", XSS)
def test_markup_in_every_text_field_is_shown_as_text_in_pages_api_and_mail(client, people, payload):
    """Title, description, comment, resolution notes, reopen reason, people's names and emails and
    a token's name all carry the payload; every page shows it escaped, the API returns it as the
    same string, and every mail's HTML part escapes it."""
    admin, tech, reporter = people["admin"], people["tech"], people["reporter"]
    as_admin, as_tech = bearer(admin), bearer(tech)
    email = re.sub(r"[\s@]", "", payload)[:60] + "@example.test"
    # Markup characters that RFC 5322 forbids in an address (<, >, parentheses, quotes) make it
    # no address at all: refused, naming the field. The rest is stored and shown escaped.
    email_ok = is_email("r" + email)
    for prefix, person in (("r", reporter), ("t", tech)):
        response = client.patch(f"/users/{person.id}", json={"name": payload, "email": prefix + email},
                                headers=as_admin)
        if not email_ok:
            assert_problem(response, 422, "email")
            response = client.patch(f"/users/{person.id}", json={"name": payload}, headers=as_admin)
        assert response.status_code == 200, response.get_json()

    login(client, reporter)
    response = client.post("/ui/incidents/new", data={"title": payload, "description": payload,
                                                      "severity": "high", "category": "security"})
    assert response.status_code == 302, html(response)
    incident_id = int(response.headers["Location"].rsplit("/", 1)[1])
    one = f"/incidents/{incident_id}"
    assert client.post(f"/ui/incidents/{incident_id}/comments", data={"comment-body": payload}).status_code == 302
    assert client.post("/ui/account/tokens", data={"token-name": payload, "token-ttl_days": "7"}).status_code == 201
    assert client.put(one, json={"technician_id": tech.id}, headers=as_admin).status_code == 200
    assert client.put(one, json={"status": "in_progress"}, headers=as_tech).status_code == 200
    assert client.put(one, json={"status": "resolved", "resolution_notes": payload}, headers=as_tech).status_code == 200
    assert client.post(f"/ui/incidents/{incident_id}/reopen", data={"reopen-reason": payload}).status_code == 302

    pages = {"reporter": ["/", "/ui/incidents/", f"/ui/incidents/{incident_id}", "/ui/account"],
             "admin": ["/", "/ui/incidents/", f"/ui/incidents/{incident_id}", f"/ui/incidents/{incident_id}/edit",
                       "/ui/users/", "/ui/outbox/", f"/ui/incidents/?q={quote(payload)}"]}
    for role, paths in pages.items():
        client.post("/logout")
        login(client, people[role])
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert_inert(html(response), payload, f"{path} as {role}")
    detail = html(client.get(f"/ui/incidents/{incident_id}"))
    assert dangers_in_document(detail) == []
    # Plain text: the title, the reporter's and the technician's names. Markdown (html off), rendered
    # and sanitized: the description, the comment, the resolution notes and the reopen reason.
    assert detail.count(str(escape(payload))) >= 3
    assert detail.count(render_markdown(payload)) >= 4
    assert (str(escape("r" + email)) in html(client.get("/ui/users/"))) is email_ok

    response = client.get(one, headers=as_admin)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["title"] == " ".join(payload.split()) and body["description"] == payload
    assert body["resolution_notes"] == payload and body["reporter"]["name"] == payload
    bodies = [event.get("body") for event in client.get(f"{one}/events", headers=as_admin).get_json()["items"]]
    assert bodies.count(payload) == 3  # the comment, the resolution notes, the reopen reason

    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == incident_id)).all()
    assert {mail.event for mail in mails} >= {"created", "created_confirmation", "assigned", "started", "resolved",
                                              "reopened"}
    for mail in mails:
        assert_inert(mail.body_html, payload, f"the {mail.event} mail's HTML")
        assert dangers_in_document(mail.body_html) == [], mail.event
        assert str(escape(payload)) in mail.body_html or render_markdown(payload) in mail.body_html
        assert "\n" not in mail.subject and "\r" not in mail.subject


# ---------------------------------------------------------------------------------------------
# SQL-looking text
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", SQLISH)
def test_sql_looking_text_is_stored_verbatim_searched_and_never_run(client, people, payload):
    """Stored as written, found by a search for it, refused as a filter or sort value; the tables
    are all still there afterwards."""
    headers = bearer(people["admin"])
    response = client.post("/incidents/", json={"title": payload, "description": payload}, headers=headers)
    assert response.status_code == 201
    created = response.get_json()
    assert created["title"] == payload and created["description"] == payload
    other = client.post("/incidents/", json={"title": "Unrelated", "description": "Nothing here"}, headers=headers)
    assert other.status_code == 201

    found = client.get("/incidents/", query_string={"q": payload}, headers=headers)
    assert found.status_code == 200
    assert [item["id"] for item in found.get_json()["items"]] == [created["id"]]
    for name in ("status", "severity", "category", "sort", "technician", "reporter", "page", "per_page"):
        assert_problem(client.get("/incidents/", query_string={name: payload}, headers=headers), 422, name)

    login(client, people["admin"])
    page = client.get("/ui/incidents/", query_string={"q": payload, "status": payload, "sort": payload,
                                                      "technician": payload, "reporter": payload, "page": payload})
    assert page.status_code == 200
    assert str(escape(payload)) in html(page)
    assert counts() == {"incidents": 2, "users": 5, "outbox_messages": 2}
    client.post("/logout")
    response = login(client, payload, payload, expect=200)
    assert "Invalid username or password." in html(response)


# ---------------------------------------------------------------------------------------------
# NUL, control characters, non-UTF-8, length
# ---------------------------------------------------------------------------------------------
NUL = "nul\x00byte"
CONTROL = "bell\x07and\x1bescape"

# (name, method, path, JSON body, the field a 422 names); {id} is an open incident, {user} a reporter.
API_TEXT_FIELDS = [
    ("create title", "POST", "/incidents/", {"title": "{bad}", "description": "ok"}, "title"),
    ("create description", "POST", "/incidents/", {"title": "ok", "description": "{bad}"}, "description"),
    ("edit title", "PATCH", "/incidents/{id}", {"title": "{bad}"}, "title"),
    ("comment", "POST", "/incidents/{id}/comments", {"body": "{bad}"}, "body"),
    ("search", "GET", "/incidents/?q={bad}", None, "q"),
    ("user name", "PATCH", "/users/{user}", {"name": "{bad}"}, "name"),
    ("user email", "PATCH", "/users/{user}", {"email": "a{bad}@example.test"}, "email"),
    ("new user", "POST", "/users/", {"username": "x{bad}", "password": "long enough", "role": "reporter",
                                     "email": "n@example.test"}, "username"),
    ("token name", "POST", "/auth/tokens", {"username": "admin", "password": factories.PASSWORD, "name": "{bad}"},
     "name"),
]


def _fill(value, **values):
    if isinstance(value, str):
        return value.replace("{bad}", values["bad"]).replace("{id}", str(values["id"])) \
            .replace("{user}", str(values["user"]))
    if isinstance(value, dict):
        return {key: _fill(item, **values) for key, item in value.items()}
    return value


@pytest.mark.parametrize("bad", [NUL, CONTROL], ids=["nul", "control"])
@pytest.mark.parametrize(("name", "method", "path", "body", "field"), API_TEXT_FIELDS,
                         ids=[row[0] for row in API_TEXT_FIELDS])
def test_api_refuses_control_characters_in_every_text_field(client, people, bad, name, method, path, body, field):
    """422 naming the field; nothing changes (PostgreSQL could not even store a NUL)."""
    incident = factories.make_incident(people["reporter"])
    values = {"bad": bad if "?" not in path else quote(bad), "id": incident.id, "user": people["reporter"].id}
    headers = bearer(people["admin"])
    before = snapshot()
    response = client.open(_fill(path, **values), method=method, json=_fill(body, **values), headers=headers)
    assert_problem(response, 422, field)
    assert snapshot() == before


CONTROL_MESSAGE = "Must not contain control characters."
# (name, path, form, the message next to the field); {id} is an open incident.
FORM_TEXT_FIELDS = [
    ("new incident", "/ui/incidents/new", {"title": "{bad}", "description": "{bad}", "severity": "low",
                                           "category": "other"}, CONTROL_MESSAGE),
    ("edit", "/ui/incidents/{id}/edit", {"title": "{bad}", "description": "ok", "severity": "low",
                                         "category": "other"}, CONTROL_MESSAGE),
    ("comment", "/ui/incidents/{id}/comments", {"comment-body": "{bad}"}, CONTROL_MESSAGE),
    ("token name", "/ui/account/tokens", {"token-name": "{bad}", "token-ttl_days": "7"}, CONTROL_MESSAGE),
    ("new user", "/ui/users/", {"username": "newbie", "name": "{bad}", "email": "newbie@example.test",
                                "role": "reporter", "password": "long enough"}, CONTROL_MESSAGE),
    ("new user email", "/ui/users/", {"username": "newbie", "name": "New", "email": "new{bad}@example.test",
                                      "role": "reporter", "password": "long enough"}, "Must be a valid email address."),
    ("webhook description", "/ui/admin/webhooks/", {"new-url": "https://hooks.example.com/x", "new-events": "*",
                                                    "new-description": "{bad}"}, CONTROL_MESSAGE),
]


@pytest.mark.parametrize("bad", [NUL, CONTROL], ids=["nul", "control"])
@pytest.mark.parametrize(("name", "path", "form", "message"), FORM_TEXT_FIELDS,
                         ids=[row[0] for row in FORM_TEXT_FIELDS])
def test_forms_refuse_control_characters_in_every_text_field(client, people, bad, name, path, form, message):
    """422: the form comes back with the message next to the field; nothing is stored."""
    incident = factories.make_incident(people["admin"])
    login(client, people["admin"])
    before = snapshot()
    response = client.post(_fill(path, bad=bad, id=incident.id, user=0), data=_fill(form, bad=bad, id=0, user=0))
    assert response.status_code == 422, html(response)[:300]
    assert message in html(response)
    assert snapshot() == before


@pytest.mark.parametrize("username", [NUL, "admin\x00", CONTROL, "admin' --", "x" * 64, "x" * 10_000])
def test_hostile_usernames_at_the_login_form_and_the_api_are_just_wrong_credentials(client, people, username):
    """The login form comes back, Basic and token requests get 401: no 500, no lockout counted."""
    before = snapshot()
    response = login(client, username, "whatever", expect=200)
    assert 'name="username"' in html(response)
    assert "Welcome" not in html(response)
    assert_problem(client.get("/me", headers=basic(username, "whatever")), 401)
    response = client.post("/auth/tokens", json={"username": username[:64], "password": "whatever"})
    assert_problem(response, 401)
    assert snapshot() == before


LONG = [
    ("POST", "/incidents/", {"title": "t" * 201, "description": "ok"}, "title"),
    ("POST", "/incidents/", {"title": "ok", "description": "d" * 10_001}, "description"),
    ("POST", "/incidents/{id}/comments", {"body": "c" * 10_001}, "body"),
    ("PUT", "/incidents/{id}", {"title": "t" * 100_000}, "title"),
    ("GET", "/incidents/?q=" + "q" * 5_000, None, "q"),
    ("PATCH", "/users/{user}", {"name": "n" * 121}, "name"),
    ("POST", "/users/", {"username": "u" * 65, "password": "long enough", "role": "reporter",
                         "email": "u@example.test"}, "username"),
    ("POST", "/users/", {"username": "longpass", "password": "p" * 257, "role": "reporter",
                         "email": "u@example.test"}, "password"),
    ("POST", "/auth/tokens", {"username": "admin", "password": "p" * 257}, "password"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), LONG, ids=[f"{r[0]} {r[3]}" for r in LONG])
def test_api_refuses_over_long_values(client, people, method, path, body, field):
    """One character over the limit is a 422 naming the field; nothing changes."""
    incident = factories.make_incident(people["reporter"])
    headers = bearer(people["admin"])
    before = snapshot()
    response = client.open(_fill(path, bad="", id=incident.id, user=people["reporter"].id), method=method,
                           json=body, headers=headers)
    assert_problem(response, 422, field)
    assert snapshot() == before


@pytest.mark.parametrize(("path", "form"), [
    ("/ui/incidents/new", {"title": "t" * 201, "description": "ok", "severity": "low", "category": "other"}),
    ("/ui/incidents/new", {"title": "ok", "description": "d" * 10_001, "severity": "low", "category": "other"}),
    ("/ui/incidents/{id}/comments", {"comment-body": "c" * 10_001}),
    ("/ui/users/", {"username": "u" * 65, "name": "n" * 121, "email": "e" * 250 + "@example.test",
                    "role": "reporter", "password": "p" * 257}),
    ("/ui/account/tokens", {"token-name": "n" * 101, "token-ttl_days": "7"}),
], ids=["title", "description", "comment", "user", "token"])
def test_forms_refuse_over_long_values(client, people, path, form):
    """422 with the form and its messages; nothing stored."""
    incident = factories.make_incident(people["admin"])
    login(client, people["admin"])
    before = snapshot()
    response = client.post(path.replace("{id}", str(incident.id)), data=form)
    assert response.status_code == 422
    assert "at most" in html(response) or "characters" in html(response)
    assert snapshot() == before


RAW_FORMS = [
    ("/ui/incidents/new", b"title=caf\xe9+\xff\xfe&description=\xc3\x28broken&severity=low&category=other"),
    ("/ui/incidents/{id}/comments", b"comment-body=\xed\xa0\x80surrogate+\xf8\x88\x80\x80\x80"),
    ("/login", b"username=\xff\xfeadmin&password=\x80\x81"),
    ("/ui/users/", b"username=n\xffw&name=\xff&email=a\xff@example.test&role=reporter&password=long+enough"),
]


@pytest.mark.parametrize(("path", "raw"), RAW_FORMS, ids=[row[0] for row in RAW_FORMS])
def test_form_posts_with_bytes_that_are_not_utf8_are_refused_or_stored_as_valid_text(client, people, path, raw):
    """Werkzeug decodes them with replacement characters; whatever is stored is valid UTF-8."""
    incident = factories.make_incident(people["admin"])
    login(client, people["admin"])
    response = client.post(path.replace("{id}", str(incident.id)), data=raw,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 302, 422), html(response)[:300]
    db.session.expire_all()
    for row in db.session.scalars(select(Incident)):
        assert row.title.encode("utf-8") and row.description.encode("utf-8")
    for user in db.session.scalars(select(User)):
        assert user.username.encode("utf-8") and user.name.encode("utf-8")


@pytest.mark.parametrize("raw", [
    b'{"title": "\xff\xfe", "description": "x"}',
    b'{"title": "ok", "description": "\xc3\x28"}',
    b"\xef\xbb\xbf\xff",
    b'{"title": "\\ud800", "description": "lone surrogate"}',
    b'{"title": "ok", "description": "ok", "severity": NaN}',
    b"[" * 50_000 + b"]" * 50_000,
    b'"just a string"',
    b"",
], ids=["invalid-utf8", "truncated-sequence", "bom-then-garbage", "lone-surrogate", "nan", "deep-nesting",
        "not-an-object", "empty"])
def test_api_bodies_that_are_not_valid_json_text_are_400(client, people, raw):
    """Bytes that are not UTF-8, unpaired surrogates, NaN, absurd nesting, non-objects: 400, no change."""
    headers = bearer(people["reporter"])
    before = snapshot()
    response = client.post("/incidents/", data=raw, content_type="application/json", headers=headers)
    assert_problem(response, 400)
    assert snapshot() == before


def test_query_strings_paths_headers_and_cookies_that_are_not_utf8_do_no_harm(client, people):
    """%FF in a query or a path, junk in Authorization, If-Match and the session cookie."""
    headers = bearer(people["admin"])
    incident = factories.make_incident(people["reporter"])
    assert client.get("/incidents/?q=%ff%fe", headers=headers).status_code == 200
    assert_problem(client.get("/incidents/%ff", headers=headers), 404)
    assert_problem(client.get("/me", headers={"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()}),
                   401)
    assert_problem(client.get("/me", headers={"Authorization": "Basic !!!not-base64"}), 401)
    assert_problem(client.get("/me", headers={"Authorization": "Bearer \x7f\x01"}), 401)
    before = snapshot()
    assert_problem(client.put(f"/incidents/{incident.id}", json={"title": "x"},
                              headers={**headers, "If-Match": '"\x01\xff'}), 412)
    assert snapshot() == before
    anonymous = client.application.test_client()
    anonymous.set_cookie("session", "\xff\x00garbage.not.signed")
    assert anonymous.get("/").status_code == 302
    login(client, people["admin"])
    assert client.get("/ui/incidents/?q=%ff%fe&status=%ff").status_code == 200
    assert client.get("/ui/incidents/%ff").status_code == 404


# ---------------------------------------------------------------------------------------------
# Ids no database integer can hold
# ---------------------------------------------------------------------------------------------
HUGE_IDS = [2**31, 2**63, 10**30]


@pytest.mark.parametrize("huge", HUGE_IDS)
def test_ids_wider_than_a_database_integer_are_404_on_every_route(client, people, huge):
    """Every route of the app with an id in its path: a 404 (the outbox's retry button: its 'not
    found' message on the outbox page), never a driver overflow (500)."""
    login(client, people["admin"])
    headers = bearer(people["admin"])
    routes = [(rule, method) for rule in client.application.url_map.iter_rules()
              for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
              if any(name.endswith("_id") for name in rule.arguments)]
    assert len(routes) >= 15
    before = snapshot()
    for rule, method in routes:
        path = re.sub(r"<[^>]+>", str(huge), rule.rule)
        response = client.open(path, method=method, json={} if method != "GET" else None, headers=headers)
        if rule.endpoint == "outbox.retry" and response.status_code == 302:
            with client.session_transaction() as session:
                assert session.pop("_flashes") == [("danger", f"Outbox message {huge} was not found.")]
            continue
        assert response.status_code == 404, f"{method} {path}: {response.status_code}"
    assert snapshot() == before
    for name in ("technician", "reporter", "page", "per_page"):  # as list filters: dropped, or refused
        assert client.get("/ui/incidents/", query_string={name: huge}).status_code == 200, name
        response = client.get("/incidents/", query_string={name: huge}, headers=headers)
        if name == "per_page":  # clamped to 100, as the SPEC says
            assert response.status_code == 200 and response.get_json()["per_page"] == 100
        else:
            assert_problem(response, 422, name)


def _b64(raw: str | bytes) -> str:
    return base64.urlsafe_b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode().rstrip("=")


HOSTILE_CURSORS = [
    "garbage", "%00", "x" * 5_000, _b64(b"\xff\xfe"), _b64("[]"), _b64('["-created_at", null, null]'),
    _b64('["-created_at", "2026-01-01T00:00:00+99:00", 1]'), _b64('["-severity", 9, "2026", 1]'),
    _b64('["-created_at", ' + "[" * 150 + "]" * 150 + ", 1]"),
    _b64('["-created_at", "2026-01-01T00:00:00", 2147483648]'),
    _b64('["-created_at", "2026-01-01T00:00:00", 99999999999999999999999]'),
]


@pytest.mark.parametrize("cursor", HOSTILE_CURSORS)
def test_a_forged_list_cursor_is_a_422_never_a_500(client, people, cursor):
    """The list's keyset cursor is opaque text a client sends back: anything but a real one is refused."""
    factories.make_incident(people["reporter"])
    response = client.get("/incidents/", query_string={"cursor": cursor}, headers=bearer(people["admin"]))
    assert_problem(response, 422, "cursor")
    login(client, people["admin"])
    assert client.get("/ui/incidents/", query_string={"cursor": cursor}).status_code == 200


# ---------------------------------------------------------------------------------------------
# Forged CSRF tokens, on every form the portal has
# ---------------------------------------------------------------------------------------------
def _portal_posts(app) -> list[str]:
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if "POST" in rule.methods and not rule.endpoint.startswith("api.")})


def test_every_portal_form_refuses_forged_csrf_tokens(make_app):
    """Missing, made up, from another session, tampered with, or only in a header: 400 on every POST
    route outside the API, and nothing changes. The login form too (no login CSRF)."""
    app = make_app(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False)
    with app.app_context():
        admin = factories.make_user(Role.ADMIN, username="csrfadmin")
        technician = factories.make_user(Role.TECHNICIAN, username="csrftech")
        incident = factories.bring_to(Status.RESOLVED, incident=factories.make_incident(admin), admin=admin,
                                      technician=technician)
        upload = SimpleNamespace(filename="notes.txt", stream=io.BytesIO(b"kept\n"))
        attachment = attachments.add_attachments(actor=admin, incident=incident, uploads=[upload])[0]
        values = {"incident_id": incident.id, "user_id": technician.id, "token_id": 1, "message_id": 1,
                  "token": "not-a-reset-link", "priority": "P1", "attachment_id": attachment.id,
                  "endpoint_id": 1, "delivery_id": 1, "view_id": 1}
        factories.make_user(Role.REPORTER, username="tokenowner")
        paths = [re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(values[m.group(1)]), rule)
                 for rule in _portal_posts(app)]
    victim, attacker = app.test_client(), app.test_client()
    login(victim, "csrfadmin", form={"csrf_token": csrf_token(victim)})
    real = csrf_token(victim, "/ui/account")
    others = csrf_token(attacker)
    tampered = real[:-2] + ("AA" if not real.endswith("AA") else "BB")
    forgeries = {"missing": ({}, {}), "made up": ({"csrf_token": "forged"}, {}),
                 "another session's": ({"csrf_token": others}, {}), "tampered": ({"csrf_token": tampered}, {}),
                 "header, another session's": ({}, {"X-CSRFToken": others})}
    assert len(paths) >= 15
    with app.app_context():
        before = snapshot()
    for path in paths:
        for forgery, (fields, headers) in forgeries.items():
            form = {"title": "x", "description": "y", "comment-body": "z", "reopen-reason": "r", **fields}
            response = victim.post(path, data=form, headers=headers)
            assert response.status_code == 400, f"{forgery} token on {path}: {response.status_code}"
            assert "The form expired" in response.text, f"{forgery} token on {path}"  # plain words (issue 18)
    login(attacker, "csrfadmin", expect=400, form={"csrf_token": "forged"})
    with app.app_context():
        assert snapshot() == before
    assert victim.get("/ui/account").status_code == 200  # still logged in: the refusals did not log out


# ---------------------------------------------------------------------------------------------
# ?next= and open redirects
# ---------------------------------------------------------------------------------------------
OFF_SITE = [
    "https://evil.example/",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "http:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "%2F%2Fevil.example",
    "/\r\nSet-Cookie: pwned=1",
    "/\r\nLocation: https://evil.example",
    "/\x00//evil.example",
    "data:text/html,<script>alert(1)</script>",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_never_leaves_the_site(client, people, target):
    """After logging in, and when a logged-in user opens /login: the dashboard, not the target."""
    response = login(client, people["reporter"], query_string={"next": target})
    assert response.headers["Location"] == "/"
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/"


def test_next_follows_a_local_path(client, people):
    """The one thing ?next= is for still works."""
    response = login(client, people["reporter"], query_string={"next": "/ui/incidents/?status=open"})
    assert response.headers["Location"] == "/ui/incidents/?status=open"


# ---------------------------------------------------------------------------------------------
# Method overrides
# ---------------------------------------------------------------------------------------------
OVERRIDES = ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"]


@pytest.mark.parametrize("header", OVERRIDES)
def test_method_override_headers_and_fields_change_nothing(client, people, header):
    """A GET stays a read, a POST stays a POST (405 where POST is not allowed), a `_method` field
    is just a field: no override turns a request into a PUT, PATCH or DELETE."""
    incident = factories.make_incident(people["reporter"])
    api = bearer(people["admin"])
    one = f"/incidents/{incident.id}"
    before = snapshot()
    for method in ("PUT", "PATCH", "DELETE"):
        response = client.get(one, headers={**api, header: method})
        assert response.status_code == 200 and response.get_json()["version"] == incident.version
        assert_problem(client.post(one, json={"title": "Overridden"}, headers={**api, header: method}), 405)
        assert_problem(client.post(f"/users/{people['reporter'].id}", json={"active": False},
                                   headers={**api, header: method}), 405)
    login(client, people["admin"])
    for method in ("POST", "DELETE"):
        response = client.get(f"/ui/users/{people['reporter'].id}/deactivate", headers={header: method})
        assert response.status_code == 405
        response = client.get(f"/ui/incidents/{incident.id}/edit?_method={method}",
                              headers={header: method})
        assert response.status_code == 200
    response = client.post(f"/ui/incidents/{incident.id}", data={"_method": "DELETE"}, headers={header: "DELETE"})
    assert response.status_code == 405
    assert_problem(client.delete(one, headers=api), 405)
    assert snapshot() == before


# ---------------------------------------------------------------------------------------------
# Oversize bodies
# ---------------------------------------------------------------------------------------------
MIB = 1024 * 1024


def test_an_oversize_api_body_is_413_problem_json(client, people):
    """Over 1 MiB: refused before it is parsed, as problem+json; nothing changes."""
    headers = bearer(people["reporter"])
    before = snapshot()
    body = json.dumps({"title": "big", "description": "d" * MIB})
    response = client.post("/incidents/", data=body, content_type="application/json", headers=headers)
    assert_problem(response, 413)
    response = client.post("/auth/tokens", data=json.dumps({"username": "x", "password": "p" * (2 * MIB)}),
                           content_type="application/json")
    assert_problem(response, 413)
    assert snapshot() == before


@pytest.mark.parametrize("shape", ["body over 1 MiB", "file upload", "too many parts"])
def test_an_oversize_form_post_is_a_friendly_413_page(app, client, people, shape):
    """The portal's own page, in the layout, saying what happened and what to do; nothing stored.
    (The report form takes files: its request limit follows ATTACHMENT_MAX_BYTES, made small here.)"""
    app.config["ATTACHMENT_MAX_BYTES"] = MIB // 10
    login(client, people["reporter"])
    before = snapshot()
    form = {"title": "big", "description": "small", "severity": "low", "category": "other"}
    if shape == "body over 1 MiB":
        form["description"] = "d" * (MIB + 1)
    elif shape == "file upload":
        form["attachment"] = (io.BytesIO(b"\0" * (2 * MIB)), "core.dump")
    else:
        form.update({f"field{i}": "x" for i in range(2000)}, attachment=(io.BytesIO(b"x"), "x.txt"))
    response = client.post("/ui/incidents/new", data=form)
    assert response.status_code == 413
    page = html(response)
    assert 'aria-label="Main"' in page and "Traceback" not in page
    assert "too large" in page.lower() and "shorten" in page.lower()
    assert snapshot() == before


def test_the_logged_out_portal_also_answers_an_oversize_login_with_a_page(client):
    """Even before anyone logs in (the login form is the one form strangers can reach)."""
    response = login(client, "x", "p" * (MIB + 10), expect=413)
    assert "Log in" in html(response)


def test_static_files_cannot_be_reached_outside_their_folders(client):
    """Path traversal through the static routes is a 404."""
    for path in ["/static/../config.py", "/static/..%2fconfig.py", "/static/%2e%2e/%2e%2e/run.py",
                 "/bootstrap/static/../../../../etc/passwd", "/static/css/../../../.env"]:
        assert client.get(path).status_code == 404, path


def test_a_reporter_cannot_reach_another_incident_by_guessing_or_by_search(client, people):
    """Ids, search and filters never reveal someone else's incident to a reporter."""
    secret = incident_in(Status.OPEN, {**people, "reporter": people["reporter_other"]}, title="Secret outage")
    headers = bearer(people["reporter"])
    assert_problem(client.get(f"/incidents/{secret.id}", headers=headers), 404)
    assert_problem(client.get(f"/incidents/{secret.id}/events", headers=headers), 404)
    for query in ({"q": "secret"}, {"reporter": str(people["reporter_other"].id)}, {"status": "open"}):
        assert client.get("/incidents/", query_string=query, headers=headers).get_json()["total"] == 0
    login(client, people["reporter"])
    assert "Secret outage" not in html(client.get("/ui/incidents/?q=secret"))
    assert client.get("/incidents/", headers=basic("reporter")).get_json()["total"] == 0
