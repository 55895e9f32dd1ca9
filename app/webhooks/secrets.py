"""Endpoint signing secrets: made here, kept encrypted at rest.

A secret must be read back to sign each delivery, so it cannot be hashed like a password; it is
encrypted with Fernet (AES-128-CBC + HMAC) under a key derived from SECRET_KEY. A database dump
alone does not reveal the secrets. Changing SECRET_KEY makes every stored secret unreadable: the
deliveries then fail with `UNREADABLE` until an admin rotates the endpoint's secret."""
import base64
import secrets as random

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "whsec_"
SECRET_BYTES = 24  # Standard Webhooks asks for 24 to 64 random bytes
# Binds the derived key to this one use: the same SECRET_KEY signs sessions with another derivation.
_KEY_LABEL = b"incident-portal webhook secrets v1"
UNREADABLE = "the secret cannot be read: SECRET_KEY changed? rotate it"


class SecretUnreadable(Exception):
    """The stored secret does not decrypt under the current SECRET_KEY."""


def new_secret() -> str:
    """A fresh secret in the Standard Webhooks form: `whsec_` + base64 of 24 random bytes."""
    return PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode("ascii")


def key_bytes(secret: str) -> bytes:
    """The HMAC key a secret stands for (the base64 part after `whsec_`, decoded)."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def encrypt(secret: str) -> str:
    """The secret as stored in `webhook_endpoints` (a Fernet token, ASCII)."""
    return _fernet().encrypt(secret.encode("ascii")).decode("ascii")


def decrypt(stored: str) -> str:
    """The secret back from its stored form; SecretUnreadable when SECRET_KEY has changed since."""
    try:
        return _fernet().decrypt(stored.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(UNREADABLE) from exc


def _fernet() -> Fernet:
    material = current_app.config["SECRET_KEY"].encode("utf-8")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_LABEL).derive(material)
    return Fernet(base64.urlsafe_b64encode(key))
