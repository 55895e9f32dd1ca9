"""API credentials: `Authorization: Bearer <token>` or HTTP Basic. Cookies are never consulted."""
from dataclasses import dataclass

from flask import Request

from app.auth.service import authenticate, user_for_token
from app.models import ApiToken, User


@dataclass
class ApiIdentity:
    user: User
    token: ApiToken | None  # None when the request used HTTP Basic


def identify(request: Request) -> ApiIdentity | None:
    """Who this API request is from, judged by its Authorization header alone. A client held back
    for failed passwords gets TooManyAttempts (429) instead."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        found = user_for_token(value.strip())
        return ApiIdentity(user=found[0], token=found[1]) if found else None
    if scheme.lower() == "basic" and request.authorization is not None:
        auth = request.authorization
        # remote_addr is the client's own address (after ProxyFix, when a proxy is trusted).
        user = authenticate(username=auth.username or "", password=auth.password or "",
                            address=request.remote_addr)
        return ApiIdentity(user=user, token=None) if user else None
    return None
