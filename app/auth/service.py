"""Accounts: authenticate, users, passwords and API tokens. No request objects here."""
import hashlib
import re
import secrets
from contextlib import suppress
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update
from werkzeug.security import generate_password_hash

from app.auth import throttle, two_factor
from app.auth.emails import is_email
from app.auth.roles import Role
from app.auth.usernames import username_key
from app.database import write_transaction
from app.exceptions import InvalidInput, NotFound, TransitionNotAllowed, Unavailable
from app.extensions import db
from app.incidents import handover
from app.models import ApiToken, User, utcnow

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
# Names and labels are one line of text; PostgreSQL cannot store NUL at all.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# How stale a token's last_used_at may get: it is written at most this often, and only when the
# write lock is free within a moment.
LAST_USED_RESOLUTION = timedelta(minutes=1)
LAST_USED_LOCK_WAIT_SECONDS = 0.05


def hash_password(password: str) -> str:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(password, method=method)


def authenticate(*, username: str, password: str, address: str | None,
                 now: datetime | None = None) -> User | None:
    """The active user with these credentials, or None. Failures are throttled per (username,
    client address): a client held back gets TooManyAttempts, while the owner signing in from
    anywhere else is not refused (app.auth.throttle)."""
    now = now or utcnow()
    username = (username or "").strip()
    throttle.begin_attempt(username=username, address=address, now=now)
    # A name no account can have (NUL, control characters, 10,000 letters) is never looked up.
    user = _by_name(username) if USERNAME_RE.fullmatch(username) else None
    # An unknown username is checked against a stand-in hash: its failure takes as long.
    matches = throttle.check_password(user.password_hash if user else None, password or "")
    if user is not None and matches and user.active:
        throttle.record_success(username=username, address=address)
        return user
    return None  # the attempt was counted as a failure before the check


def validate_password(password: str, *, field: str = "password") -> None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if not isinstance(password, str) or len(password) < minimum:
        raise InvalidInput.field(field, f"Must be at least {minimum} characters.")
    if len(password) > 256:
        raise InvalidInput.field(field, "Must be at most 256 characters.")


def _validate_profile(*, username=None, name=None, email=None, role=None, errors) -> None:
    if username is not None and not (isinstance(username, str) and USERNAME_RE.fullmatch(username)):
        errors.setdefault("username", []).append("3-64 letters, digits, '.', '_' or '-'.")
    if name is not None and not (isinstance(name, str) and 0 < len(name.strip()) <= 120):
        errors.setdefault("name", []).append("Must be 1-120 characters.")
    elif name is not None and CONTROL_CHARS.search(name):
        errors.setdefault("name", []).append("Must not contain control characters.")
    if email is not None and not is_email(email):
        errors.setdefault("email", []).append("Must be a valid email address.")
    if role is not None and not isinstance(role, Role):
        try:
            Role(role)
        except ValueError:
            errors.setdefault("role", []).append(f"Must be one of: {', '.join(r.value for r in Role)}.")


def create_user(*, username: str, password: str, role, name: str | None = None,
                email: str | None = None) -> User:
    """A new active user."""
    name = name or username
    email = email or f"{username}@example.com"
    errors: dict[str, list[str]] = {}
    _validate_profile(username=username, name=name, email=email, role=role, errors=errors)
    try:
        validate_password(password)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    with write_transaction():
        if db.session.scalar(select(User.id).where(User.username_key == username_key(username))) is not None:
            raise InvalidInput.field("username", "This username is taken.")
        user = User(username=username, name=name.strip(), email=email, role=Role(role),
                    password_hash=hash_password(password), active=True)
        db.session.add(user)
    return user


def update_user(*, user: User, role=None, active: bool | None = None, name: str | None = None,
                email: str | None = None, actor: User | None = None, reassign_to: int | None = None,
                unassign: bool = False, reset_2fa: bool = False) -> User:
    """Change role, name, email, or (de)activate. Deactivation also ends the user's sessions and
    revokes their tokens. A technician taken off duty hands their active incidents to `reassign_to`
    or back to open (`unassign`), the `actor` (the admin) making those moves; saying neither is
    refused (409).
    `reset_2fa` clears the user's two-factor sign-in (a lost phone)."""
    errors: dict[str, list[str]] = {}
    _validate_profile(name=name, email=email, role=role, errors=errors)
    for flag, value in (("active", active), ("reset_2fa", reset_2fa)):
        if value is not None and not isinstance(value, bool):
            errors.setdefault(flag, []).append("Must be true or false.")
    if errors:
        raise InvalidInput(errors)
    with write_transaction():
        leaves_admins = user.role == Role.ADMIN and user.active and (
            (role is not None and Role(role) != Role.ADMIN) or active is False)
        if leaves_admins and _active_admins() <= 1:
            raise TransitionNotAllowed(f"{user.username} is the last active admin; make someone else "
                                       "an admin first.")
        handover.hand_over(actor=actor, user=user, role=role, active=active, reassign_to=reassign_to,
                           unassign=unassign)
        if role is not None:
            user.role = Role(role)
        if name is not None:
            user.name = name.strip()
        if email is not None:
            user.email = email
        if active is not None:
            user.active = active
            if not active:  # signed out for good: a reactivation must not revive an old session
                user.session_version += 1
                revoke_all_tokens(user)
        if reset_2fa:
            two_factor.forget(user)
    return user


