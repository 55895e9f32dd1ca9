"""How an incident is named and where things live: the one place that spells `INC-<id>` and
builds absolute addresses under APP_BASE_URL (mail links, reset links, the API's `Location`).
The reference takes an id, so a row that only carries `incident_id` (an outbox message) names its
incident the same way an Incident does."""
import re
from email.utils import parseaddr

from flask import current_app


def reference(incident_id: int) -> str:
    """The human reference, `INC-<id>`."""
    return f"INC-{incident_id}"


def absolute_url(endpoint: str, **values) -> str:
    """The absolute address of `endpoint` from APP_BASE_URL: the same in a request, a CLI command
    or the sender thread, and never shaped by a request's Host header."""
    # The route map bound to no request: APP_BASE_URL already says where the portal is mounted,
    # so the current request's script root must not be added to it (and there may be no request).
    return current_app.config["APP_BASE_URL"] + current_app.url_map.bind("").build(endpoint, values)


def incident_url(incident_id: int) -> str:
    """The incident's page in the web UI, absolute."""
    return absolute_url("web.incident", incident_id=incident_id)


# Mail threading (SPEC "Inbound mail"): every outgoing mail about an incident has a Message-ID
# naming it and References / In-Reply-To naming the incident's thread root, so a mail client shows
# one thread per incident and a reply finds its incident without the subject.
_THREAD = re.compile(r"<incident-(\d{1,10})(?:\.[^@<>\s]*)?@([^<>\s]+)>", re.IGNORECASE)
_SUBJECT = re.compile(r"\[INC-(\d{1,10})\]", re.IGNORECASE)


def mail_domain() -> str:
    """The domain of MAIL_DEFAULT_SENDER, which our Message-IDs end with."""
    return parseaddr(str(current_app.config["MAIL_DEFAULT_SENDER"]))[1].rpartition("@")[2].lower() or "localhost"


def thread_root(incident_id: int) -> str:
    """`<incident-<id>@<domain>>`: the thread every mail about the incident belongs to."""
    return f"<incident-{incident_id}@{mail_domain()}>"


def message_id(incident_id: int, unique: str) -> str:
    """`<incident-<id>.<unique>@<domain>>`: one outgoing mail about the incident."""
    return f"<incident-{incident_id}.{unique}@{mail_domain()}>"


def incident_in_thread(*headers: str | None) -> int | None:
    """The incident named by one of our Message-IDs in In-Reply-To / References (the last one
    wins, as the newest), or None. Ids on another domain are not ours and are ignored."""
    found = None
    domain = mail_domain()
    for value in headers:
        for match in _THREAD.finditer(value or ""):
            if match.group(2).lower() == domain:
                found = int(match.group(1))
    return found


def incident_in_subject(subject: str | None) -> int | None:
    """The incident a subject names with `[INC-<id>]` (the first one), or None."""
    match = _SUBJECT.search(subject or "")
    return int(match.group(1)) if match else None
