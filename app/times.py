"""How the portal writes a moment as text, in one place. Every stored time is UTC; a naive one is
taken as UTC too.

- `utc_text`: for machines (the API, CSV, webhooks' incident bodies, `<time datetime>`): ISO 8601
  in UTC to the second, with a `Z`.
- `exact_utc_text`: the same to the microsecond, for webhook payloads.
- `human_text`: for people (pages, mails): UTC to the minute, or to the second, saying so."""
from datetime import UTC, datetime


def _in_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    """2026-12-03T18:35:05Z. (isoformat and a slice: a third of strftime's time, and a list
    page writes about 200 of these.)"""
    return _in_utc(moment).isoformat(timespec="seconds")[:19] + "Z"


def exact_utc_text(moment: datetime) -> str:
    """2026-12-03T18:35:05.123456Z, to the microsecond as stored (whole seconds without a
    fraction): the webhook payloads' times, which receivers order events by."""
    return _in_utc(moment).isoformat().replace("+00:00", "Z")


def human_text(moment: datetime, *, seconds: bool = False) -> str:
    """2026-12-03 18:35 UTC, or 2026-12-03 18:35:05 UTC with `seconds`."""
    return _in_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")
