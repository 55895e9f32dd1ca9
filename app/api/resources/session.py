"""/auth/tokens, /auth/tokens/<id>, /auth/tokens/current and /me: getting, listing, dropping and
checking API credentials; the caller's own account, with the mail it wants (`notify`)."""
from flask import Response, current_app, request
from flask_restful import Resource
from marshmallow import fields
from werkzeug.exceptions import BadRequest

from app.api.auth import Unauthenticated, current_identity
from app.api.fields import StrictBoolean
from app.api.operations import operation
from app.api.schemas import Input, TokenListSchema, TokenRequestSchema, TokenSchema, UserSchema, shared
from app.auth import service as accounts
from app.auth import two_factor
from app.extensions import limiter
from app.incidents import notifications
from app.incidents.notifications import Category

OTP_NEEDED = ("This account uses two-factor sign-in: send otp, the 6-digit code its authenticator app shows "
              "(or one of its recovery codes), with the username and password.")
SET_UP_FIRST = ("This account's role requires two-factor sign-in: set it up on /ui/account (log in there with "
                "the password), then send otp with the username and password.")


def _token_limit() -> str:
    return current_app.config["RATELIMIT_TOKENS"]


class Tokens(Resource):
    """Bearer tokens."""

    tag = "auth"

    @operation("List your tokens", returns=TokenListSchema,
               description="Your live tokens (not revoked, not expired), newest first. The tokens themselves "
                           "are never shown again; `last_used_at` is kept to the minute.")
    def get(self, actor):
        """The caller's live tokens."""
        return shared(TokenListSchema).dump({"items": accounts.list_tokens(user=actor)})

    @limiter.limit(_token_limit)
    @operation("Get a bearer token", body=TokenRequestSchema, status=201, returns=TokenSchema, public=True,
               errors=(401, 429),
               description="Exchange a username and password for a token, shown once. Rate limited per client "
                           "address (RATELIMIT_TOKENS, 10 per minute by default). After 5 wrong passwords "
                           "for one username from one address (the login form, HTTP Basic and this count "
                           "together) that client gets 429 with Retry-After, for a while that grows to 15 "
                           "minutes; the owner signing in from another address is not refused. An account "
                           "with two-factor sign-in also needs `otp` (a code from its authenticator app, or a "
                           "recovery code; each works once): missing or wrong is 401, and wrong codes are "
                           "throttled like wrong passwords. Such an account cannot use HTTP Basic. An account "
                           "whose role is in REQUIRE_2FA_ROLES and has not set it up yet gets 401 too.")
    def post(self, body):
        """Check the credentials and issue a token."""
        user = accounts.authenticate(username=body["username"], password=body["password"],
                                     address=request.remote_addr)
        if user is None:
            raise Unauthenticated("Invalid username or password.")
        if two_factor.is_enabled(user):
            _check_otp(user, body.get("otp"))
        elif two_factor.is_required(user):
            raise Unauthenticated(SET_UP_FIRST)
        token, plain = accounts.issue_token(user=user, name=body.get("name", "api"),
                                            ttl_days=body.get("expires_in_days"))
        issued = shared(TokenSchema).dump({"token": plain, "expires_at": token.expires_at, "user": user})
        return issued, 201, {"Cache-Control": "no-store"}  # a secret: no cache may keep it


def _check_otp(user, otp: str | None) -> None:
    """The second factor of an account that has one: missing or wrong is 401, like a wrong password
    (a wrong one counts against this client, as wrong passwords do: 429 after a few)."""
    if otp is None:
        raise Unauthenticated(OTP_NEEDED)
    try:
        two_factor.verify_sign_in(user=user, code=otp, address=request.remote_addr)
    except two_factor.CodeRefused as exc:
        raise Unauthenticated(f"otp: {exc.message}") from None


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
        return no_content()


class Token(Resource):
    """One of the caller's tokens."""

    tag = "auth"

    @operation("Revoke one of your tokens", status=204, errors=(404,),
               description="The token stops working at once. Someone else's token, or an unknown, revoked "
                           "or expired one, is 404.")
    def delete(self, token_id, actor):
        """Revoke a token of the caller's by id."""
        accounts.revoke_own_token(user=actor, token_id=token_id)
        return no_content()


_SWITCH_HELP = {
    Category.COMMENTS: "Mail about public comments on incidents you watch.",
    Category.STATUS: "Mail about assignments and every status move of incidents you watch.",
    Category.SLA: "Mail about SLA warnings and breaches.",
}


# Which mail you get, by category; a category not named stays as it is.
NotifySchema = Input.from_dict({category.value: StrictBoolean(metadata={"description": help_text})
                                for category, help_text in _SWITCH_HELP.items()}, name="NotifySchema")


class MeSchema(UserSchema):
    """Your account, with your notification switches."""

    notify = fields.Function(notifications.switches_of, required=True, metadata={
        "type": "object", "additionalProperties": False, "required": [category.value for category in Category],
        "properties": {category.value: {"type": "boolean", "description": _SWITCH_HELP[category]}
                       for category in Category},
        "description": "Which mail you get about the incidents you watch (each category can be switched off)."})


class MeUpdateSchema(Input):
    """A change to your own account."""

    notify = fields.Nested(NotifySchema, required=True)


class Me(Resource):
    """The caller."""

    tag = "auth"

    @operation("Who am I", returns=MeSchema)
    def get(self, actor):
        """The authenticated user, with their notification switches."""
        return shared(MeSchema).dump(actor)

    @operation("Change your notification switches", body=MeUpdateSchema, returns=MeSchema,
               description="`notify` turns categories of mail on or off: `comments` (public comments), "
                           "`status` (assignments and every move), `sla` (SLA warnings and breaches). Only "
                           "the categories named change; each must be true or false, and an unknown one is "
                           "422. Creation mail is not switchable.")
    def patch(self, actor, body):
        """Switch mail categories on or off."""
        return shared(MeSchema).dump(notifications.set_switches(user=actor, switches=body["notify"]))


def no_content() -> Response:
    """204: nothing follows, so no Content-Type either."""
    response = Response(status=204)
    response.headers.remove("Content-Type")
    return response
