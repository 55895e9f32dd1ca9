"""Where an outbox message stands on its way to the SMTP server; what became of an inbound mail;
where a webhook delivery stands."""
from enum import StrEnum


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class InboundOutcome(StrEnum):
    """What became of one inbound mail (app/mail/inbound): the `inbound_messages` row's outcome."""

    CREATED = "created"                # a new incident
    COMMENTED = "commented"            # a comment on the incident it answers
    DUPLICATE = "duplicate"            # its Message-ID was handled before: nothing done again
    LOOP = "loop"                      # Auto-Submitted, Precedence bulk/list/junk, or our own address
    UNKNOWN_SENDER = "unknown_sender"  # no active user has the From address
    REFUSED = "refused"                # the sender may not comment on the incident it names
    MALFORMED = "malformed"            # no usable From, unparseable, or over the size limit


class WebhookStatus(StrEnum):
    """Where one webhook delivery stands (app/webhooks): like the mail outbox's rows."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


# The outbox `event` of the answer to an unknown sender's mail (app/mail/inbound/service.py): a reply
# to a mail, so it goes out as RFC 3834 "auto-replied" rather than "auto-generated".
INBOUND_REFUSED_EVENT = "inbound_refused"
