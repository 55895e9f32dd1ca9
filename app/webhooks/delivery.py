"""One pass over the due webhook deliveries: claim one, sign it, POST it, record what happened.

Like the mail outbox (app/mail/outbox.py): claims are one guarded UPDATE (a materialized CTE with
SKIP LOCKED on PostgreSQL), so two senders never take the same row, and a sender that dies mid-POST
loses its lease and the row goes out again (receivers deduplicate on `webhook-id`). One row is
claimed at a time: each POST may take the whole timeout, and a claim should not outlive it.

Outcomes: 2xx delivered (the endpoint is healthy again); 410 Gone turns the endpoint off and fails
the row; anything else (another status, a redirect, which is never followed, a timeout, a refused
or closed connection, an address the SSRF guard refuses, an unreadable secret) is a failed attempt,
retried after 5 s, 5 min, 30 min, 2 h, 5 h and 10 h, then failed. An endpoint whose deliveries have
been failing for 24 h is turned off and every active admin is mailed. Rows of an endpoint that is
off are not sent: they wait, and go out if it is turned on again.

`now` is the clock of every decision (what is due, the schedule, the 24 h, the rotation window);
the `webhook-timestamp` header is always the wall-clock time the request leaves, because the
receiver checks it against its own clock."""
import contextlib
import http.client
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app.database import write_transaction
from app.extensions import db
from app.incidents import notifications
from app.mail.delivery import worker_name
from app.mail.enums import WebhookStatus
from app.models import WebhookDelivery, WebhookEndpoint, utcnow
from app.times import human_text
from app.webhooks import guard, secrets, signing

log = logging.getLogger(__name__)

# Waits after the 1st, 2nd, ... failed attempt; the attempt after the last wait is the last one.
SCHEDULE = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=5), timedelta(hours=10))
MAX_ATTEMPTS = len(SCHEDULE) + 1
# An endpoint failing this long is turned off (SPEC: 24 h).
FAILING_LIMIT = timedelta(hours=24)
ERROR_MAX = 1000
RESPONSE_SNIPPET = 200  # bytes of a failed answer's body kept in last_error
USER_AGENT = "incident-portal-webhooks/1"


@dataclass
class DrainResult:
    """What one pass did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    lost_claims: int = 0
    disabled_endpoints: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: the status code (None when no answer came), duration, and why it failed."""

    status_code: int | None
    duration_ms: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def drain(*, stop: threading.Event | None = None, now: datetime | None = None,
          worker: str | None = None) -> DrainResult:
    """Attempt every delivery due when the pass starts, each at most once in this pass; a failed
    one is rescheduled after `now`, so it waits for a later pass. Stops between rows when `stop`
    is set."""
    now = now or utcnow()
    worker = worker or worker_name()
    result = DrainResult()
    _reclaim_lapsed(now)
    while not (stop is not None and stop.is_set()):
        delivery_id = _claim_one(worker=worker, now=now)
        if delivery_id is None:
            break
        _deliver(delivery_id, worker, now, result)
    return result


def lease() -> timedelta:
    """How long a claim lasts: a POST's whole timeout, twice, with room to record it."""
    return timedelta(seconds=2 * float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"]) + 30)


def retry_wait(attempts: int) -> timedelta | None:
    """The wait after the `attempts`-th failed attempt, or None when that was the last one."""
    return SCHEDULE[attempts - 1] if attempts <= len(SCHEDULE) else None


# ---- claims ----------------------------------------------------------------------------------

def _due(now: datetime):
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.active.is_(True))
    return (WebhookDelivery.status == WebhookStatus.PENDING, WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.endpoint_id.in_(active))


