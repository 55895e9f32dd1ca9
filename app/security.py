"""Security headers on every response, and the host names the portal answers to."""
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_login import current_user
from werkzeug.exceptions import SecurityError

from app.errors import is_api_request, problem

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
# Always trusted: the container's health check and a developer's browser call the portal by these.
# Nothing is built from the Host header (absolute URLs come from APP_BASE_URL), so they lend an
# attacker nothing.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


def default_trusted_hosts(base_url: str) -> list[str]:
    """TRUSTED_HOSTS when none is configured: APP_BASE_URL's host and the loopback names."""
    host = urlsplit(base_url).hostname
    return list(dict.fromkeys([*([host] if host else []), *LOOPBACK_HOSTS]))


def _personal() -> bool:
    """The answer was computed for someone: the request carried credentials or a signed-in session
    (the session is only read when a cookie came, so anonymous API answers gain no Vary: Cookie)."""
    return "Authorization" in request.headers or (bool(request.cookies) and current_user.is_authenticated)


def _over_https() -> bool:
    """The portal is published over HTTPS, or this request came over it (through a trusted proxy)."""
    return current_app.config["APP_BASE_URL"].startswith("https://") or request.is_secure


def add_security_headers(response: Response) -> Response:
    """No inline scripts, no framing, no MIME sniffing, no referrer leaks; nothing personal kept
    by a browser or proxy cache; HTTPS only once it is served over HTTPS."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if _personal():
        headers.setdefault("Cache-Control", "no-store")
    if _over_https():
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def refuse_untrusted_host(error: SecurityError):
    """A Host header outside TRUSTED_HOSTS: 400. Answered without a template, since no URL can be
    built for a request whose host was refused."""
    detail = "This server does not answer to that host name."
    if is_api_request():
        return problem(400, detail)
    return Response(detail, status=400, mimetype="text/plain")


def init_app(app: Flask) -> None:
    """The headers on every answer, and Flask's TRUSTED_HOSTS check, defaulted from APP_BASE_URL."""
    if app.config["TRUSTED_HOSTS"] is None:
        app.config["TRUSTED_HOSTS"] = default_trusted_hosts(app.config["APP_BASE_URL"])
    app.register_error_handler(SecurityError, refuse_untrusted_host)
    app.after_request(add_security_headers)
