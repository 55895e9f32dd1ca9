"""The SSRF guard: URLs refused when saved (form, credentials, literal internal addresses) and
addresses refused at send time after DNS, with no connection made; the connection goes to the
address that was vetted (DNS rebinding)."""
import ipaddress
import socket

import pytest
from sqlalchemy import func, select

from app.exceptions import InvalidInput
from app.extensions import db
from app.mail.enums import WebhookStatus
from app.models import WebhookEndpoint
from app.webhooks import endpoints, guard
from tests import factories
from tests.webhooks.receiver import Receiver

REFUSED_AT_SAVE = [
    "ftp://example.com/hook",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "gopher://example.com/",
    "http://user:pass@example.com/hook",
    "https://token@example.com/hook",
    "http:///no-host",
    "http://example.com:99999/",
    "http://exa mple.com/",
    "http://example.com/\nHost: evil",
    "https://example.com/" + "a" * 2000,
    "",
    "http://127.0.0.1/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0.0.0.0/",
    "http://[::1]:8080/",
    "http://[::]/",
    "http://10.1.2.3/",
    "http://172.16.0.9/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.1.1/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
]


@pytest.mark.parametrize("url", REFUSED_AT_SAVE)
def test_bad_urls_are_refused_at_create_and_update(app, admin, url):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    with pytest.raises(InvalidInput) as refused:
        endpoints.create_endpoint(actor=admin, url=url, events=["*"])
    assert list(refused.value.errors) == ["url"]
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0
    endpoint, _ = endpoints.create_endpoint(actor=admin, url="https://hooks.example.com/in", events=["*"])
    with pytest.raises(InvalidInput):
        endpoints.update_endpoint(actor=admin, endpoint_id=endpoint.id, url=url)
    db.session.rollback()
    assert db.session.get(WebhookEndpoint, endpoint.id).url == "https://hooks.example.com/in"


@pytest.mark.parametrize("url", ["https://hooks.example.com/in?team=ops", "http://93.184.216.34:8080/hook",
                                 "http://[2606:4700:4700::1111]/x", "http://localhost:9/hook"])
def test_public_urls_and_host_names_are_taken(app, admin, url):
    """A host name is checked when it is called (it may resolve differently by then)."""
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    endpoint, _ = endpoints.create_endpoint(actor=admin, url=url, events=["*"])
    assert endpoint.url == url


def test_literal_private_addresses_are_taken_when_allowed(app, admin):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    endpoint, _ = endpoints.create_endpoint(actor=admin, url="http://10.0.0.7/hook", events=["*"])
    assert endpoint.url == "http://10.0.0.7/hook"
    with pytest.raises(InvalidInput):  # the form is still checked
        endpoints.create_endpoint(actor=admin, url="file:///etc/passwd", events=["*"])


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:4700:4700::1111", True), ("8.8.8.8", True),
    ("127.0.0.1", False), ("127.255.0.9", False), ("10.0.0.1", False), ("172.31.255.255", False),
    ("192.168.0.1", False), ("100.127.255.254", False), ("169.254.169.254", False), ("0.0.0.0", False),
    ("255.255.255.255", False), ("::1", False), ("::", False), ("fe80::1", False), ("fc00::1", False),
    ("fd00:ec2::254", False), ("::ffff:10.0.0.1", False), ("2002:7f00:1::", False), ("ff02::1", False),
    ("192.0.2.1", False), ("198.18.0.1", False),
])
def test_forbidden_addresses(address, public):
    assert (guard.forbidden(ipaddress.ip_address(address)) is None) is public


def test_a_name_resolving_to_loopback_is_refused_at_send_time(app, admin, receiver, reporter, drain, deliveries):
    """`localhost` passes the save-time check (a name), but at send time it resolves to 127.0.0.1:
    refused, recorded as a failed attempt, and the receiver never hears a thing."""
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    endpoints.create_endpoint(actor=admin, url=f"http://localhost:{receiver.port}/hook", events=["*"])
    factories.make_incident(reporter)
    drain()
    [row] = deliveries()
    assert (row.status, row.attempts, row.last_status_code) == (WebhookStatus.PENDING, 1, None)
    assert row.last_error.startswith("refused: localhost resolves to ")
    assert "loopback" in row.last_error and "WEBHOOK_ALLOW_PRIVATE" in row.last_error
    assert receiver.received == []
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True  # the same row goes out once allowed
    from datetime import timedelta

    from app.models import utcnow
    drain(utcnow() + timedelta(seconds=6))
    assert deliveries()[0].status == WebhookStatus.DELIVERED
    assert len(receiver.received) == 1


def test_a_private_address_saved_while_allowed_is_refused_once_disallowed(app, make_endpoint, receiver, reporter,
                                                                          drain, deliveries):
    make_endpoint(["*"])  # 127.0.0.1, saved while allowed
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    factories.make_incident(reporter)
    drain()
    assert "127.0.0.1, a loopback address" in deliveries()[0].last_error
    assert receiver.received == []


def test_an_unresolvable_name_is_a_failed_attempt(app, admin, reporter, drain, deliveries):
    endpoints.create_endpoint(actor=admin, url="http://no-such-host.invalid/hook", events=["*"])
    factories.make_incident(reporter)
    drain()
    [row] = deliveries()
    assert row.status == WebhookStatus.PENDING and row.last_error.startswith("cannot resolve no-such-host.invalid")


def test_the_connection_goes_to_the_vetted_address(app, admin, reporter, drain, deliveries, monkeypatch):
    """DNS rebinding: the name is resolved once, and the POST goes to the address that answer gave,
    even though a second lookup would now answer another address (a second receiver on 127.0.0.2)."""
    vetted = Receiver("127.0.0.1").start()
    rebound = Receiver("127.0.0.2", vetted.port).start()
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def resolver(host, *args, **kwargs):
        """Answers rebind.test with 127.0.0.1 once, then with 127.0.0.2; other names as usual."""
        if host != "rebind.test":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        return real_getaddrinfo("127.0.0.1" if len(lookups) == 1 else "127.0.0.2", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    try:
        endpoint, secret = endpoints.create_endpoint(actor=admin, url=f"http://rebind.test:{vetted.port}/hook",
                                                     events=["*"])
        vetted.trust(secret)
        factories.make_incident(reporter)
        drain()
        assert lookups == ["rebind.test"]
        [request] = vetted.received
        assert rebound.received == []
        assert request.headers["host"] == f"rebind.test:{vetted.port}"
        assert request.verified_by == [secret]
        assert deliveries()[0].status == WebhookStatus.DELIVERED
    finally:
        vetted.stop()
        rebound.stop()


def test_every_resolved_address_is_vetted(monkeypatch):
    """One public address does not excuse a private one in the same answer."""
    real_getaddrinfo = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host != "mixed.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(guard.Refused, match="10.0.0.5, a private address"):
        guard.target("https://mixed.test/hook", allow_private=False)
    assert guard.target("https://mixed.test/hook", allow_private=True).addresses == ("93.184.216.34", "10.0.0.5")