def _claim_one(*, worker: str, now: datetime) -> int | None:
    """Mark the oldest due row of an active endpoint as ours; its id, or None when none is due."""
    if db.session.scalar(select(WebhookDelivery.id).where(*_due(now)).limit(1)) is None:
        db.session.rollback()
        return None  # the usual case: a plain read, no write lock taken
    # A materialized CTE, not `IN (subquery)`: see app/mail/outbox.py claim_due.
    due = (
        select(WebhookDelivery.id).where(*_due(now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(1)
        .with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
    )
    claim = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(select(due.c.id)), WebhookDelivery.status == WebhookStatus.PENDING)
        .values(status=WebhookStatus.SENDING, claimed_by=worker, claimed_at=now)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    with write_transaction():
        return db.session.scalars(claim).first()


def _reclaim_lapsed(now: datetime) -> None:
    """Rows whose sender stopped renewing (it died mid-POST) are pending again, no attempt counted."""
    lapsed = (WebhookDelivery.status == WebhookStatus.SENDING, WebhookDelivery.claimed_at < now - lease())
    if db.session.scalar(select(WebhookDelivery.id).where(*lapsed).limit(1)) is None:
        db.session.rollback()
        return
    with write_transaction():
        taken = db.session.scalars(
            update(WebhookDelivery).where(*lapsed)
            .values(status=WebhookStatus.PENDING, claimed_by=None, claimed_at=None,
                    last_error="the sender stopped mid-send (its lease lapsed); sent again, may arrive twice")
            .returning(WebhookDelivery.id).execution_options(synchronize_session=False)
        ).all()
    for delivery_id in taken:
        log.warning("Webhook delivery #%s: its sender's lease lapsed; taken over", delivery_id)


# ---- one delivery ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Job:
    """A claimed row and its endpoint, read before the POST (no ORM object is held across it)."""

    delivery_id: int
    endpoint_id: int
    url: str
    webhook_id: str
    payload: bytes
    secrets: tuple[str, ...]
    secret_error: str | None


def _deliver(delivery_id: int, worker: str, now: datetime, result: DrainResult) -> None:
    job = _read(delivery_id, worker, now)
    if job is None:
        result.lost_claims += 1
        return
    attempt = Attempt(None, None, job.secret_error) if job.secret_error else _post(job)
    status = _record(job, worker, attempt, now, result)
    if status is None:
        result.lost_claims += 1
    elif status == WebhookStatus.DELIVERED:
        result.delivered += 1
    elif status == WebhookStatus.FAILED:
        result.failed += 1
    else:
        result.retrying += 1
    if attempt.error:
        log.info("Webhook delivery #%s to endpoint #%s: %s", job.delivery_id, job.endpoint_id, attempt.error)


def _read(delivery_id: int, worker: str, now: datetime) -> _Job | None:
    row = db.session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == WebhookStatus.SENDING,
               WebhookDelivery.claimed_by == worker)
    ).one_or_none()
    if row is None:
        db.session.rollback()
        return None
    delivery, endpoint = row
    keys: list[str] = []
    error = None
    try:
        keys.append(secrets.decrypt(endpoint.secret_encrypted))
    except secrets.SecretUnreadable as exc:
        error = str(exc)
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        try:
            keys.append(secrets.decrypt(endpoint.previous_secret_encrypted))
        except secrets.SecretUnreadable:
            log.warning("Webhook endpoint #%s: its previous secret cannot be read; signing with the current one",
                        endpoint.id)
    job = _Job(delivery_id=delivery.id, endpoint_id=endpoint.id, url=endpoint.url, webhook_id=delivery.webhook_id,
               payload=delivery.payload.encode("utf-8"), secrets=tuple(keys), secret_error=error)
    db.session.rollback()  # end the read before the POST
    return job


def _post(job: _Job) -> Attempt:
    """One POST to the vetted address, no redirects, within WEBHOOK_TIMEOUT_SECONDS in all."""
    config = current_app.config
    try:
        target = guard.target(job.url, allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE"]))
    except guard.Refused as exc:
        return Attempt(None, None, str(exc))
    timeout = float(config["WEBHOOK_TIMEOUT_SECONDS"])
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.headers(job.secrets, webhook_id=job.webhook_id, sent_at=utcnow(), body=job.payload),
    }
    started = time.monotonic()
    connection = _connection(target, target.addresses[0], timeout)
    deadline = _Deadline(connection, timeout)
    try:
        connection.request("POST", target.path, body=job.payload, headers=headers)
        response = connection.getresponse()
        snippet = response.read(RESPONSE_SNIPPET)
        code = response.status
        error = None if 200 <= code < 300 else _refusal(code, response.getheader("Location"), snippet)
    except (OSError, http.client.HTTPException) as exc:
        code, error = None, _failure(exc, deadline.expired, timeout)
    finally:
        deadline.cancel()
        connection.close()
    if deadline.expired:  # cut mid-answer: whatever was parsed is not the receiver's answer
        code, error = None, f"timed out after {timeout:g} s"
    return Attempt(code, round((time.monotonic() - started) * 1000), error)


