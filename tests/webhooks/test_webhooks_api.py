"""The webhooks API (/webhooks/...): admins manage endpoints, the secret is shown once, rotation,
the delivery log and replay, who may call what, and every way a body can be wrong (422, nothing
written)."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.database import write_transaction
from app.extensions import db
from app.mail.enums import WebhookStatus
from app.models import WebhookDelivery, WebhookEndpoint, utcnow
from tests import factories
from tests.api_helpers import assert_problem, basic, bearer, snapshot
from tests.web_helpers import login

HOOK = {"url": "https://hooks.example.com/portal", "events": ["incident.created", "incident.commented"],
        "description": "Ops chat bridge"}
ENDPOINT_FIELDS = {"id", "url", "description", "events", "active", "disabled_reason", "failing_since", "created_at",
                   "updated_at", "secret_rotating_until"}
DELIVERY_FIELDS = {"id", "endpoint_id", "incident_id", "event_type", "webhook_id", "status", "attempts",
                   "next_attempt_at", "last_status_code", "last_error", "last_duration_ms", "created_at",
                   "delivered_at"}


@pytest.fixture
def app(app):
    """The app as deployed by default: internal addresses refused (the package's conftest allows them)."""
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    return app


@pytest.fixture
def admin(people):
    """An admin's Authorization header."""
    return bearer(people["admin"])


def create(client, headers, **changes) -> dict:
    """POST an endpoint (HOOK with `changes`); its 201 body."""
    response = client.post("/webhooks/", headers=headers, json={**HOOK, **changes})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def endpoint(client, admin) -> dict:
    """An endpoint subscribed to every event, as its 201 answered (secret included)."""
    return create(client, admin, events=["*"])


def report_incident(client, people) -> int:
    """A reporter reports an incident through the API: the id (the change that queues webhooks)."""
    response = client.post("/incidents/", headers=bearer(people["reporter"]),
                           json={"title": "Mail relay down", "description": "Nothing leaves the relay."})
    assert response.status_code == 201
    return response.get_json()["id"]


def deliveries_of(endpoint_id: int) -> list[WebhookDelivery]:
    db.session.rollback()
    return list(db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
                                   .order_by(WebhookDelivery.id)))


def set_status(delivery_id: int, status: WebhookStatus, **columns) -> None:
    """Stand in for the delivery pass: the row as a finished attempt leaves it."""
    with write_transaction():
        delivery = db.session.get(WebhookDelivery, delivery_id)
        delivery.status = status
        for name, value in columns.items():
            setattr(delivery, name, value)


# ---- endpoints ------------------------------------------------------------------------------

def test_create_read_change_delete(client, admin):
    """POST 201 (Location, the object and its secret), GET one and the list (no secret), PATCH only
    what is sent, DELETE 204, then 404 everywhere."""
    response = client.post("/webhooks/", headers=admin, json=HOOK)
    assert response.status_code == 201
    made = response.get_json()
    assert set(made) == ENDPOINT_FIELDS | {"secret"}
    assert response.headers["Location"].endswith(f"/webhooks/{made['id']}")
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 30
    assert {key: made[key] for key in ("url", "events", "description", "active", "disabled_reason",
                                       "failing_since", "secret_rotating_until")} == {
        **HOOK, "active": True, "disabled_reason": None, "failing_since": None, "secret_rotating_until": None}
    assert made["created_at"].endswith("Z")

    one = client.get(f"/webhooks/{made['id']}", headers=admin)
    assert one.status_code == 200 and one.get_json() == {k: v for k, v in made.items() if k != "secret"}
    listed = client.get("/webhooks/", headers=admin).get_json()
    assert listed == {"items": [one.get_json()]}

    patched = client.patch(f"/webhooks/{made['id']}", headers=admin,
                           json={"events": ["*"], "active": False, "description": "Paused for maintenance"})
    assert patched.status_code == 200
    body = patched.get_json()
    assert (body["url"], body["events"], body["active"], body["description"]) == (
        HOOK["url"], ["*"], False, "Paused for maintenance")
    assert "secret" not in body
    assert client.get(f"/webhooks/{made['id']}", headers=admin).get_json()["active"] is False

    gone = client.delete(f"/webhooks/{made['id']}", headers=admin)
    assert gone.status_code == 204 and gone.data == b""
    for method, path in [("get", ""), ("patch", ""), ("delete", ""), ("post", "/rotate-secret"),
                         ("get", "/deliveries")]:
        kwargs = {"json": {"active": True}} if method == "patch" else {}
        assert_problem(getattr(client, method)(f"/webhooks/{made['id']}{path}", headers=admin, **kwargs), 404)
    assert client.get("/webhooks/", headers=admin).get_json() == {"items": []}


