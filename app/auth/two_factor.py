"""Two-factor sign-in (TOTP, RFC 6238): set up with a first code, each code good once, ten single-use
recovery codes kept only as SHA-256, turned off with a code, reset by an admin. Wrong codes are
throttled like wrong passwords (app.auth.throttle). No request objects here."""
import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime

import pyotp
from flask import current_app
from sqlalchemy import delete, func, select

from app.auth import throttle
from app.database import write_transaction
from app.exceptions import DomainError, TransitionNotAllowed
from app.extensions import db
from app.models import RecoveryCode, User, utcnow

ISSUER = "Incident portal"
RECOVERY_CODE_COUNT = 10
# The step before and the step after the current one count too: a phone's clock a little off, or a
# code typed just as it changed.
VALID_WINDOW = 1
# Longer than any code typed with spaces or dashes; anything longer is not looked at.
CODE_MAX = 32
TOTP_CODE = re.compile(r"[0-9]{6}")
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lower case: no 0/O or 1/l to confuse
RECOVERY_CODE = re.compile(rf"[{RECOVERY_ALPHABET}]{{10}}")
# Spaces and dashes people type or paste between groups of digits.
SEPARATORS = re.compile(r"[\s-]")

WRONG_CODE = "That code is wrong or was already used. Codes change every 30 seconds; each works once."
NOT_A_CODE = "Enter the 6-digit code from your authenticator app."
NOT_A_CODE_OR_RECOVERY = "Enter the 6-digit code from your authenticator app, or one of your recovery codes."


class CodeRefused(DomainError):
    """A second-factor code that is wrong, already used, or not shaped like a code at all."""

    status = 422


class SecondFactorNeeded(DomainError):
    """A password alone does not sign this account in."""

    status = 401


def is_enabled(user: User) -> bool:
    """Whether signing in as this user takes a code after the password."""
    return user.totp_enabled_at is not None


def is_required(user: User) -> bool:
    """Whether the user's role must sign in with two factors (REQUIRE_2FA_ROLES)."""
    return user.role.value in current_app.config["REQUIRE_2FA_ROLES"]


def setup_pending(user: User) -> bool:
    """A secret was made but not yet confirmed with a code."""
    return user.totp_secret is not None and not is_enabled(user)


def provisioning_uri(user: User) -> str:
    """The otpauth:// link an authenticator app reads (from the QR code) to add this account."""
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def recovery_codes_left(user: User) -> int:
    """How many of the user's recovery codes are still unused."""
    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


def begin_setup(*, user: User) -> str:
    """A new secret for the user's authenticator app; two-factor sign-in is on once a first code
    from it is confirmed. Starting again replaces an unconfirmed secret."""
    with write_transaction():
        if is_enabled(user):
            raise TransitionNotAllowed("Two-factor sign-in is already on.")
        user.totp_secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
        user.totp_last_step = None
    return user.totp_secret


def confirm_setup(*, user: User, code: str, address: str | None, now: datetime | None = None) -> list[str]:
    """Turn two-factor sign-in on with a first code from the app; returns the recovery codes, in
    plain this once (only their hashes are kept)."""
    if not setup_pending(user):
        raise TransitionNotAllowed("Start setting up two-factor sign-in first." if not is_enabled(user)
                                   else "Two-factor sign-in is already on.")
    codes = _new_recovery_codes()

    def turn_on() -> None:
        user.totp_enabled_at = now or utcnow()
        _store_recovery_codes(user, codes, now)
        user.session_version += 1  # sessions signed in with the password alone end (the caller's renews)

    _spend_code(user=user, code=code, address=address, now=now, recovery=False, then=turn_on)
    return codes


def verify_sign_in(*, user: User, code: str, address: str | None, now: datetime | None = None) -> None:
    """The second step of signing in: a code from the app, or a recovery code (each works once).
    CodeRefused when wrong; TooManyAttempts for a client that guessed too often."""
    if not is_enabled(user):
        raise TransitionNotAllowed("Two-factor sign-in is not on for this account.")
    _spend_code(user=user, code=code, address=address, now=now, recovery=True)


