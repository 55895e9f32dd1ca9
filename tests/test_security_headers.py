"""Security headers on every response: each GET route of app.url_map (as a visitor and as an admin),
static files, redirects, and every kind of error page and problem+json the app can answer with."""
import io
import re
from types import SimpleNamespace

import pytest

from app.auth.roles import Role
from app.auth.service import issue_token
from app.extensions import db
from app.incidents import attachments
from app.incidents.enums import Status
from app.models import OutboxMessage, WebhookDelivery
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks import events as webhook_events
from tests import factories
from tests.api_helpers import bearer
from tests.attachment_helpers import PNG
from tests.web_helpers import incident_in, login

# A value for every kind of URL argument the app has; a route with a new one fails until it is added.
ARGUMENTS = {"filename": {"static": "css/app.css", "bootstrap.static": "css/bootstrap.min.css"},
             "incident_id": "{incident}", "user_id": "{user}", "token_id": "{token}", "message_id": "{message}",
             "token": "not-a-reset-link", "priority": "P1", "attachment_id": "{attachment}",
             "endpoint_id": "{webhook}", "delivery_id": "{delivery}"}
# A file's bytes come with a sandbox for a policy instead of the pages' one (SPEC, Attachments).
DOWNLOADS = {"api.attachment", "web.download_attachment", "web.preview_attachment"}


def check(response, where: str) -> None:
    """CSP without inline code, no sniffing, no framing, a referrer policy."""
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives.get("default-src") == ["'self'"], where
    assert directives.get("script-src") == ["'self'"], where
    assert directives.get("style-src") == ["'self'"], where
    assert directives.get("object-src") == ["'none'"], where
    assert directives.get("frame-ancestors") == ["'none'"], where
    assert directives.get("base-uri") == ["'self'"] and directives.get("form-action") == ["'self'"], where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp, where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Referrer-Policy") in {"same-origin", "no-referrer", "strict-origin-when-cross-origin"}, where


def check_download(response, where: str) -> None:
    """Never rendered as a page of the portal: sandboxed, not sniffed, not framed."""
    headers = response.headers
    assert headers.get("Content-Security-Policy") == "sandbox", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Content-Disposition", "").startswith(("attachment;", "inline;")), where


def get_paths(app, values: dict[str, int]) -> list[tuple[str, str]]:
    """(endpoint, path) for every GET route, arguments filled in."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        filled = {}
        for name in rule.arguments:
            assert name in ARGUMENTS, f"{rule.rule}: add a sample value for <{name}> to ARGUMENTS"
            sample = ARGUMENTS[name]
            sample = sample[rule.endpoint] if isinstance(sample, dict) else sample
            filled[name] = sample.format(**values)
        paths.append((rule.endpoint, re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m, f=filled: str(f[m.group(1)]),
                                            rule.rule)))
    return paths


@pytest.fixture
def values(people):
    """Ids of things the routes take: an incident, a user, a token, a mail."""
    incident = incident_in(Status.RESOLVED, people)
    token, _ = issue_token(user=people["admin"])
    upload = SimpleNamespace(filename="screen.png", stream=io.BytesIO(PNG))
    attachment = attachments.add_attachments(actor=people["reporter"], incident=incident, uploads=[upload])[0]
    endpoint, _secret = webhook_endpoints.create_endpoint(actor=people["admin"], url="https://hooks.example.com/h",
                                                          events=["*"])
    webhook_events.queue(webhook_events.CREATED, incident)
    db.session.commit()
    return {"incident": incident.id, "user": people["reporter"].id, "token": token.id,
            "message": db.session.query(OutboxMessage.id).first()[0], "attachment": attachment.id,
            "webhook": endpoint.id, "delivery": db.session.query(WebhookDelivery.id).first()[0]}


@pytest.mark.parametrize("who", ["visitor", "admin"])
def test_every_get_route_carries_the_headers(app, client, people, values, who):
    """Pages, redirects to the login page, API documents and errors alike."""
    headers = {}
    if who == "admin":
        login(client, people["admin"])
        headers = bearer(people["admin"])
    paths = get_paths(app, values)
    assert len(paths) >= 18
    served_downloads = 0
    for endpoint, path in paths:
        api = endpoint.startswith("api.")
        response = client.get(path, headers=headers if api else {})
        response.get_data()  # read to its end: a streamed answer pops its request context now, not when collected later
        where = f"GET {path} as {who} ({response.status_code})"
        if endpoint in DOWNLOADS and response.status_code == 200:
            check_download(response, where)
            served_downloads += 1
            continue
        check(response, where)
        public = ("api.health", "api.health_ready", "api.openapi")
        if api and path not in ("/docs",) and who == "visitor" and endpoint not in public:
            assert response.status_code == 401, path
    assert served_downloads == (len(DOWNLOADS) if who == "admin" else 0)


def test_every_kind_of_error_carries_the_headers(make_app):
    """400, 401, 403, 404, 405, 413, 415, 422, 429 and 500: HTML pages and problem+json."""
    app = make_app(RATELIMIT_TOKENS="1 per minute")

    @app.get("/ui/boom")
    def boom():
        raise RuntimeError("boom")

    @app.get("/incidents/boom/now")
    def api_boom():
        raise RuntimeError("boom")

    with app.app_context():
        reporter = factories.make_user(Role.REPORTER, username="hdrreporter")
        api = bearer(reporter)
    client = app.test_client()
    login(client, "hdrreporter")
    cases = [
        ("GET", "/ui/incidents/999999", {}, None, 404),
        ("GET", "/no/such/page", {}, None, 404),
        ("GET", "/ui/users/", {}, None, 403),
        ("POST", "/ui/incidents/", {}, None, 405),
        ("POST", "/ui/incidents/new", {}, {"title": "t", "description": "d" * (1024 * 1024 + 1)}, 413),
        ("GET", "/ui/boom", {}, None, 500),
        ("GET", "/incidents/999999", api, None, 404),
        ("GET", "/incidents/", {}, None, 401),
        ("GET", "/users/", api, None, 403),
        ("DELETE", "/incidents/", api, None, 405),
        ("POST", "/incidents/", {**api, "Content-Type": "application/json"}, "{not json", 400),
        ("POST", "/incidents/", {**api, "Content-Type": "text/plain"}, "x", 415),
        ("POST", "/incidents/", api, {"title": ""}, 422),
        ("GET", "/incidents/boom/now", api, None, 500),
    ]
    for method, path, headers, body, status in cases:
        kwargs = {"json": body} if isinstance(body, dict) and path.startswith("/incidents") else \
            {"data": body} if body is not None else {}
        response = client.open(path, method=method, headers=headers, **kwargs)
        assert response.status_code == status, (method, path, response.status_code)
        check(response, f"{method} {path} ({status})")
    for _ in range(2):
        response = client.post("/auth/tokens", json={"username": "hdrreporter", "password": "wrong"})
    assert response.status_code == 429
    check(response, "429 from the token endpoint")
