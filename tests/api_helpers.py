"""Helpers shared by the API tests: credentials, problem+json checks, database snapshots, a live server."""
import base64
import threading
from contextlib import contextmanager

from sqlalchemy import text
from werkzeug.serving import make_server

from app.auth.service import issue_token
from app.extensions import db
from app.models import User
from tests import factories
from tests.schema import TABLES

PROBLEM_JSON = "application/problem+json"


@contextmanager
def held_context(app):
    """`app` with an app context held for a whole test (a module's own app fixture), its session
    removed after."""
    with app.app_context():
        yield app
        db.session.remove()


def bearer(user: User) -> dict[str, str]:
    """An Authorization header with a fresh token for `user`."""
    _, plain = issue_token(user=user, name="tests")
    return {"Authorization": f"Bearer {plain}"}


def basic(username: str, password: str = factories.PASSWORD) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def assert_problem(response, status: int, *fields: str) -> dict:
    """The response is problem+json with this status (and per-field errors naming `fields`)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == PROBLEM_JSON, response.mimetype
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    for field in fields:
        assert field in body.get("errors", {}), body
        assert all(isinstance(m, str) and m for m in body["errors"][field])
    return body


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table a request could change, read on a connection of its own: after a
    refused request each must be exactly as it was. A token's last_used_at is left out: the token
    authenticated the request, whatever its answer."""
    with db.engine.connect() as connection:
        rows = {table: [row._asdict() for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))]
                for table in TABLES}
    return {table: [tuple(value for column, value in row.items() if column != "last_used_at") for row in found]
            for table, found in rows.items()}


@contextmanager
def live_server(app):
    """The app served by Werkzeug on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
