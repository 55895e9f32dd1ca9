"""The real portal on 127.0.0.1 for a real browser: its own SQLite file, migrated and seeded with
the `flask seed` data, CSRF on, served by Werkzeug on a daemon thread. Shared by the browser tests
and `make screenshots`."""
import threading
from pathlib import Path

import flask_migrate
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from seed.loader import seed_incidents, seed_users

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "demo1234"  # the seed's demo password


def seeded_app(database: Path) -> Flask:
    """The app on a fresh database file holding exactly the seed data, with CSRF enforced."""
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}",
        ATTACHMENT_DIR=str(database.parent / "attachments"),  # never the repository's instance/
        WTF_CSRF_ENABLED=True,
        # Several people log in from 127.0.0.1 within a minute; the limit itself is tested elsewhere.
        RATELIMIT_LOGIN="1000 per minute",
    )
    with app.app_context():
        flask_migrate.upgrade()
        seed_users()
        seed_incidents()
        db.engine.dispose()
    return app


class LiveServer:
    """A threaded Werkzeug server on a free port; `url` is its base address."""

    def __init__(self, app: Flask):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