def _active_admins() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN,
                                                                          User.active.is_(True)))


def change_password(*, user: User, current_password: str, new_password: str, address: str | None) -> None:
    """Replace the password after checking the current one; every other session and every API
    token ends. Wrong guesses of it are throttled like sign-ins, on the same count (TooManyAttempts)."""
    throttle.begin_attempt(username=user.username, address=address)
    if not throttle.check_password(user.password_hash, current_password or ""):
        raise InvalidInput.field("current_password", "The current password is wrong.")
    throttle.record_success(username=user.username, address=address)
    validate_password(new_password, field="new_password")
    with write_transaction():
        user.password_hash = hash_password(new_password)
        user.session_version += 1
        revoke_all_tokens(user)  # a token minted with the old password must not outlive it


def end_sessions(*, user: User) -> None:
    """Log the user out everywhere: every session cookie issued so far stops working."""
    with write_transaction():
        user.session_version += 1


def _by_name(username: str) -> User | None:
    """The account a typed name means: whatever its case; the exact spelling first, so an account
    whose name collided with an older one's before names were unique by key (migration 0005 gave
    it `<key>~<id>`) is still reached by its own spelling."""
    candidates = db.session.scalars(select(User).where(
        or_(User.username == username, User.username_key == username_key(username)))).all()
    return next((u for u in candidates if u.username == username), candidates[0] if candidates else None)


def find_user(username: str) -> User:
    """The account with this username, whatever its case (NotFound otherwise)."""
    user = _by_name(username or "")
    if user is None:
        raise NotFound(f"There is no user {username!r}.")
    return user


def id_named(username: str) -> int | None:
    """The id of the account `username` names, whatever its case (see username_key), or None: the
    one lookup behind a person filter given as a username (`technician=Tech1` in the API and the
    list page alike)."""
    if not username or len(username) > 100:
        return None
    user = _by_name(username)
    return user.id if user is not None else None


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} was not found.")
    return user


def list_users(*, role: Role | None = None, active_only: bool = False, active: bool | None = None) -> list[User]:
    """Accounts by username, of one role and/or one state (`active`: True, False or None for both)."""
    query = select(User).order_by(User.username)
    if role is not None:
        query = query.where(User.role == role)
    if active_only:
        active = True
    if active is not None:
        query = query.where(User.active.is_(active))
    return list(db.session.scalars(query))


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(*, user: User, name: str = "api", ttl_days: int | None = None) -> tuple[ApiToken, str]:
    """A new bearer token; returns the row and the plain token (shown once, never stored)."""
    if name and CONTROL_CHARS.search(name):
        raise InvalidInput.field("name", "Must not contain control characters.")
    plain = secrets.token_urlsafe(32)
    days = current_app.config["API_TOKEN_TTL_DAYS"] if ttl_days is None else ttl_days
    with write_transaction():
        token = ApiToken(user_id=user.id, token_hash=_token_digest(plain), name=(name or "api")[:100],
                         expires_at=utcnow() + timedelta(days=days) if days else None)
        db.session.add(token)
    return token, plain


def user_for_token(plain: str, *, now: datetime | None = None) -> tuple[User, ApiToken] | None:
    """The active user a live token belongs to. One indexed lookup, no password hashing."""
    now = now or utcnow()
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(plain)))
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.active:
        return None
    _note_use(token, now)
    return token.user, token


def _note_use(token: ApiToken, now: datetime) -> None:
    """Record when the token was last used, at most once a minute: a write on every request would
    queue every API read behind the database's single write lock. Bookkeeping only: when the lock
    is not free at once, this use goes unrecorded rather than hold up (or refuse) the request."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    with suppress(Unavailable), write_transaction(wait_seconds=LAST_USED_LOCK_WAIT_SECONDS):
        db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))


def revoke_token(*, token: ApiToken) -> None:
    with write_transaction():
        if token.revoked_at is None:
            token.revoked_at = utcnow()


def list_tokens(*, user: User, now: datetime | None = None) -> list[ApiToken]:
    """The user's live tokens (neither revoked nor expired), newest first."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                               or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def revoke_own_token(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own live tokens; anyone else's, or none, is NotFound."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound(f"Token {token_id} was not found.")
    revoke_token(token=token)
    return token


def revoke_all_tokens(user: User) -> None:
    """Revoke every live token of `user`, inside the caller's transaction (deactivation, a new password)."""
    now = utcnow()
    for token in db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                           ApiToken.revoked_at.is_(None))):
        token.revoked_at = now