def test_the_secret_is_shown_once_and_never_stored_in_clear(client, admin, endpoint):
    """Only the 201 carried it; the row holds an encrypted form in which neither the secret nor its
    key bytes appear."""
    secret = endpoint["secret"]
    assert "secret" not in client.get(f"/webhooks/{endpoint['id']}", headers=admin).get_json()
    assert all("secret" not in item for item in client.get("/webhooks/", headers=admin).get_json()["items"])
    with db.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM webhook_endpoints WHERE id = :id"),
                                 {"id": endpoint["id"]}).mappings().one()
    stored = " ".join(str(value) for value in row.values())
    assert row["secret_encrypted"]
    assert secret not in stored and secret.removeprefix("whsec_") not in stored


def test_rotating_gives_a_new_secret_and_keeps_the_old_one_for_a_day(client, admin, endpoint):
    before = utcnow()
    response = client.post(f"/webhooks/{endpoint['id']}/rotate-secret", headers=admin)
    assert response.status_code == 200
    rotated = response.get_json()
    assert set(rotated) == ENDPOINT_FIELDS | {"secret"}
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    until = rotated["secret_rotating_until"]
    expected = before + timedelta(hours=24)
    assert expected.strftime("%Y-%m-%dT%H:%M") <= until[:16] <= (expected + timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M")
    again = client.get(f"/webhooks/{endpoint['id']}", headers=admin).get_json()
    assert "secret" not in again and again["secret_rotating_until"] == until
    with db.engine.connect() as connection:
        stored = " ".join(str(v) for v in connection.execute(text("SELECT * FROM webhook_endpoints")).one())
    assert rotated["secret"] not in stored and endpoint["secret"] not in stored


def test_turning_an_endpoint_back_on_forgets_why_it_was_disabled(client, admin, endpoint):
    with write_transaction():
        row = db.session.get(WebhookEndpoint, endpoint["id"])
        row.active, row.disabled_reason, row.failing_since = False, "The receiver answered 410 Gone.", utcnow()
    off = client.get(f"/webhooks/{endpoint['id']}", headers=admin).get_json()
    assert off["disabled_reason"] == "The receiver answered 410 Gone." and off["failing_since"]
    on = client.patch(f"/webhooks/{endpoint['id']}", headers=admin, json={"active": True}).get_json()
    assert (on["active"], on["disabled_reason"], on["failing_since"]) == (True, None, None)


# ---- deliveries -----------------------------------------------------------------------------

def test_an_incident_event_queues_a_delivery_that_is_listed(client, people, admin, endpoint):
    """Reporting an incident through the API writes a pending delivery for the endpoint; the log
    shows it with every field."""
    incident_id = report_incident(client, people)
    response = client.get(f"/webhooks/{endpoint['id']}/deliveries", headers=admin)
    assert response.status_code == 200
    body = response.get_json()
    assert body["next_before"] is None
    [item] = body["items"]
    assert set(item) == DELIVERY_FIELDS
    assert (item["endpoint_id"], item["incident_id"], item["event_type"], item["status"], item["attempts"]) == (
        endpoint["id"], incident_id, "incident.created", "pending", 0)
    assert item["webhook_id"].startswith("msg_")
    assert (item["last_status_code"], item["last_error"], item["last_duration_ms"], item["delivered_at"]) == (
        None, None, None, None)


def test_the_payload_carries_the_apis_own_incident_and_event(client, people, admin, endpoint):
    """data.incident is GET /incidents/<id> as an admin reads it; data.event the timeline entry."""
    incident_id = report_incident(client, people)
    [delivery] = deliveries_of(endpoint["id"])
    payload = json.loads(delivery.payload)
    assert payload["type"] == "incident.created"
    incident = client.get(f"/incidents/{incident_id}", headers=admin).get_json()
    [event] = client.get(f"/incidents/{incident_id}/events", headers=admin).get_json()["items"]

    def without_clock(document: dict) -> dict:  # seconds left run on between the two reads
        return {**document, "sla": {clock: {k: v for k, v in value.items() if k != "remaining_seconds"}
                                    if isinstance(value, dict) else value
                                    for clock, value in document["sla"].items()}}

    assert without_clock(payload["data"]["incident"]) == without_clock(incident)
    assert payload["data"]["event"] == event
    assert payload["timestamp"].startswith(event["created_at"][:19])


def test_deliveries_page_back_newest_first(client, people, admin, endpoint):
    ids = [report_incident(client, people) for _ in range(3)]
    first = client.get(f"/webhooks/{endpoint['id']}/deliveries?limit=2", headers=admin).get_json()
    assert [item["incident_id"] for item in first["items"]] == ids[:0:-1]
    assert first["next_before"] == first["items"][-1]["id"]
    rest = client.get(f"/webhooks/{endpoint['id']}/deliveries?limit=2&before={first['next_before']}",
                      headers=admin).get_json()
    assert [item["incident_id"] for item in rest["items"]] == ids[:1] and rest["next_before"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=many", "before=0", "before=-3", "before=x"])
def test_a_bad_page_query_is_422(client, admin, endpoint, query):
    assert_problem(client.get(f"/webhooks/{endpoint['id']}/deliveries?{query}", headers=admin), 422,
                   query.split("=")[0])


@pytest.mark.parametrize("finished", [WebhookStatus.DELIVERED, WebhookStatus.FAILED])
def test_replay_queues_the_same_delivery_again(client, people, admin, endpoint, finished):
    """Same row, same webhook-id, attempts from 0, pending and due now; while a sender holds it
    (`sending`) a replay is 409 and changes nothing."""
    report_incident(client, people)
    [delivery] = deliveries_of(endpoint["id"])
    set_status(delivery.id, finished, attempts=3, last_status_code=500 if finished == WebhookStatus.FAILED else 204,
               delivered_at=utcnow() if finished == WebhookStatus.DELIVERED else None,
               next_attempt_at=utcnow() + timedelta(hours=5))
    before = utcnow()
    response = client.post(f"/webhooks/deliveries/{delivery.id}/replay", headers=admin)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == DELIVERY_FIELDS
    assert (body["id"], body["webhook_id"], body["status"], body["attempts"], body["delivered_at"]) == (
        delivery.id, delivery.webhook_id, "pending", 0, None)
    assert body["next_attempt_at"] <= (utcnow() + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["next_attempt_at"] >= before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(deliveries_of(endpoint["id"])) == 1

    set_status(delivery.id, WebhookStatus.SENDING)
    unchanged = snapshot()
    assert_problem(client.post(f"/webhooks/deliveries/{delivery.id}/replay", headers=admin), 409)
    assert snapshot() == unchanged


def test_replaying_a_delivery_waiting_for_its_retry_sends_it_now(client, people, admin, endpoint):
    """A pending delivery whose next attempt is hours away is due now, with its attempts from 0."""
    report_incident(client, people)
    [delivery] = deliveries_of(endpoint["id"])
    set_status(delivery.id, WebhookStatus.PENDING, attempts=4, next_attempt_at=utcnow() + timedelta(hours=5))
    response = client.post(f"/webhooks/deliveries/{delivery.id}/replay", headers=admin)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["attempts"], body["webhook_id"]) == ("pending", 0, delivery.webhook_id)
    assert body["next_attempt_at"] <= (utcnow() + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_replaying_a_delivery_being_sent_or_unknown_is_refused(client, people, admin, endpoint):
    report_incident(client, people)
    [delivery] = deliveries_of(endpoint["id"])
    set_status(delivery.id, WebhookStatus.SENDING)
    unchanged = snapshot()
    assert_problem(client.post(f"/webhooks/deliveries/{delivery.id}/replay", headers=admin), 409)
    assert_problem(client.post(f"/webhooks/deliveries/{delivery.id + 1000}/replay", headers=admin), 404)
    assert snapshot() == unchanged


# ---- who may call what ----------------------------------------------------------------------

ROUTES = [("get", "/webhooks/", None), ("post", "/webhooks/", HOOK), ("get", "/webhooks/{e}", None),
          ("patch", "/webhooks/{e}", {"active": False}), ("delete", "/webhooks/{e}", None),
          ("post", "/webhooks/{e}/rotate-secret", None), ("get", "/webhooks/{e}/deliveries", None),
          ("post", "/webhooks/deliveries/{d}/replay", None)]
ADMIN_OK = {("get", "/webhooks/"): 200, ("post", "/webhooks/"): 201, ("get", "/webhooks/{e}"): 200,
            ("patch", "/webhooks/{e}"): 200, ("delete", "/webhooks/{e}"): 204,
            ("post", "/webhooks/{e}/rotate-secret"): 200, ("get", "/webhooks/{e}/deliveries"): 200,
            ("post", "/webhooks/deliveries/{d}/replay"): 200}


@pytest.fixture
def finished_delivery(client, people, endpoint) -> int:
    """A delivered delivery of `endpoint` (replayable)."""
    report_incident(client, people)
    [delivery] = deliveries_of(endpoint["id"])
    set_status(delivery.id, WebhookStatus.DELIVERED, attempts=1, delivered_at=utcnow())
    return delivery.id


def call(client, method, path, body, endpoint, delivery, headers):
    kwargs = {"json": body} if body is not None else {}
    return getattr(client, method)(path.format(e=endpoint["id"], d=delivery), headers=headers, **kwargs)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("caller", ["reporter", "tech", "anonymous", "cookie", "wrong-password"])
def test_only_admins_get_in(client, people, endpoint, finished_delivery, method, path, body, caller):
    """Reporters and technicians 403, no credentials or a wrong password 401, and an admin's signed-in
    browser session without credentials 401 too (the API never reads the cookie); nothing changes."""
    headers = {"reporter": bearer(people["reporter"]), "tech": bearer(people["tech"]),
               "wrong-password": basic(people["tech"].username, "not the password")}.get(caller, {})
    if caller == "cookie":
        login(client, people["admin"])
    unchanged = snapshot()
    response = call(client, method, path, body, endpoint, finished_delivery, headers)
    assert_problem(response, 403 if caller in ("reporter", "tech") else 401)
    assert snapshot() == unchanged


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_admins_may_call_every_route(client, people, endpoint, finished_delivery, method, path, body, auth):
    headers = bearer(people["admin"]) if auth == "bearer" else basic(people["admin"].username)
    response = call(client, method, path, body, endpoint, finished_delivery, headers)
    assert response.status_code == ADMIN_OK[(method, path)], response.get_json()
    if response.status_code != 204:
        assert response.mimetype == "application/json"
        assert ("secret" in response.get_json()) == (path == "/webhooks/" and method == "post"
                                                     or path.endswith("rotate-secret"))


# ---- bad input: 422 naming the field, nothing written --------------------------------------

BAD_BODIES = [
    ({"url": "javascript:alert(1)"}, "url"),
    ({"url": "ftp://files.example.com/drop"}, "url"),
    ({"url": "file:///etc/passwd"}, "url"),
    ({"url": "https://user:pass@hooks.example.com/x"}, "url"),
    ({"url": "https://token@hooks.example.com/x"}, "url"),
    ({"url": "http://127.0.0.1:8080/hook"}, "url"),
    ({"url": "http://10.1.2.3/hook"}, "url"),
    ({"url": "http://192.168.0.10/hook"}, "url"),
    ({"url": "http://169.254.169.254/latest/meta-data/"}, "url"),
    ({"url": "http://[::1]/hook"}, "url"),
    ({"url": "http://[::ffff:127.0.0.1]/hook"}, "url"),
    ({"url": "http://2130706433/hook"}, "url"),
    ({"url": "https:///no-host"}, "url"),
    ({"url": "https://hooks.example.com/" + "a" * 2000}, "url"),
    ({"url": ""}, "url"),
    ({"url": "https://hooks.example.com/a\x00b"}, "url"),
    ({"url": 42}, "url"),
    ({"url": None}, "url"),
    ({"events": ["incident.deleted"]}, "events"),
    ({"events": []}, "events"),
    ({"events": "incident.created"}, "events"),
    ({"events": [1]}, "events"),
    ({"events": ["Incident.Created"]}, "events"),
    ({"description": "x" * 501}, "description"),
    ({"description": 7}, "description"),
    ({"description": "bell\x07"}, "description"),
    ({"active": "yes"}, "active"),
    ({"active": 1}, "active"),
    ({"secret": "whsec_mine"}, "secret"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("change", "field"), BAD_BODIES, ids=[repr(c)[:50] for c, _ in BAD_BODIES])
def test_a_bad_new_endpoint_is_422_naming_the_field(client, admin, change, field):
    unchanged = snapshot()
    assert_problem(client.post("/webhooks/", headers=admin, json={**HOOK, **change}), 422, field)
    assert snapshot() == unchanged


@pytest.mark.parametrize(("change", "field"), BAD_BODIES, ids=[repr(c)[:50] for c, _ in BAD_BODIES])
def test_a_bad_change_is_422_naming_the_field(client, admin, endpoint, change, field):
    unchanged = snapshot()
    assert_problem(client.patch(f"/webhooks/{endpoint['id']}", headers=admin, json=change), 422, field)
    assert snapshot() == unchanged


@pytest.mark.parametrize("missing", ["url", "events"])
def test_url_and_events_are_required(client, admin, missing):
    assert_problem(client.post("/webhooks/", headers=admin, json={k: v for k, v in HOOK.items() if k != missing}),
                   422, missing)


def test_not_json_is_refused(client, admin, endpoint):
    assert_problem(client.post("/webhooks/", headers=admin, data="url=x", content_type="text/plain"), 415)
    assert_problem(client.post("/webhooks/", headers=admin, data="{", content_type="application/json"), 400)
    assert_problem(client.patch(f"/webhooks/{endpoint['id']}", headers=admin, json=["active"]), 400)


def test_private_addresses_are_taken_when_allowed(make_app):
    """WEBHOOK_ALLOW_PRIVATE=True (a receiver on the same machine or network) lets literal internal
    addresses through; the scheme and credential rules still hold."""
    app = make_app(WEBHOOK_ALLOW_PRIVATE=True)
    with app.app_context():
        headers = bearer(factories.make_user("admin", username="privadmin"))
        client = app.test_client()
        for url in ("http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://[::1]/hook"):
            assert client.post("/webhooks/", headers=headers, json={**HOOK, "url": url}).status_code == 201
        assert_problem(client.post("/webhooks/", headers=headers, json={**HOOK, "url": "ftp://10.1.2.3/"}), 422,
                       "url")
        assert_problem(client.post("/webhooks/", headers=headers,
                                   json={**HOOK, "url": "http://a:b@127.0.0.1/"}), 422, "url")
        db.session.remove()


def test_a_literal_url_is_kept_as_sent_and_every_event_name_is_known(client, admin):
    """Each documented event type, alone, is taken; a bare `*` stands for all."""
    for name in ("incident.created", "incident.assigned", "incident.status_changed", "incident.commented",
                 "incident.sla_breached", "*"):
        assert create(client, admin, events=[name])["events"] == [name]


def test_end_to_end_a_real_receiver_verifies_and_the_log_says_so(client, people, admin, receiver, drain):
    """Through the API only: the secret from the 201 verifies the delivery at a real receiver
    (standardwebhooks), the log shows it delivered with code and duration, a replay sends the same
    webhook-id again; after a rotation both secrets verify."""
    client.application.config["WEBHOOK_ALLOW_PRIVATE"] = True  # the receiver is on loopback
    made = create(client, admin, url=receiver.url, events=["incident.created"])
    receiver.trust(made["secret"])
    incident_id = report_incident(client, people)
    drain()

    [got] = receiver.received
    assert got.verified_by == [made["secret"]] and got.json["data"]["incident"]["id"] == incident_id
    [item] = client.get(f"/webhooks/{made['id']}/deliveries", headers=admin).get_json()["items"]
    assert (item["status"], item["attempts"], item["last_status_code"], item["webhook_id"]) == (
        "delivered", 1, 200, got.headers["webhook-id"])
    assert isinstance(item["last_duration_ms"], int) and item["delivered_at"]

    rotated = client.post(f"/webhooks/{made['id']}/rotate-secret", headers=admin).get_json()
    receiver.trust(rotated["secret"])
    assert client.post(f"/webhooks/deliveries/{item['id']}/replay", headers=admin).status_code == 200
    drain()
    again = receiver.received[1]
    assert again.headers["webhook-id"] == got.headers["webhook-id"] and again.body == got.body
    assert sorted(again.verified_by) == sorted([made["secret"], rotated["secret"]])
    assert len(again.headers["webhook-signature"].split(" ")) == 2