def regenerate_recovery_codes(*, user: User, code: str, address: str | None,
                              now: datetime | None = None) -> list[str]:
    """Ten new recovery codes in place of the old ones (used or not), for a current code from the
    app; returned in plain this once."""
    if not is_enabled(user):
        raise TransitionNotAllowed("Two-factor sign-in is not on.")
    codes = _new_recovery_codes()
    _spend_code(user=user, code=code, address=address, now=now, recovery=False,
                then=lambda: _store_recovery_codes(user, codes, now))
    return codes


def disable(*, user: User, code: str, address: str | None, now: datetime | None = None) -> None:
    """Turn two-factor sign-in off with a current code or a recovery code; refused for a role
    that must have it."""
    if not is_enabled(user):
        raise TransitionNotAllowed("Two-factor sign-in is not on.")
    if is_required(user):
        raise TransitionNotAllowed(f"Two-factor sign-in is required for the {user.role.value} role; "
                                   "it cannot be turned off.")
    _spend_code(user=user, code=code, address=address, now=now, recovery=True, then=lambda: forget(user))


def forget(user: User) -> None:
    """Clear the user's two-factor set-up (secret, recovery codes), inside the caller's transaction:
    an admin's reset for a lost phone. A role that requires it sets it up again at next sign-in."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def _spend_code(*, user: User, code: str, address: str | None, now: datetime | None, recovery: bool,
                then: Callable[[], None] = lambda: None) -> None:
    """Check a code and use it up (a time step once, a recovery code once), making `then`'s change
    in the same transaction. A wrong code counts against this username from this address, on a
    count of its own: a right password must not wash failed codes clean."""
    now = now or utcnow()
    counted_as = f"{user.username}#second-factor"  # '#' is in no username
    cleaned = _cleaned(code, recovery=recovery)  # a malformed code is refused before it is counted
    throttle.begin_attempt(username=counted_as, address=address, now=now)
    with write_transaction():  # the lock is held from the first read: two requests cannot both spend it
        spent = _spend_totp(user, cleaned, now) or (recovery and _spend_recovery_code(user, cleaned, now))
        if spent:
            then()
    if not spent:  # already counted by begin_attempt
        raise CodeRefused(WRONG_CODE)
    throttle.record_success(username=counted_as, address=address)


def _cleaned(code, *, recovery: bool) -> str:
    """The code without spaces or dashes, in lower case; CodeRefused when it cannot be a code (not
    counted as a guess: nothing was compared)."""
    message = NOT_A_CODE_OR_RECOVERY if recovery else NOT_A_CODE
    if not isinstance(code, str) or len(code) > CODE_MAX:
        raise CodeRefused(message)
    cleaned = SEPARATORS.sub("", code).lower()
    if not (TOTP_CODE.fullmatch(cleaned) or (recovery and RECOVERY_CODE.fullmatch(cleaned))):
        raise CodeRefused(message)
    return cleaned


def _spend_totp(user: User, code: str, now: datetime) -> bool:
    """A code of the current time step (or one either side), newer than the last one accepted."""
    if not TOTP_CODE.fullmatch(code) or user.totp_secret is None:
        return False
    try:
        step = pyotp.TOTP(user.totp_secret).verify_and_get_timecode(code, for_time=now, valid_window=VALID_WINDOW)
    except pyotp.exceptions.OTPVerificationError:
        return False
    if user.totp_last_step is not None and step <= user.totp_last_step:
        return False  # a replay, or a code older than one already used
    user.totp_last_step = step
    return True


def _spend_recovery_code(user: User, code: str, now: datetime) -> bool:
    """An unused recovery code of the user's, marked used."""
    row = db.session.scalar(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _digest(code), RecoveryCode.used_at.is_(None)))
    if row is None:
        return False
    row.used_at = now
    return True


def _new_recovery_codes() -> list[str]:
    """Ten random codes of 10 base32 characters (50 bits each), written `xxxxx-xxxxx`."""
    codes = ("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT))
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _store_recovery_codes(user: User, codes: list[str], now: datetime | None) -> None:
    """Replace the user's recovery codes with the hashes of `codes`."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(SEPARATORS.sub("", code)),
                                    created_at=now or utcnow()) for code in codes)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
