"""Issue 14, finding 10: the Host header shapes no URL the API hands back (Location and Link come
from APP_BASE_URL), a Host outside TRUSTED_HOSTS is refused with 400, tokens and every answer
computed for someone say `Cache-Control: no-store` (the server's own replay cache still keeps
them), and HTTPS deployments send HSTS. In process, and on the real server (gunicorn as the
image runs it)."""
import os
import re
import subprocess
import sys

import pytest
import requests

from app.auth.roles import Role
from app.extensions import db
from app.incidents.references import absolute_url
from app.security import STRICT_TRANSPORT_SECURITY, default_trusted_hosts
from tests import factories
from tests.api_helpers import assert_problem, basic, bearer, held_context, snapshot
from tests.load.data import headers as bearer_of
from tests.load.data import seed
from tests.load.server import REPO, Gunicorn
from tests.perf_helpers import recording
from tests.test_deploy_gunicorn import IMAGE, localize
from tests.web_helpers import login

PUBLIC = "https://portal.example"
EVIL = {"Host": "evil.example"}
NEW_INCIDENT = {"title": "Printer on fire", "description": "Third floor."}


@pytest.fixture
def published(make_app):
    """An app published at https://portal.example, which the test client reaches as `localhost`."""
    with held_context(make_app(APP_BASE_URL=PUBLIC)) as app:
        yield app


def _links(response) -> list[str]:
    """The URLs of an RFC 8288 Link header."""
    return re.findall(r"<([^>]+)>", response.headers["Link"])


def test_a_forged_host_is_400_and_changes_nothing(client, people):
    """`Host: evil.example` on a report: refused before anything runs (it was 201 with
    `Location: http://evil.example/incidents/<id>`)."""
    headers = {**bearer(people["reporter"]), **EVIL}
    before = snapshot()
    response = client.post("/incidents/", headers=headers, json=NEW_INCIDENT)
    assert_problem(response, 400)
    assert "Location" not in response.headers
    assert snapshot() == before


def test_every_route_and_method_refuses_a_forged_host_without_a_5xx(app, client):
    """No URL can be built for a refused host, so the refusal renders no template: 400 everywhere,
    problem+json on the API's paths, plain text elsewhere."""
    seen = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        for method in sorted(rule.methods - {"OPTIONS"}):
            response = client.open(path, method=method, headers=EVIL)
            assert response.status_code == 400, (method, path, response.status_code)
            seen.add(response.mimetype)
    assert seen == {"application/problem+json", "text/plain"}


def test_location_and_link_are_built_from_app_base_url(published):
    """Asked as `localhost` (a trusted name), the URLs handed back still name the published portal."""
    admin = factories.make_user(Role.ADMIN, username="admin")
    client = published.test_client()
    for _ in range(3):
        created = client.post("/incidents/", headers=bearer(admin), json=NEW_INCIDENT)
        assert created.headers["Location"] == f"{PUBLIC}/incidents/{created.get_json()['id']}"
    user = client.post("/users/", headers=bearer(admin), json={
        "username": "newcomer", "password": "long enough", "role": "reporter", "email": "new@example.test"})
    assert user.headers["Location"] == f"{PUBLIC}/users/{user.get_json()['id']}"
    page = client.get("/incidents/?per_page=1&page=2&status=open", headers=bearer(admin))
    links = _links(page)
    assert len(links) == 4, links
    assert all(url.startswith(f"{PUBLIC}/incidents/?") and "status=open" in url for url in links), links
    with published.test_request_context("/", base_url="http://localhost"):
        assert absolute_url("api.incident", incident_id=7) == f"{PUBLIC}/incidents/7"


def test_trusted_hosts_default_to_app_base_url_and_the_loopback_names():
    """The published host (lowercased, without port or path) and the names the health check and a
    developer's browser use."""
    assert default_trusted_hosts("https://Portal.Example:8443/desk") == ["portal.example", "localhost", "127.0.0.1"]
    assert default_trusted_hosts("http://127.0.0.1:5000") == ["127.0.0.1", "localhost"]


@pytest.mark.parametrize(("host", "status"), [("desk.example.com", 200), ("example.com", 200),
                                              ("example.org", 400), ("localhost", 400)])
def test_configured_trusted_hosts_replace_the_default(make_app, host, status):
    """TRUSTED_HOSTS=.example.com: that domain and its subdomains, nothing else (loopback included)."""
    client = make_app(TRUSTED_HOSTS=[".example.com"]).test_client()
    assert client.get("/health", headers={"Host": host}).status_code == status


@pytest.mark.parametrize(("raw", "expected"), [(None, "None"), ("", "None"),
                                               (" a.test , .b.test,,", "['a.test', '.b.test']")])
