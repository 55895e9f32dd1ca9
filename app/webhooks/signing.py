"""Standard Webhooks signatures (https://www.standardwebhooks.com/): the three headers of a delivery.

`webhook-signature` is `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`; while a rotated
endpoint's previous secret is still valid, a second signature made with it follows after a space,
so receivers that have not switched yet keep verifying."""
import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from app.webhooks.secrets import key_bytes


def signature(secret: str, *, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of the body with `secret` (a `whsec_...` string)."""
    signed = f"{webhook_id}.{timestamp}.".encode("ascii") + body
    digest = hmac.new(key_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secrets: Iterable[str], *, webhook_id: str, sent_at: datetime, body: bytes) -> dict[str, str]:
    """The headers of one attempt, signed with every secret given (the current one first)."""
    timestamp = int(sent_at.timestamp())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
                                      for secret in secrets),
    }
