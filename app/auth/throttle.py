"""Failed passwords, throttled per (username, client address) in the database, so every worker
shares one count and no one can lock anyone else out: only the client that failed waits, and the
owner at another address is never refused. Known and unknown usernames are counted alike."""
import hashlib
import json
import math
import secrets
import statistics
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth.usernames import username_key
from app.database import write_transaction
from app.exceptions import TooManyAttempts
from app.extensions import db
from app.models import LoginThrottle, utcnow

# The first hold once the threshold is reached; each further failure doubles it, up to the ceiling.
FIRST_HOLD_SECONDS = 30
# A row nobody has failed against for this long is deleted (a username's count lives this long).
FORGET_AFTER = timedelta(days=1)
# A hash of a random password per configured method: what an unknown username is checked against.
_STAND_IN: dict[str, str] = {}
# How long one check takes in this process, per hash method: the latest real checks' durations
# (their median is what a held-back answer waits; a median shrugs off one check slowed by a spike).
_CHECK_SECONDS: dict[str, deque[float]] = {}
RECENT_CHECKS = 9


@dataclass(frozen=True)
class _Guard:
    """One counted row: its key, how many failures it takes to hold the client back, and how long a
    quiet spell starts the count afresh."""

    key: str
    threshold: int
    forget_after: timedelta


def _key(address: str | None, username: str | None) -> str:
    # JSON keeps the pair unambiguous whatever characters the username holds.
    return hashlib.sha256(json.dumps([address or "", username]).encode()).hexdigest()


@dataclass(frozen=True)
class Standing:
    """What an admin sees of an account's failed sign-ins: how many in the last day (from any
    address) and until when some client is held back from it (None when none is now)."""

    failures: int
    held_until: datetime | None


# The per-username tally: counted on every failure and read by admins, never consulted by `check`
# (it spans every address, so refusing by it would let anyone lock the owner out).
_ANY_ADDRESS = "*"


def _tally_key(username: str) -> str:
    return _key(_ANY_ADDRESS, username_key(username))


def _guards(username: str, address: str | None) -> tuple[_Guard, _Guard]:
    """This username from this address; and this address whatever the username, a coarser guard
    so that one address spraying names cannot keep the CPU hashing (it forgets after a quiet
    LOGIN_THROTTLE_MAX_SECONDS, so an office behind one address is never held for long)."""
    config = current_app.config
    return (
        _Guard(_key(address, username_key(username)), config["LOGIN_THROTTLE_FAILURES"], FORGET_AFTER),
        _Guard(_key(address, None), config["LOGIN_THROTTLE_ADDRESS_FAILURES"],
               timedelta(seconds=config["LOGIN_THROTTLE_MAX_SECONDS"])),
    )


def begin_attempt(*, username: str, address: str | None, now: datetime | None = None) -> None:
    """Count this attempt as a failure BEFORE its password (or code) is checked, in one write
    transaction with the check of the holds: a burst of parallel guesses is counted one by one, so
    no more than the threshold ever reach a check. From a guard's threshold on, the client is held
    for a while that doubles with each further attempt, up to LOGIN_THROTTLE_MAX_SECONDS; a right
    answer takes its attempt back (`record_success`). A held client is refused (TooManyAttempts):
    no hash runs, yet the refusal takes as long as one, so it tells nothing by its time."""
    now = now or utcnow()
    with write_transaction():
        guards = _guards(username, address)
        until = db.session.scalar(select(func.max(LoginThrottle.blocked_until))
                                  .where(LoginThrottle.key.in_([guard.key for guard in guards])))
        held = until is not None and until > now
        if not held:
            _count(username, guards, now)
    if held:
        wait_like_a_check()  # outside the transaction: a held client's wait holds no lock
        seconds = math.ceil((until - now).total_seconds())
        raise TooManyAttempts(f"Too many attempts; try again in {_in_words(seconds)}.", retry_after=seconds)