def test_trusted_hosts_are_read_from_the_environment(raw, expected):
    """A comma-separated list; unset or empty leaves the default to app/security.py."""
    env = {k: v for k, v in os.environ.items() if k != "TRUSTED_HOSTS"} | ({} if raw is None else
                                                                           {"TRUSTED_HOSTS": raw})
    shown = subprocess.run([sys.executable, "-c", "import config; print(config.Config.TRUSTED_HOSTS)"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    assert shown.strip() == expected


def test_tokens_and_answers_computed_for_someone_are_no_store(client, people):
    """A new token, and every answer to a request with credentials or a signed-in session (errors
    too); anonymous pages and static files keep their own caching."""
    issued = client.post("/auth/tokens", json={"username": "admin", "password": factories.PASSWORD})
    assert (issued.status_code, issued.headers.get("Cache-Control")) == (201, "no-store")
    for headers, path in ((bearer(people["admin"]), "/me"), (basic("tech"), "/incidents/"),
                          ({"Authorization": "Bearer wrong"}, "/incidents/"), (bearer(people["admin"]), "/nowhere")):
        assert client.get(path, headers=headers).headers.get("Cache-Control") == "no-store", (headers, path)
    for path in ("/login", "/health", "/openapi.json"):
        assert "no-store" not in client.get(path).headers.get("Cache-Control", ""), path
    login(client, people["admin"])
    for path in ("/", "/ui/incidents/", "/ui/users/", "/ui/nowhere"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path
    static = client.get("/static/css/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


@pytest.mark.sqlite_only
def test_the_replay_cache_keeps_and_replays_no_store_answers(make_app):
    """no-store speaks to the client's caches: the server's own (app/caching.py) still replays a
    repeated bearer GET without running SQL, header included."""
    app = make_app(RESPONSE_CACHE_SECONDS=60.0)
    with app.app_context():
        headers = bearer(factories.make_user(Role.ADMIN, username="admin"))
        db.session.remove()
    client = app.test_client()
    answers = []
    for _ in range(3):  # the first use of a token may write its last use, which ends the entry
        with app.app_context(), recording() as seen:
            response = client.get("/me", headers=headers)
        answers.append((response.status_code, response.headers.get("Cache-Control"), len(seen)))
    assert answers[-1] == (200, "no-store", 0), answers


@pytest.mark.parametrize(("base", "proxies", "proto", "hsts"), [
    (PUBLIC, 0, None, True),
    ("http://127.0.0.1:5000", 0, None, False),
    ("http://127.0.0.1:5000", 0, "https", False),  # a client cannot claim HTTPS without a trusted proxy
    ("http://127.0.0.1:5000", 1, "https", True),
], ids=["https-base", "http", "forged-proto", "trusted-proxy"])
def test_hsts_when_served_over_https(make_app, base, proxies, proto, hsts):
    """Strict-Transport-Security on every answer once the portal is published over HTTPS or the
    request came over it through the trusted proxy."""
    client = make_app(APP_BASE_URL=base, TRUSTED_PROXIES=proxies).test_client()
    for path in ("/health", "/login", "/incidents/"):
        response = client.get(path, headers={"X-Forwarded-Proto": proto} if proto else {})
        assert response.headers.get("Strict-Transport-Security") == (STRICT_TRANSPORT_SECURITY if hsts else None)


def test_on_the_real_server(database_url, tmp_path):
    """gunicorn as the image runs it, published at https://portal.example: a forged Host is 400,
    Location names the published portal, the answer is no-store with HSTS, and the image's
    HEALTHCHECK (which calls 127.0.0.1) still passes."""
    token = seed(database_url, admins=0, reporters=1, technicians=0).reporters[0]
    server = Gunicorn(database_url, tmp_path / "gunicorn.log", workers=2, threads=2)
    server.env["APP_BASE_URL"] = PUBLIC
    server.start()
    try:
        url = f"{server.base}/incidents/"
        forged = requests.post(url, headers={**bearer_of(token), **EVIL}, json=NEW_INCIDENT, timeout=30)
        assert (forged.status_code, forged.headers["Content-Type"]) == (400, "application/problem+json")
        created = requests.post(url, headers=bearer_of(token), json=NEW_INCIDENT, timeout=30)
        assert created.status_code == 201
        assert created.headers["Location"] == f"{PUBLIC}/incidents/{created.json()['id']}"
        assert created.headers["Cache-Control"] == "no-store"
        assert created.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
        healthcheck = subprocess.run(localize(IMAGE["healthcheck"]), env=server.env, capture_output=True, timeout=30)
        assert healthcheck.returncode == 0, healthcheck.stderr
    finally:
        server.stop()
