"""Files attached to incidents. STUB of the core commit: the attachments helper fills it in
(storage under instance/attachments/, limits, type detection, listing, download, removal, sweep).

The service calls `stage()` before its transaction (bytes written, fsynced and renamed into the
content-addressed store) and `record()` inside it (the rows and `attachment_added` events)."""
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from app.models import Incident, IncidentEvent, User


class Upload(Protocol):
    """A file as a request hands it over (werkzeug's FileStorage fits): the client's name and its bytes."""

    filename: str | None
    stream: BinaryIO


@dataclass(frozen=True)
class Staged:
    """A file already in the store, waiting for its row."""

    filename: str
    size: int
    content_type: str
    sha256: str


def stage(*, incident: Incident, uploads: Sequence[Upload]) -> list[Staged]:
    """Check the limits and store each file; nothing in the database yet."""
    if [upload for upload in uploads if upload.filename]:
        raise NotImplementedError("attachments are not built yet")
    return []


def record(*, actor: User, incident: Incident, staged: Sequence[Staged], internal: bool, now: datetime,
           event: IncidentEvent | None = None) -> list:
    """Inside the caller's transaction: one row and one `attachment_added` event per staged file."""
    return []
