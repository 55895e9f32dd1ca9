"""Fixtures for the webhook tests: a real receiver on loopback, an app allowed to call it, an
admin and a technician, endpoints pointed at the receiver, and the deliveries read fresh."""
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import select

from app.auth.roles import Role
from app.extensions import db
from app.models import WebhookDelivery, WebhookEndpoint, utcnow
from app.webhooks import delivery, endpoints
from tests import factories
from tests.webhooks.receiver import Receiver

TIMEOUT_SECONDS = 0.5


@pytest.fixture
def app(app):
    """The test app, allowed to POST to loopback (the SSRF tests turn it back off), with a short
    timeout so a hanging receiver costs half a second."""
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = TIMEOUT_SECONDS
    return app


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver on 127.0.0.1 that answers 200 until told otherwise."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def admin(app):
    """The admin who manages the endpoints."""
    return factories.make_user(Role.ADMIN, username="hookadmin")


@pytest.fixture
def tech(app):
    """A technician to assign incidents to."""
    return factories.make_user(Role.TECHNICIAN, username="hooktech")


@pytest.fixture
def reporter(app):
    """Who reports the incidents."""
    return factories.make_user(Role.REPORTER, username="hookreporter")


@pytest.fixture
def make_endpoint(admin, receiver) -> Callable[..., tuple[WebhookEndpoint, str]]:
    """An endpoint for `events` at the receiver (path `path`), its secret trusted by the receiver."""

    def make(events: list[str], *, path: str = "/hook",
             target: Receiver | None = None) -> tuple[WebhookEndpoint, str]:
        server = target or receiver
        endpoint, secret = endpoints.create_endpoint(actor=admin, url=f"http://{server.host}:{server.port}{path}",
                                                     events=events)
        server.trust(secret)
        return endpoint, secret

    return make


@pytest.fixture
def drain() -> Callable[..., delivery.DrainResult]:
    """One delivery pass at `now` (the real time when not given)."""

    def run(now: datetime | None = None) -> delivery.DrainResult:
        return delivery.drain(now=now or utcnow())

    return run


@pytest.fixture
def deliveries() -> Callable[..., list[WebhookDelivery]]:
    """Every delivery row (of one endpoint, when given), oldest first, as committed."""

    def read(endpoint_id: int | None = None) -> list[WebhookDelivery]:
        db.session.rollback()
        query = select(WebhookDelivery).order_by(WebhookDelivery.id)
        if endpoint_id is not None:
            query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
        return list(db.session.scalars(query))

    return read
