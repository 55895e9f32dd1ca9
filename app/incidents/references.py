"""How an incident is named and where things live: the one place that spells `INC-<id>` and
builds absolute addresses under APP_BASE_URL (mail links, reset links, the API's `Location`).
The reference takes an id, so a row that only carries `incident_id` (an outbox message) names its
incident the same way an Incident does."""
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