def _count(username: str, guards: tuple[_Guard, _Guard], now: datetime) -> None:
    """One more attempt on each guard (and the account's tally); rows long quiet go."""
    ceiling = current_app.config["LOGIN_THROTTLE_MAX_SECONDS"]
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.updated_at < now - FORGET_AFTER))
    for guard in guards:
        row = db.session.get(LoginThrottle, guard.key)
        if row is None:
            row = LoginThrottle(key=guard.key, failures=0)
            db.session.add(row)
        elif now - row.updated_at > guard.forget_after:
            row.failures = 0
        row.failures += 1
        row.updated_at = now
        if row.failures >= guard.threshold:
            doublings = min(row.failures - guard.threshold, 16)  # 2**16 x 30 s is past any ceiling
            row.blocked_until = now + timedelta(seconds=min(ceiling, FIRST_HOLD_SECONDS * 2**doublings))
    _tally(username, now, held_until=db.session.get(LoginThrottle, guards[0].key).blocked_until)


def _tally(username: str, now: datetime, *, held_until: datetime | None) -> None:
    """One more failure on the account's own tally, and the latest hold any client has on it."""
    row = db.session.get(LoginThrottle, _tally_key(username))
    if row is None:
        row = LoginThrottle(key=_tally_key(username), failures=0)
        db.session.add(row)
    row.failures += 1
    row.updated_at = now
    if held_until is not None and (row.blocked_until is None or held_until > row.blocked_until):
        row.blocked_until = held_until


def standings(usernames: list[str], *, now: datetime | None = None) -> dict[str, Standing]:
    """The sign-in standing of each account that failed in the last day (one query for a page)."""
    now = now or utcnow()
    by_key = {_tally_key(name): name for name in usernames}
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(list(by_key)),
                                                          LoginThrottle.updated_at >= now - FORGET_AFTER))
    standing = {by_key[row.key]: Standing(row.failures, row.blocked_until if row.blocked_until and
                                          row.blocked_until > now else None) for row in rows}
    # An account whose only attempts were right answers has a tally of 0: nothing to show.
    return {name: s for name, s in standing.items() if s.failures or s.held_until}


def record_success(*, username: str, address: str | None) -> None:
    """A right answer: forget this username's count from this address, and take this attempt back
    from the address's count and the account's tally (their earlier failures stay: signing in to
    one's own account must not wash a spray of other names clean)."""
    pair, by_address = _guards(username, address)
    with write_transaction():
        db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == pair.key))
        for key in (by_address.key, _tally_key(username)):
            row = db.session.get(LoginThrottle, key)
            if row is not None and row.failures > 0:
                row.failures -= 1


def check_password(stored_hash: str | None, password: str) -> bool:
    """Whether the password matches its stored hash. With no hash (an unknown username) it is
    checked against a stand-in of the configured method, so that failure costs the same time.
    Every check's duration is kept: a held-back answer waits as long as checks take now."""
    stored_hash = stored_hash or _stand_in()
    started = time.perf_counter()
    matches = check_password_hash(stored_hash, password)
    seconds = time.perf_counter() - started
    _CHECK_SECONDS.setdefault(_method_of(stored_hash), deque(maxlen=RECENT_CHECKS)).append(seconds)
    return matches


def wait_like_a_check() -> None:
    """Sleep (which costs no CPU) as long as checking a password of the configured method takes."""
    stand_in = _stand_in()
    if _method_of(stand_in) not in _CHECK_SECONDS:
        check_password(stand_in, secrets.token_hex(8))  # once per process: the first measure
    time.sleep(statistics.median(_CHECK_SECONDS[_method_of(stand_in)]))


def _stand_in() -> str:
    """A hash of a random password in the configured method, made once per process."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _STAND_IN:
        _STAND_IN[method] = generate_password_hash(secrets.token_hex(8), method=method)
    return _STAND_IN[method]


def _method_of(stored_hash: str) -> str:
    return stored_hash.split("$", 1)[0]  # werkzeug's "method$salt$hash", e.g. scrypt:32768:8:1


def _in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds" if seconds != 1 else "1 second"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes" if minutes != 1 else "1 minute"
