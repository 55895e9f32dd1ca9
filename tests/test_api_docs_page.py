"""/docs is the live /openapi.json read by people: built from the same `document()` on every
request, never a copy that drifts, listing every operation with its parameters and every schema."""
import re
from html import unescape

from app.api.openapi import HTTP_METHODS, document


def _text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _section(page: str, element_id: str) -> str:
    found = re.search(rf'<section[^>]*\bid="{re.escape(element_id)}".*?</section>', page, re.S)
    assert found, f"no section #{element_id}"
    return found.group(0)


def test_every_operation_of_openapi_json_is_on_the_page(client):
    """Each (method, path) of /openapi.json: a row of the operations table linking to its own
    section, whose heading names the method, path and summary and lists every parameter."""
    spec = client.get("/openapi.json").get_json()
    page = client.get("/docs").get_data(as_text=True)
    operations = [(method, path, item) for path, item in spec["paths"].items() for method in HTTP_METHODS
                  if method in item]
    assert len(operations) > 20
    table = page.split('id="operations"', 1)[1].split("</table>", 1)[0]
    for method, path, item in operations:
        op = item[method]
        assert f'href="#{op["operationId"]}"' in table, op["operationId"]
        section = _section(page, op["operationId"])
        heading = _text(section.split("</h3>", 1)[0])
        assert heading.startswith(f"{method.upper()} {path} — {op['summary']}"), heading
        for parameter in (item.get("parameters") or []) + (op.get("parameters") or []):
            assert f"<code>{parameter['name']}</code>" in section, (op["operationId"], parameter["name"])
    assert page.count('<section class="card mb-4"') == len(operations)
    for name, schema in spec["components"]["schemas"].items():
        shown = _section(page, f"schema-{name}")
        for field in schema.get("properties", {}):
            assert f"<code>{field}</code>" in shown, (name, field)


def test_the_page_is_built_from_the_live_document(client, app):
    """Whatever /openapi.json says, /docs says at once: an operation added to the document the app
    serves shows on both, so the two cannot drift."""
    doc = document()
    doc["paths"]["/drift-check/"] = {"get": {"operationId": "driftCheck", "summary": "Only in the live document",
                                             "responses": {"200": {"description": "Fine."}}}}
    try:
        assert "/drift-check/" in client.get("/openapi.json").get_json()["paths"]
        section = _section(client.get("/docs").get_data(as_text=True), "driftCheck")
        assert "Only in the live document" in _text(section)
    finally:
        del doc["paths"]["/drift-check/"]


def test_the_page_documents_prev_and_the_username_filter(client):
    """The two additions of issue 18 read on the page: the page's `prev` cursor and `technician`
    taking a username."""
    page = client.get("/docs").get_data(as_text=True)
    list_section = _text(_section(page, document()["paths"]["/incidents/"]["get"]["operationId"]))
    assert "or a username" in list_section
    schema = next(name for name, s in document()["components"]["schemas"].items()
                  if {"prev", "next", "items"} <= set(s.get("properties", {})))
    assert "the page before this one" in _text(_section(page, f"schema-{schema}"))
