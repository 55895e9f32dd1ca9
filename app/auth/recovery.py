"""Password reset by mail: a signed link that works once, for an hour. No request objects here.

The link carries the user's id and a fingerprint of what a reset changes (the password hash, the
session version) and of where it was sent (the address): once the password is reset, or changed,
or the address changes, the fingerprint no longer matches and the link is dead. Nothing is stored."""
import hashlib
from datetime import datetime, timedelta

from flask import current_app, render_template
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, select

from app.auth.service import USERNAME_RE, hash_password, revoke_all_tokens, validate_password
from app.auth.usernames import username_key
from app.database import write_transaction
from app.exceptions import DomainError, TransitionNotAllowed
from app.extensions import db
from app.incidents.references import absolute_url
from app.mail.enums import OutboxStatus
from app.models import OutboxMessage, User, utcnow

SALT = "password-reset"
EVENT = "password_reset"
SUBJECT = "Reset your password"
LOGIN_MAX = 254  # an e-mail address at most


class ResetLinkRefused(DomainError):
    """The reset link is forged, expired, or already used; `message` says which."""

    status = 400


def request_reset(*, login: str, now: datetime | None = None) -> None:
    """Mail a reset link to the active account(s) `login` names (a username or an e-mail address),
    unless that address got one in the last PASSWORD_RESET_MAIL_INTERVAL_SECONDS. Says nothing
    back: the caller answers the same whether or not there was an account."""
    now = now or utcnow()
    with write_transaction():
        users = [user for user in _accounts_named((login or "").strip()) if user.active and user.email]
        if users and not _mailed_recently(users[0].email, now):
            db.session.add_all(_reset_mail(user, now=now) for user in users)


def send_reset_link(*, user: User, sent_by: User) -> None:
    """An admin mails `user` a reset link (not paced: the admin asked for this one)."""
    with write_transaction():
        if not user.active:
            raise TransitionNotAllowed(f"{user.username} is deactivated; reactivate the account first.")
        db.session.add(_reset_mail(user, now=utcnow(), sent_by=sent_by))


def account_for_link(token: str, *, now: datetime | None = None) -> User:
    """The account a reset link is good for, or ResetLinkRefused saying why not."""
    try:
        (user_id, fingerprint), signed_at = _serializer().loads(token, return_timestamp=True)
    except (BadData, TypeError, ValueError):
        raise ResetLinkRefused("This password reset link is not valid. Ask for a new one.") from None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or fingerprint != _fingerprint(user):
        raise ResetLinkRefused("This password reset link was already used, or the account has changed "
                               "since it was sent. Ask for a new one.")
    max_age = timedelta(seconds=current_app.config["PASSWORD_RESET_MAX_AGE_SECONDS"])
    if (now or utcnow()) - signed_at > max_age:
        raise ResetLinkRefused("This password reset link has expired. Ask for a new one.")
    return user


def reset_password(*, token: str, new_password: str, now: datetime | None = None) -> User:
    """Set a new password through a reset link, which then stops working; every session and API token ends."""
    account_for_link(token, now=now)  # a dead link says so before any complaint about the password
    validate_password(new_password, field="new_password")
    with write_transaction():
        # Checked again under the write lock: of two submissions of one link, only the first counts.
        user = account_for_link(token, now=now)
        user.password_hash = hash_password(new_password)
        user.session_version += 1
        revoke_all_tokens(user)  # a reset says the old password may be known: its tokens go too
    return user


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(user: User) -> str:
    state = f"{user.password_hash}\x00{user.session_version}\x00{user.email}"
    return hashlib.sha256(state.encode()).hexdigest()[:32]


def _accounts_named(login: str) -> list[User]:
    if "@" in login and len(login) <= LOGIN_MAX:
        # Addresses are compared without case; several accounts may share one.
        return list(db.session.scalars(select(User).where(func.lower(User.email) == func.lower(login))
                                       .order_by(User.id)))
    if USERNAME_RE.fullmatch(login):
        user = db.session.scalar(select(User).where(User.username_key == username_key(login)))
        return [user] if user else []
    return []


def _mailed_recently(address: str, now: datetime) -> bool:
    since = now - timedelta(seconds=current_app.config["PASSWORD_RESET_MAIL_INTERVAL_SECONDS"])
    # A row's next_attempt_at starts at its creation and only moves later, so the rows created since
    # `since` are among those due since then: the outbox's (status, next_attempt_at) index finds them
    # without reading the whole (ever-growing) table.
    return db.session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.status.in_(list(OutboxStatus)), OutboxMessage.next_attempt_at >= since,
            OutboxMessage.created_at >= since, OutboxMessage.event == EVENT,
            func.lower(OutboxMessage.recipient) == func.lower(address),
        ).limit(1)
    ) is not None


def _reset_mail(user: User, *, now: datetime, sent_by: User | None = None) -> OutboxMessage:
    """The reset mail for `user`, not yet added to the outbox."""
    link = absolute_url("auth.reset_password", token=_serializer().dumps([user.id, _fingerprint(user)]))
    context = {"recipient": user, "link": link, "sent_by": sent_by,
               "minutes": current_app.config["PASSWORD_RESET_MAX_AGE_SECONDS"] // 60}
    return OutboxMessage(
        incident_id=None, event=EVENT, recipient=user.email, subject=SUBJECT,
        body_text=render_template("email/password_reset.txt", **context),
        body_html=render_template("email/password_reset.html", **context),
        created_at=now, next_attempt_at=now,
    )
