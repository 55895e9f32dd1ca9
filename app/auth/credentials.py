"""API credentials: `Authorization: Bearer <token>` or HTTP Basic. Cookies are never consulted."""
from dataclasses import dataclass

from flask import Request

from app.auth import two_factor
from app.auth.service import authenticate, user_for_token
from app.models import ApiToken, User

BASIC_REFUSED = ("This account signs in with two factors (or its role requires it), so HTTP Basic is refused: "
                 "get a token from POST /auth/tokens with username, password and otp (the code from your "
                 "authenticator app; set it up on /ui/account first if you have not), and send it as "
                 "Authorization: Bearer <token>.")


@dataclass
class ApiIdentity:
    user: User
    token: ApiToken | None  # None when the request used HTTP Basic


def identify(request: Request) -> ApiIdentity | None:
    """Who this API request is from, judged by its Authorization header alone. A client held back
    for failed passwords gets TooManyAttempts (429) instead; HTTP Basic for an account with
    two-factor sign-in, or whose role requires it, SecondFactorNeeded (401: tokens only)."""
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
        if user is not None and (two_factor.is_enabled(user) or two_factor.is_required(user)):
            raise two_factor.SecondFactorNeeded(BASIC_REFUSED)  # a password alone must not open it
        return ApiIdentity(user=user, token=None) if user else None
    return None