def _connection(target: guard.Target, address: str, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target.host, target.port, address=address, timeout=timeout,
                                      context=ssl.create_default_context())
    return _PinnedHTTPConnection(target.host, target.port, address=address, timeout=timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the address the guard vetted; the Host header still names the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, **kwargs) -> None:
        super().__init__(host, port, **kwargs)
        self.vetted_address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.vetted_address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the vetted address; SNI and the certificate check use the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, **kwargs) -> None:
        super().__init__(host, port, **kwargs)
        self.vetted_address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.vetted_address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _Deadline:
    """Cuts the connection when the whole attempt outlives the timeout: the socket timeout alone
    restarts with every byte, so a receiver dripping its answer could hold a sender for ever."""

    def __init__(self, connection: http.client.HTTPConnection, timeout: float) -> None:
        self.expired = False
        self._connection = connection
        self._timer = threading.Timer(timeout, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        self.expired = True
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _refusal(code: int, location: str | None, snippet: bytes) -> str:
    if 300 <= code < 400:
        return f"HTTP {code}: redirects are not followed" + (f" (Location: {location[:300]})" if location else "")
    text = snippet.decode("utf-8", errors="replace").strip()
    return f"HTTP {code}" + (f": {text}" if text else "")


def _failure(exc: Exception, expired: bool, timeout: float) -> str:
    if expired or isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the receiver closed the connection without answering"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc}"
    return f"{type(exc).__name__}: {exc}"


# ---- recording the outcome -------------------------------------------------------------------

def _record(job: _Job, worker: str, attempt: Attempt, now: datetime, result: DrainResult) -> WebhookStatus | None:
    """The attempt's outcome on the row and its endpoint, in one transaction; the row's new status,
    or None when our claim had been taken back meanwhile."""
    with write_transaction():
        delivery = db.session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == job.delivery_id,
                                          WebhookDelivery.status == WebhookStatus.SENDING,
                                          WebhookDelivery.claimed_by == worker).with_for_update())
        if delivery is None:
            return None
        endpoint = db.session.get(WebhookEndpoint, job.endpoint_id, with_for_update=True)
        delivery.attempts += 1
        delivery.last_status_code = attempt.status_code
        delivery.last_duration_ms = attempt.duration_ms
        delivery.last_error = _clip(attempt.error) if attempt.error else None
        delivery.claimed_by = None
        delivery.claimed_at = None
        if attempt.ok:
            delivery.status = WebhookStatus.DELIVERED
            delivery.delivered_at = now
            endpoint.failing_since = None
        elif attempt.status_code == 410:
            delivery.status = WebhookStatus.FAILED
            _disable(endpoint, f"The receiver answered 410 Gone on {human_text(now)}.", now, result)
        else:
            wait = retry_wait(delivery.attempts)
            if wait is None:
                delivery.status = WebhookStatus.FAILED
            else:
                delivery.status = WebhookStatus.PENDING
                delivery.next_attempt_at = now + wait
            endpoint.failing_since = endpoint.failing_since or now
            if endpoint.active and now - endpoint.failing_since >= FAILING_LIMIT:
                _disable(endpoint, f"Deliveries failed for 24 hours (since {human_text(endpoint.failing_since)}); "
                                   f"the last error: {_clip(attempt.error or '', 200)}", now, result)
        return delivery.status


def _disable(endpoint: WebhookEndpoint, reason: str, now: datetime, result: DrainResult) -> None:
    """Turn the endpoint off and tell every active admin why (inside the caller's transaction)."""
    if not endpoint.active:
        return
    endpoint.active = False
    endpoint.disabled_reason = _clip(reason, 300)
    endpoint.updated_at = now
    result.disabled_endpoints.append(endpoint.id)
    log.warning("Webhook endpoint #%s (%s) turned off: %s", endpoint.id, endpoint.url, reason)
    notifications.webhook_disabled(endpoint)


def _clip(text: str, limit: int = ERROR_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
