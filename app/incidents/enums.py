"""The incident domain's vocabulary: the values an incident and its timeline store.

Data only, like the models that import it; the rules about these values live in
`app.incidents.lifecycle`; which priority a severity and an urgency give is
`app.incidents.priority`.
"""
from enum import StrEnum


class Labelled(StrEnum):
    """An enum whose members read as words in the UI: `in_progress` -> "In progress"."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Status(Labelled):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @classmethod
    def parse(cls, text: str) -> "Status":
        """Accept 'In Progress', 'in-progress', 'IN_PROGRESS'...; raise ValueError otherwise."""
        key = "_".join(str(text).strip().lower().replace("-", " ").replace("_", " ").split())
        return cls(key)


class Severity(Labelled):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Order used for sorting: low < medium < high < critical."""
        return list(Severity).index(self) + 1


class Urgency(Labelled):
    """How soon the reporter's work needs it back; with the severity it gives the priority."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Priority(StrEnum):
    """P1 (most urgent) to P4, derived from severity and urgency; never sent by a client."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @classmethod
    def parse(cls, text: str) -> "Priority":
        """Accept 'p1' as well as 'P1'; raise ValueError otherwise."""
        return cls(str(text).strip().upper())

    @property
    def label(self) -> str:
        return self.value


class Category(Labelled):
    NETWORK = "network"
    SERVER = "server"
    APPLICATION = "application"
    DATABASE = "database"
    SECURITY = "security"
    OTHER = "other"


class EventKind(StrEnum):
    """What a timeline entry records."""

    CREATED = "created"
    ASSIGNED = "assigned"
    STATUS_CHANGED = "status_changed"
    EDITED = "edited"
    COMMENTED = "commented"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"
    ON_HOLD = "on_hold"
    RESUMED = "resumed"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    ATTACHMENT_ADDED = "attachment_added"
    ATTACHMENT_REMOVED = "attachment_removed"


class SlaCalendar(StrEnum):
    """Which time an SLA clock counts: every second, or the business hours of the config."""

    ALWAYS = "24x7"
    BUSINESS = "business"


class Clock(StrEnum):
    """The two SLA clocks of an incident."""

    RESPONSE = "response"
    RESOLVE = "resolve"


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


class SlaStanding(Labelled):
    """The list's `sla` filter: breached (a clock ran out), at risk (past 80 %), ok (neither)."""

    BREACHED = "breached"
    AT_RISK = "at_risk"
    OK = "ok"
