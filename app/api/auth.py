"""Who is calling: the Authorization header only (cookies never count), else 401 with a challenge."""
from flask import g, request
from werkzeug.exceptions import Unauthorized

from app.auth.credentials import ApiIdentity, identify
from app.auth.two_factor import SecondFactorNeeded

REALM = "incident-portal"


class Unauthenticated(Unauthorized):
    """401 offering both schemes in one WWW-Authenticate field (RFC 9110 allows a list)."""

    def __init__(self, description: str, *, invalid_token: bool = False):
        super().__init__(description)
        bearer = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if invalid_token else "")
        self.challenge = f'{bearer}, Basic realm="{REALM}"'

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("WWW-Authenticate", self.challenge)]


def authenticate() -> ApiIdentity:
    """The caller's identity, kept on `g` for the request; 401 when there is none."""
    try:
        identity = identify(request)
    except SecondFactorNeeded as exc:  # a 401 like any other: with the challenge
        raise Unauthenticated(exc.message) from None
    if identity is None:
        if "Authorization" in request.headers:
            bearer = request.headers["Authorization"].lower().startswith("bearer")
            raise Unauthenticated("The credentials are wrong, expired, revoked or for a deactivated user.",
                                  invalid_token=bearer)
        raise Unauthenticated("Send a bearer token (POST /auth/tokens) or HTTP Basic credentials. "
                              "The API does not use the browser session.")
    g.api_identity = identity
    return identity


def current_identity() -> ApiIdentity:
    """The identity `authenticate()` established for this request."""
    return g.api_identity
