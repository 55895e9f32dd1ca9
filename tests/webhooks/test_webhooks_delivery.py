"""The delivery pass against a real receiver: what each kind of answer does to the row and the
endpoint, the retry schedule and the 24 h rule on a controlled clock, replay, and leases."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.roles import Role
from app.exceptions import NotFound, PermissionDenied, TransitionNotAllowed
from app.extensions import db
from app.mail.enums import WebhookStatus
from app.models import OutboxMessage, WebhookEndpoint, utcnow
from app.webhooks import delivery, endpoints, events
from tests import factories
from tests.webhooks.conftest import TIMEOUT_SECONDS


def endpoint_row(endpoint_id: int) -> WebhookEndpoint:
    db.session.rollback()
    return db.session.get(WebhookEndpoint, endpoint_id)


def test_500_is_retried_on_the_schedule_then_failed(make_endpoint, receiver, drain, deliveries, reporter):
    """5 s, 5 min, 30 min, 2 h, 5 h, 10 h after each failure, never earlier; the 7th failure is final."""
    endpoint, _ = make_endpoint([events.CREATED])
    receiver.answer(500)
    factories.make_incident(reporter)
    now = utcnow()
    drain(now)
    for attempt, wait in enumerate(delivery.SCHEDULE, start=1):
        [row] = deliveries()
        assert (row.status, row.attempts, row.last_status_code) == (WebhookStatus.PENDING, attempt, 500)
        assert row.next_attempt_at == now + wait
        assert row.last_error == "HTTP 500: answer 500"
        drain(now + wait - timedelta(seconds=1))  # not due yet: nothing sent
        assert len(receiver.received) == attempt
        now += wait
        drain(now)
    [row] = deliveries()
    assert (row.status, row.attempts) == (WebhookStatus.FAILED, delivery.MAX_ATTEMPTS)
    assert len(receiver.received) == 7
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # the same id on every attempt
    assert endpoint_row(endpoint.id).active  # 17.5 h of failures: not yet the 24 h
    drain(now + timedelta(days=2))
    assert len(receiver.received) == 7


def test_a_success_after_failures_clears_failing_since(make_endpoint, receiver, drain, deliveries, reporter):
    endpoint, _ = make_endpoint(["*"])
    receiver.answer(503)
    factories.make_incident(reporter)
    now = utcnow()
    drain(now)
    assert endpoint_row(endpoint.id).failing_since == now
    receiver.answer(204)
    drain(now + timedelta(seconds=5))
    assert endpoint_row(endpoint.id).failing_since is None
    [row] = deliveries()
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == (WebhookStatus.DELIVERED, 2, 204, None)


def test_410_turns_the_endpoint_off(make_endpoint, receiver, drain, deliveries, reporter, admin):
    """Gone: the row fails at once, the endpoint is off with the reason, and what waits is not sent."""
    endpoint, _ = make_endpoint(["*"])
    receiver.answer(410)
    factories.make_incident(reporter)
    drain()
    [row] = deliveries()
    assert (row.status, row.attempts, row.last_status_code) == (WebhookStatus.FAILED, 1, 410)
    turned_off = endpoint_row(endpoint.id)
    assert not turned_off.active and "410" in turned_off.disabled_reason
    assert [m.recipient for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.event == "webhook_disabled"))] == [admin.email]


def test_24_hours_of_failures_turn_the_endpoint_off_and_mail_every_active_admin(
        make_endpoint, receiver, drain, deliveries, reporter, admin, tech):
    other_admin = factories.make_user(Role.ADMIN, username="secondadmin")
    factories.make_user(Role.ADMIN, username="goneadmin", active=False)
    endpoint, _ = make_endpoint(["*"])
    receiver.answer(500)
    factories.make_incident(reporter)
    start = utcnow()
    drain(start)
    factories.make_incident(reporter)  # a second row, due at once: failing again just before 24 h
    drain(start + timedelta(hours=23, minutes=59))
    assert endpoint_row(endpoint.id).active
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.event == "webhook_disabled")).all() == []
    drain(start + timedelta(hours=24))
    turned_off = endpoint_row(endpoint.id)
    assert not turned_off.active
    assert "24 hours" in turned_off.disabled_reason and "HTTP 500" in turned_off.disabled_reason
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.event == "webhook_disabled")
                               .order_by(OutboxMessage.id)).all()
    assert [m.recipient for m in mails] == [admin.email, other_admin.email]
    assert endpoint.url in mails[0].body_text and f"/ui/admin/webhooks/{endpoint.id}/deliveries" in mails[0].body_text
    assert "24 hours" in mails[0].body_html
    sent = len(receiver.received)
    drain(start + timedelta(days=3))  # the rows still pending wait while the endpoint is off
    assert len(receiver.received) == sent
    assert WebhookStatus.PENDING in {row.status for row in deliveries()}
    # Turned on again: the reason and the failure clock are cleared, the waiting rows go out.
    receiver.answer(200)
    endpoints.update_endpoint(actor=admin, endpoint_id=endpoint.id, active=True)
    again = endpoint_row(endpoint.id)
    assert again.active and again.disabled_reason is None and again.failing_since is None
    drain(start + timedelta(days=3))
    assert len(receiver.received) > sent


def test_a_hanging_receiver_times_out_and_is_retried(make_endpoint, receiver, drain, deliveries, reporter):
    make_endpoint(["*"])
    receiver.hang(5)
    factories.make_incident(reporter)
    now = utcnow()
    result = drain(now)
    [row] = deliveries()
    assert result.retrying == 1
    assert (row.status, row.attempts, row.last_status_code) == (WebhookStatus.PENDING, 1, None)
    assert row.last_error == f"timed out after {TIMEOUT_SECONDS:g} s"
    assert TIMEOUT_SECONDS * 1000 <= row.last_duration_ms < TIMEOUT_SECONDS * 1000 + 1000
    assert row.next_attempt_at == now + timedelta(seconds=5)
    receiver.answer(200)
    drain(now + timedelta(seconds=5))
    assert deliveries()[0].status == WebhookStatus.DELIVERED


def test_a_dripping_receiver_is_cut_at_the_deadline(make_endpoint, receiver, drain, deliveries, reporter):
    """The timeout covers the whole attempt, not each read: a receiver that keeps the socket busy but
    never finishes its answer is cut off."""
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))

    def drip():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(40):  # one header line every 0.1 s: no single read ever waits 0.5 s
            time.sleep(0.1)
            try:
                connection.sendall(b"X-Slow: y\r\n")
            except OSError:
                break
        connection.close()

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    admin = factories.make_user(Role.ADMIN, username="dripadmin")
    endpoints.create_endpoint(actor=admin, url=f"http://127.0.0.1:{listener.getsockname()[1]}/", events=["*"])
    factories.make_incident(reporter)
    started = time.monotonic()
    drain()
    assert time.monotonic() - started < 2
    [row] = deliveries()
    assert row.last_error == f"timed out after {TIMEOUT_SECONDS:g} s" and row.status == WebhookStatus.PENDING
    thread.join(5)
    listener.close()


def test_a_closed_connection_is_recorded_and_retried(make_endpoint, receiver, drain, deliveries, reporter):
    make_endpoint(["*"])
    receiver.close_connections()
    factories.make_incident(reporter)
    drain()
    [row] = deliveries()
    assert (row.status, row.attempts, row.last_status_code) == (WebhookStatus.PENDING, 1, None)
    assert row.last_error == "the receiver closed the connection without answering"


def test_nothing_listening_is_recorded_and_retried(admin, drain, deliveries, reporter):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    endpoints.create_endpoint(actor=admin, url=f"http://127.0.0.1:{port}/", events=["*"])
    factories.make_incident(reporter)
    drain()
    [row] = deliveries()
    assert row.status == WebhookStatus.PENDING and row.last_error == "connection refused"


def test_a_redirect_is_not_followed(make_endpoint, receiver, drain, deliveries, reporter):
    """301 is a failure: the Location is never requested."""
    make_endpoint(["*"])
    receiver.answer(301, location=f"http://127.0.0.1:{receiver.port}/elsewhere")
    factories.make_incident(reporter)
    drain()
    [row] = deliveries()
    assert (row.status, row.last_status_code) == (WebhookStatus.PENDING, 301)
    assert row.last_error.startswith("HTTP 301: redirects are not followed") and "/elsewhere" in row.last_error
    assert [r.path for r in receiver.received] == ["/hook"]


def test_replay_requeues_the_same_row(make_endpoint, receiver, drain, deliveries, reporter, admin, tech):
    make_endpoint(["*"])
    factories.make_incident(reporter)
    drain()
    [row] = deliveries()
    assert row.status == WebhookStatus.DELIVERED
    with pytest.raises(PermissionDenied):
        endpoints.replay(actor=tech, delivery_id=row.id)
    replayed = endpoints.replay(actor=admin, delivery_id=row.id)
    assert (replayed.id, replayed.status, replayed.attempts) == (row.id, WebhookStatus.PENDING, 0)
    assert endpoints.replay(actor=admin, delivery_id=row.id).status == WebhookStatus.PENDING  # again: still one row
    drain()
    [again] = deliveries()
    assert (again.status, again.attempts) == (WebhookStatus.DELIVERED, 1)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.webhook_id
    assert first.body == second.body
    assert second.verified_by
    with pytest.raises(NotFound):
        endpoints.replay(actor=admin, delivery_id=row.id + 1000)


def test_replay_of_a_failed_row_gets_a_fresh_set_of_attempts(make_endpoint, receiver, drain, deliveries, reporter,
                                                             admin):
    endpoint, _ = make_endpoint(["*"])
    receiver.answer(500)
    factories.make_incident(reporter)
    now = utcnow()
    drain(now)
    for wait in delivery.SCHEDULE:
        now += wait
        drain(now)
    [row] = deliveries()
    assert row.status == WebhookStatus.FAILED
    receiver.answer(200)
    endpoints.replay(actor=admin, delivery_id=row.id)
    drain(now)
    assert deliveries()[0].status == WebhookStatus.DELIVERED


def test_replay_waits_for_a_turned_off_endpoint(make_endpoint, receiver, drain, deliveries, reporter, admin):
    endpoint, _ = make_endpoint(["*"])
    receiver.answer(410)
    factories.make_incident(reporter)
    drain()
    [row] = deliveries()
    with pytest.raises(TransitionNotAllowed, match="turned off"):
        endpoints.replay(actor=admin, delivery_id=row.id)


def test_rotation_signs_with_both_secrets_for_24_hours(make_endpoint, receiver, drain, reporter, admin):
    """The old secret keeps verifying beside the new one for 24 h, then only the new one does."""
    endpoint, old_secret = make_endpoint(["*"])
    rotated_at = utcnow()
    _, new_secret = endpoints.rotate_secret(actor=admin, endpoint_id=endpoint.id, now=rotated_at)
    receiver.trust(new_secret)
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    assert endpoints.rotating_until(endpoint_row(endpoint.id), now=rotated_at) == rotated_at + timedelta(hours=24)
    factories.make_incident(reporter)
    drain(rotated_at + timedelta(hours=23, minutes=59))
    factories.make_incident(reporter)
    drain(rotated_at + timedelta(hours=24))
    during, after = receiver.received
    assert len(during.signatures) == 2 and sorted(during.verified_by) == sorted([old_secret, new_secret])
    assert len(after.signatures) == 1 and after.verified_by == [new_secret]
    assert endpoints.rotating_until(endpoint_row(endpoint.id), now=rotated_at + timedelta(hours=24)) is None


def test_rotating_twice_keeps_only_the_last_two_secrets(make_endpoint, receiver, drain, reporter, admin):
    endpoint, first = make_endpoint(["*"])
    _, second = endpoints.rotate_secret(actor=admin, endpoint_id=endpoint.id)
    _, third = endpoints.rotate_secret(actor=admin, endpoint_id=endpoint.id)
    receiver.trust(second)
    receiver.trust(third)
    factories.make_incident(reporter)
    drain()
    [request] = receiver.received
    assert sorted(request.verified_by) == sorted([second, third])


def test_secrets_are_encrypted_at_rest(make_endpoint, admin):
    """Neither the secret nor its key bytes appear in the database row."""
    from sqlalchemy import text

    endpoint, secret = make_endpoint(["*"])
    _, new_secret = endpoints.rotate_secret(actor=admin, endpoint_id=endpoint.id)
    db.session.rollback()
    row = db.session.execute(text("SELECT * FROM webhook_endpoints WHERE id = :id"), {"id": endpoint.id}).one()
    stored = " ".join(str(value) for value in row)
    for value in (secret, new_secret):
        assert value not in stored and value.removeprefix("whsec_") not in stored


def test_a_changed_secret_key_fails_clearly_until_rotated(app, make_endpoint, receiver, drain, deliveries, reporter,
                                                          admin):
    endpoint, _ = make_endpoint(["*"])
    factories.make_incident(reporter)
    app.config["SECRET_KEY"] = "a-completely-different-secret-key"
    drain()
    [row] = deliveries()
    assert row.status == WebhookStatus.PENDING and row.attempts == 1
    assert row.last_error == "the secret cannot be read: SECRET_KEY changed? rotate it"
    assert receiver.received == []
    _, secret = endpoints.rotate_secret(actor=admin, endpoint_id=endpoint.id)
    receiver.trust(secret)
    drain(utcnow() + timedelta(seconds=5))
    [request] = receiver.received
    assert request.verified_by == [secret] and len(request.signatures) == 1


def test_a_lapsed_claim_is_taken_over(make_endpoint, receiver, drain, deliveries, reporter):
    """A sender that died mid-POST: after its lease the row goes out again, no attempt counted."""
    make_endpoint(["*"])
    factories.make_incident(reporter)
    now = utcnow()
    claimed = delivery._claim_one(worker="dead-sender", now=now)
    assert claimed is not None
    drain(now + timedelta(seconds=1))
    assert receiver.received == []  # still leased
    drain(now + delivery.lease() + timedelta(seconds=1))
    [row] = deliveries()
    assert (row.status, row.attempts) == (WebhookStatus.DELIVERED, 1)
    assert len(receiver.received) == 1


def test_drain_stops_when_asked(make_endpoint, receiver, deliveries, reporter):
    import threading

    make_endpoint(["*"])
    factories.make_incident(reporter)
    stop = threading.Event()
    stop.set()
    delivery.drain(stop=stop)
    assert receiver.received == [] and deliveries()[0].status == WebhookStatus.PENDING
