"""With CSRF on (as in production): every form carries a token and a POST without one is refused."""
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Incident
from tests import factories
from tests.web_helpers import csrf_token, login


@pytest.fixture
def csrf_client(make_app):
    """A client of an app with CSRF protection on, logged in as a reporter (through the form, with its token)."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        factories.make_user("admin", username="csrfadmin")
        client = app.test_client()
        login(client, "csrfadmin", form={"csrf_token": csrf_token(client)})
        yield client


def incidents() -> int:
    return db.session.scalar(select(func.count(Incident.id)))


@pytest.mark.parametrize("path", ["/ui/incidents/new", "/ui/incidents/1/comments", "/ui/incidents/1/assign",
                                  "/ui/users/", "/ui/account/tokens", "/ui/account/password", "/logout"])
def test_a_post_without_the_token_is_refused(csrf_client, path):
    """400 in the site's layout, explaining what to do; nothing happens."""
    with csrf_client.application.app_context():
        before = incidents()
        response = csrf_client.post(path, data={"title": "x", "description": "y", "comment-body": "z"})
        assert response.status_code == 400
        assert "The form expired" in response.text and "CSRF" not in response.text
        assert incidents() == before


def test_a_post_with_a_wrong_token_is_refused(csrf_client):
    """A forged token is no better than none."""
    response = csrf_client.post("/ui/incidents/new", data={"title": "x", "description": "y", "csrf_token": "forged"})
    assert response.status_code == 400


def test_the_form_token_makes_it_work(csrf_client):
    """The token the page gave is accepted."""
    with csrf_client.application.app_context():
        token = csrf_token(csrf_client, "/ui/incidents/new")
        response = csrf_client.post("/ui/incidents/new", data={"title": "x", "description": "y", "csrf_token": token})
        assert response.status_code == 302
        assert incidents() == 1
        detail = csrf_client.get(response.headers["Location"]).text
        assert re.search(r'name="comment-csrf_token" type="hidden" value="[^"]+"', detail)
        assert re.search(r'name="assign-csrf_token" type="hidden" value="[^"]+"', detail)
