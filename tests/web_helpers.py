"""Helpers for the web tests: log in, read a CSRF token, build an incident in a state, read pages."""
import re
from html import unescape

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.incidents.enums import Status
from app.models import Incident, User
from tests import factories


def login(client: FlaskClient, user: User | str, password: str = factories.PASSWORD, *, expect: int | None = 302,
          form: dict[str, str] | None = None, **request) -> TestResponse:
    """POST the real login form as `user` (a User or a username), with any extra `form` fields; the
    response, whose status must be `expect` (None: the caller checks). `request` goes to the post."""
    username = user if isinstance(user, str) else user.username
    response = client.post("/login", data={"username": username, "password": password, **(form or {})}, **request)
    if expect is not None:
        assert response.status_code == expect, response.get_data(as_text=True)
    return response


def csrf_token(client: FlaskClient, path: str = "/login", **request) -> str:
    """GET `path`; the CSRF token its forms carry (every form of a session carries the same one)."""
    page = client.get(path, **request).get_data(as_text=True)
    field = re.search(r'<input[^>]*\bname="(?:[\w-]+-)?csrf_token"[^>]*>', page).group(0)
    return re.search(r'\bvalue="([^"]+)"', field).group(1)


def incident_in(status: Status, people: dict[str, User], **fields) -> Incident:
    """An incident reported by people['reporter'], assigned to people['tech'] once past open."""
    incident = factories.make_incident(people["reporter"], **fields)
    return factories.bring_to(status, incident=incident, admin=people["admin"], technician=people["tech"])


def html(response) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


def _text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def flashes(page: str) -> list[tuple[str, str]]:
    """(category, text) of every flash message on the page."""
    block = re.search(r'<div class="flashes">(.*?)\n    </div>', page, re.S)
    if not block:
        return []
    return [(kind, _text(body)) for kind, body in
            re.findall(r'<div class="alert alert-(\w+)" role="\w+">(.*?)</div>', block.group(1), re.S)]


def field_error(page: str, field_id: str) -> str | None:
    """The validation message shown next to the control `field_id`, if any; checks the wiring too."""
    found = re.search(rf'<div class="invalid-feedback" id="{re.escape(field_id)}-error">(.*?)</div>', page, re.S)
    if found is None:
        return None
    control = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
    assert control is not None, f"no control #{field_id}"
    assert "is-invalid" in control.group(0) and f"{field_id}-error" in control.group(0)
    return _text(found.group(1))


def element_text(page: str, element_id: str) -> str:
    """The text inside the element with this id (first closing tag of the same name ends it)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', page, re.S)
    assert found is not None, f"no #{element_id}"
    return _text(found.group(2))
