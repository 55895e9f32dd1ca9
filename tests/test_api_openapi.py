"""/openapi.json describes every route the API serves, its answers validate against it; /docs and /health."""
import re
from html.parser import HTMLParser

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from app.api.openapi import HTTP_METHODS, api_rules, openapi_path
from app.extensions import db
from app.incidents.enums import Status
from tests import factories
from tests.api_helpers import assert_problem, bearer


@pytest.fixture
def document(client):
    """The published document (no credentials needed)."""
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _validator(document: dict, name: str) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator for one component (OpenAPI 3.1 schemas are JSON Schema)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(schema, format_checker=FormatChecker())


def test_every_route_and_method_is_documented_and_nothing_else(app, document):
    """The document lists exactly the (path, method) pairs the URL map serves."""
    served = {(openapi_path(rule), method) for rule in api_rules() for method in HTTP_METHODS
              if method.upper() in rule.methods}
    documented = {(path, method) for path, item in document["paths"].items() for method in item
                  if method in HTTP_METHODS}
    assert documented == served
    # 27 before issue 16, then watchers (GET, POST, DELETE), attachments (GET, POST; GET, DELETE one), PATCH /me;
    # issue 17's webhooks: the list (GET, POST), one (GET, PATCH, DELETE), rotate-secret, deliveries, replay;
    # issue 18's queue: POST /incidents/bulk, /views/ (GET, POST), DELETE /views/<id>; then PATCH /views/<id>.
    assert len(served) == 48
    assert document["openapi"] == "3.1.0"


def test_operations_are_complete(document):
    """Unique ids, a summary, auth unless public, 401 when authenticated, problem+json for errors."""
    operations = [(path, method, op) for path, item in document["paths"].items()
                  for method, op in item.items() if method in HTTP_METHODS]
    assert len({op["operationId"] for _, _, op in operations}) == len(operations)
    public = {("/auth/tokens", "post"), ("/health", "get"), ("/health/ready", "get"), ("/openapi.json", "get")}
    for path, method, op in operations:
        assert op["summary"]
        assert (op["security"] == []) == ((path, method) in public)
        assert ("401" in op["responses"]) == ((path, method) not in public or path == "/auth/tokens")
        assert "500" in op["responses"]
        if "{" in path:
            assert "404" in op["responses"]
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= set(op["responses"])
    for name, response in document["components"]["responses"].items():
        assert list(response["content"]) == ["application/problem+json"], name


def test_every_reference_resolves(document):
    """No dangling $ref anywhere in the document."""
    refs = re.findall(r'"\$ref": "#/([^"]+)"', str(document).replace("'", '"'))
    assert refs
    for ref in refs:
        node = document
        for part in ref.split("/"):
            node = node[part]


def test_enum_inputs_are_documented_with_the_pattern_the_api_applies(document):
    """The status pattern in the document accepts what the API accepts and nothing else."""
    pattern = document["components"]["schemas"]["IncidentUpdate"]["properties"]["status"]["pattern"]
    for accepted in ("open", "In Progress", "in_progress", "IN-PROGRESS", "Resolved"):
        assert re.fullmatch(pattern, accepted)
    for refused in ("done", "inprogress", " open", "open\n", "in  progress"):
        assert not re.fullmatch(pattern, refused)


def test_real_answers_validate_against_the_document(client, people, document):
    """An incident, a page, a timeline, a user, a token and a 422 problem each match their schema."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.RESOLVED, incident=incident, admin=people["admin"], technician=people["tech"])
    headers = bearer(people["admin"])
    samples = {
        "Incident": client.get(f"/incidents/{incident.id}", headers=headers),
        "IncidentPage": client.get("/incidents/", headers=headers),
        "EventList": client.get(f"/incidents/{incident.id}/events", headers=headers),
        "UserList": client.get("/users/", headers=headers),
        "Token": client.post("/auth/tokens", json={"username": "tech", "password": factories.PASSWORD}),
        "Problem": client.post("/incidents/", headers=headers, json={"title": ""}),
    }
    for name, response in samples.items():
        errors = list(_validator(document, name).iter_errors(response.get_json()))
        assert not errors, (name, [e.message for e in errors])


class _Page(HTMLParser):
    """Collects what a CSP-strict page must not have."""

    def __init__(self):
        super().__init__()
        self.scripts, self.inline_styles, self.urls, self.text = 0, 0, [], []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.scripts += tag == "script"
        self.inline_styles += "style" in attributes or tag == "style"
        self.urls += [value for name, value in attrs if name in {"href", "src"}]

    def handle_data(self, data):
        self.text.append(data)


def test_the_docs_page_shows_every_operation_from_local_files_only(client, document):
    """/docs: server-rendered, no script, no inline style, nothing loaded from another host."""
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = _Page()
    page.feed(response.get_data(as_text=True))
    assert (page.scripts, page.inline_styles) == (0, 0)
    assert page.urls and all(url.startswith(("/", "#")) for url in page.urls), page.urls
    text = " ".join(page.text)
    for path, item in document["paths"].items():
        assert path in text
        for method in HTTP_METHODS:
            if method in item:
                assert item[method]["summary"] in text
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in response.get_data(as_text=True)


def test_health_is_public_and_says_ok(client):
    """200 {"status": "ok"} without credentials."""
    response = client.get("/health")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_health_is_503_when_the_database_does_not_answer(client, monkeypatch):
    """A probe that fails tells the load balancer, as problem+json."""
    def down(*args, **kwargs):
        raise ConnectionError("database is gone")

    monkeypatch.setattr(db.session, "execute", down)
    assert_problem(client.get("/health"), 503)


def test_the_upload_is_documented_as_multipart_with_its_file_field(document):
    """The one body that is not JSON: the upload's multipart form, with its binary `file`."""
    body = document["paths"]["/incidents/{incident_id}/attachments"]["post"]["requestBody"]
    assert list(body["content"]) == ["multipart/form-data"]
    form = document["components"]["schemas"]["UploadForm"]
    assert form["required"] == ["file"] and form["properties"]["file"] == {
        "type": "string", "format": "binary", "description": "The file; one per request."}
