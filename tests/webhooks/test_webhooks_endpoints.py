"""The endpoint use cases: admins only, validation naming each bad field, what update, delete and
the delivery log do."""
import pytest

from app.auth.roles import Role
from app.exceptions import InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.models import WebhookEndpoint, utcnow
from app.webhooks import endpoints, events
from tests import factories

URL = "https://hooks.example.com/in"


def use_cases(endpoint_id: int, delivery_id: int) -> dict:
    return {
        "create": lambda actor: endpoints.create_endpoint(actor=actor, url=URL, events=["*"]),
        "update": lambda actor: endpoints.update_endpoint(actor=actor, endpoint_id=endpoint_id, description="x"),
        "delete": lambda actor: endpoints.delete_endpoint(actor=actor, endpoint_id=endpoint_id),
        "rotate": lambda actor: endpoints.rotate_secret(actor=actor, endpoint_id=endpoint_id),
        "list": lambda actor: endpoints.list_endpoints(actor=actor),
        "get": lambda actor: endpoints.get_endpoint(actor=actor, endpoint_id=endpoint_id),
        "deliveries": lambda actor: endpoints.list_deliveries(actor=actor, endpoint_id=endpoint_id),
        "delivery": lambda actor: endpoints.get_delivery(actor=actor, delivery_id=delivery_id),
        "replay": lambda actor: endpoints.replay(actor=actor, delivery_id=delivery_id),
    }


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.REPORTER])
@pytest.mark.parametrize("use_case", list(use_cases(0, 0)))
def test_only_admins_manage_webhooks(app, admin, role, use_case):
    endpoint, _ = endpoints.create_endpoint(actor=admin, url=URL, events=["*"])
    actor = factories.make_user(role)
    with pytest.raises(PermissionDenied):
        use_cases(endpoint.id, 1)[use_case](actor)
    db.session.rollback()
    assert [e.id for e in endpoints.list_endpoints(actor=admin)] == [endpoint.id]


def test_create_keeps_what_was_given(app, admin):
    endpoint, secret = endpoints.create_endpoint(actor=admin, url=f"  {URL}  ", events=[events.COMMENTED,
                                                 events.CREATED, events.CREATED], description="  Ops chat  ",
                                                 active=False)
    db.session.rollback()
    stored = db.session.get(WebhookEndpoint, endpoint.id)
    assert (stored.url, stored.events, stored.description, stored.active) == (
        URL, [events.CREATED, events.COMMENTED], "Ops chat", False)
    assert stored.created_by_id == admin.id and stored.disabled_reason is None
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 32
    assert endpoints.rotating_until(stored) is None


def test_star_stands_for_every_type(app, admin):
    endpoint, _ = endpoints.create_endpoint(actor=admin, url=URL, events=[events.CREATED, "*"])
    assert endpoint.events == ["*"]


@pytest.mark.parametrize(("fields", "bad"), [
    ({"events": []}, {"events"}),
    ({"events": "*"}, {"events"}),
    ({"events": ["incident.deleted"]}, {"events"}),
    ({"events": [1]}, {"events"}),
    ({"url": None}, {"url"}),
    ({"url": 42}, {"url"}),
    ({"description": "x" * 501}, {"description"}),
    ({"description": 5}, {"description"}),
    ({"active": "yes"}, {"active"}),
    ({"url": "ftp://x", "events": [], "active": 1}, {"url", "events", "active"}),
])
def test_bad_fields_are_named_and_nothing_is_written(app, admin, fields, bad):
    given = {"url": URL, "events": ["*"], **fields}
    with pytest.raises(InvalidInput) as refused:
        endpoints.create_endpoint(actor=admin, **given)
    assert set(refused.value.errors) == bad
    assert endpoints.list_endpoints(actor=admin) == []


def test_update_changes_only_what_is_given(app, admin):
    endpoint, _ = endpoints.create_endpoint(actor=admin, url=URL, events=["*"], description="first")
    updated = endpoints.update_endpoint(actor=admin, endpoint_id=endpoint.id, events=[events.SLA_BREACHED])
    assert (updated.url, updated.events, updated.description) == (URL, [events.SLA_BREACHED], "first")
    with pytest.raises(InvalidInput):
        endpoints.update_endpoint(actor=admin, endpoint_id=endpoint.id, events=[], description="second")
    db.session.rollback()
    assert db.session.get(WebhookEndpoint, endpoint.id).description == "first"
    with pytest.raises(NotFound):
        endpoints.update_endpoint(actor=admin, endpoint_id=endpoint.id + 1, description="x")


def test_turning_on_clears_the_failure(app, admin):
    endpoint, _ = endpoints.create_endpoint(actor=admin, url=URL, events=["*"])
    from app.database import write_transaction

    with write_transaction():
        row = db.session.get(WebhookEndpoint, endpoint.id)
        row.active, row.disabled_reason, row.failing_since = False, "The receiver answered 410 Gone.", utcnow()
    again = endpoints.update_endpoint(actor=admin, endpoint_id=endpoint.id, active=True)
    assert again.active and again.disabled_reason is None and again.failing_since is None


def test_delete_removes_the_endpoint_and_its_log(make_endpoint, drain, deliveries, reporter, admin):
    endpoint, _ = make_endpoint(["*"])
    kept, _ = make_endpoint(["*"], path="/kept")
    factories.make_incident(reporter)
    drain()
    endpoints.delete_endpoint(actor=admin, endpoint_id=endpoint.id)
    assert {row.endpoint_id for row in deliveries()} == {kept.id}
    with pytest.raises(NotFound):
        endpoints.get_endpoint(actor=admin, endpoint_id=endpoint.id)
    with pytest.raises(NotFound):
        endpoints.delete_endpoint(actor=admin, endpoint_id=endpoint.id)


def test_the_delivery_log_pages_back_newest_first(make_endpoint, reporter, admin):
    endpoint, _ = make_endpoint(["*"])
    for _ in range(5):
        factories.make_incident(reporter)
    everything = endpoints.list_deliveries(actor=admin, endpoint_id=endpoint.id)
    assert [row.id for row in everything] == sorted((row.id for row in everything), reverse=True)
    assert len(everything) == 5
    page = endpoints.list_deliveries(actor=admin, endpoint_id=endpoint.id, limit=2, before=everything[1].id)
    assert [row.id for row in page] == [everything[2].id, everything[3].id]
    for bad in ({"limit": 0}, {"limit": 201}, {"limit": "5"}, {"before": 0}, {"before": True}):
        with pytest.raises(InvalidInput):
            endpoints.list_deliveries(actor=admin, endpoint_id=endpoint.id, **bad)
    with pytest.raises(NotFound):
        endpoints.list_deliveries(actor=admin, endpoint_id=endpoint.id + 1)
    assert endpoints.get_delivery(actor=admin, delivery_id=everything[0].id).id == everything[0].id
    with pytest.raises(NotFound):
        endpoints.get_delivery(actor=admin, delivery_id=everything[0].id + 100)
