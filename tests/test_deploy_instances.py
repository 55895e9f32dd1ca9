"""Several instances: behind a reverse proxy each client is counted (and only trusted hops are
believed), and the shared rate-limit storage failing does not take logins down."""
import socket

import pytest
from flask import request

from tests.web_helpers import login

PROXY = "10.0.0.2"


def login_codes(client, client_address: str, attempts: int) -> list[int]:
    """Status codes of failed logins sent through the proxy on behalf of `client_address`."""
    return [login(client, "x", "y", expect=None, headers={"X-Forwarded-For": client_address},
                  environ_base={"REMOTE_ADDR": PROXY}).status_code for _ in range(attempts)]


def test_behind_one_trusted_proxy_each_client_has_its_own_limit(make_app):
    """TRUSTED_PROXIES=1: the address nginx forwards is the one the limiter counts."""
    client = make_app(TRUSTED_PROXIES=1, RATELIMIT_LOGIN="2 per minute").test_client()
    assert login_codes(client, "203.0.113.7", 3) == [200, 200, 429]
    assert login_codes(client, "203.0.113.8", 1) == [200]


def test_without_a_trusted_proxy_the_header_cannot_dodge_the_limit(make_app):
    """TRUSTED_PROXIES=0 (the default): a client forging X-Forwarded-For is still counted by its socket."""
    client = make_app(RATELIMIT_LOGIN="2 per minute").test_client()
    assert login_codes(client, "203.0.113.7", 2) == [200, 200]
    assert login_codes(client, "203.0.113.8", 1) == [429]


@pytest.mark.parametrize(("hops", "scheme"), [(0, "http"), (1, "https")])
def test_the_forwarded_scheme_is_believed_only_from_a_trusted_proxy(make_app, hops, scheme):
    """X-Forwarded-Proto: https reaches the app (external URLs, secure redirects) only from a trusted hop."""
    app = make_app(TRUSTED_PROXIES=hops)
    app.add_url_rule("/probe/scheme", "probe_scheme", lambda: request.scheme)
    response = app.test_client().get("/probe/scheme", headers={"X-Forwarded-Proto": "https"},
                                     environ_base={"REMOTE_ADDR": PROXY})
    assert response.text == scheme


def test_logins_survive_an_unreachable_rate_limit_store(make_app):
    """RATELIMIT_STORAGE_URI names a Redis that is down: logins still answer, still limited per process."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
                      RATELIMIT_LOGIN="2 per minute").test_client()
    codes = [login(client, "x", "y", expect=None).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
