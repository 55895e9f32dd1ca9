"""How an incident is named and where it lives: the one place that spells `INC-<id>` and builds
its absolute address. Both take an id, so a row that only carries `incident_id` (an outbox
message) names its incident the same way an Incident does."""
from flask import current_app


def reference(incident_id: int) -> str:
    """The human reference, `INC-<id>`."""
    return f"INC-{incident_id}"


def incident_url(incident_id: int) -> str:
    """The incident's page in the web UI, absolute, from APP_BASE_URL: the same in a request,
    a CLI command or the sender thread."""
    # The route map bound to no request: APP_BASE_URL already says where the portal is mounted,
    # so the current request's script root must not be added to it (and there may be no request).
    path = current_app.url_map.bind("").build("web.incident", {"incident_id": incident_id})
    return current_app.config["APP_BASE_URL"] + path
