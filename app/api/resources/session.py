"""/auth/tokens, /auth/tokens/current and /me: getting, dropping and checking API credentials."""
from flask import Response, current_app
from flask_restful import Resource
from werkzeug.exceptions import BadRequest

from app.api.auth import Unauthenticated, current_identity
from app.api.operations import operation
from app.api.schemas import TokenRequestSchema, TokenSchema, UserSchema, shared
from app.auth import service as accounts
from app.extensions import limiter


def _token_limit() -> str:
    return current_app.config["RATELIMIT_TOKENS"]


class Tokens(Resource):
    """Bearer tokens."""

    tag = "auth"

    @limiter.limit(_token_limit)
    @operation("Get a bearer token", body=TokenRequestSchema, status=201, returns=TokenSchema, public=True,
               errors=(401, 429),
               description="Exchange a username and password for a token, shown once. Rate limited per client "
                           "address (RATELIMIT_TOKENS, 10 per minute by default); wrong passwords also count "
                           "towards the account lockout.")
    def post(self, body):
        """Check the credentials and issue a token."""
        user = accounts.authenticate(username=body["username"], password=body["password"])
        if user is None:
            raise Unauthenticated("Invalid username or password.")
        token, plain = accounts.issue_token(user=user, name=body.get("name", "api"),
                                            ttl_days=body.get("expires_in_days"))
        issued = shared(TokenSchema).dump({"token": plain, "expires_at": token.expires_at, "user": user})
        return issued, 201, {"Cache-Control": "no-store"}  # a secret: no cache may keep it


class CurrentToken(Resource):
    """The token this request carries."""

    tag = "auth"

    @operation("Revoke the token in use", status=204, errors=(400,),
               description="Log a script out: the bearer token of this request stops working.")
    def delete(self, actor):
        """Revoke the caller's bearer token."""
        token = current_identity().token
        if token is None:
            raise BadRequest("This request used HTTP Basic credentials; there is no token to revoke.")
        accounts.revoke_token(token=token)
        response = Response(status=204)
        response.headers.remove("Content-Type")  # nothing follows, so no type either
        return response


class Me(Resource):
    """The caller."""

    tag = "auth"

    @operation("Who am I", returns=UserSchema)
    def get(self, actor):
        """The authenticated user."""
        return shared(UserSchema).dump(actor)
