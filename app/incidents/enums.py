"""The incident domain's vocabulary: the values an incident and its timeline store.

Data only, like the models that import it; the rules about these values live in
`app.incidents.lifecycle`. (Priority and urgency join here with the SLA work.)
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
