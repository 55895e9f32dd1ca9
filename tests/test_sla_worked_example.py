"""docs/sla.md's worked example, step by step, through the service: the figures the page states."""
from datetime import UTC, datetime

from app.incidents import service, sla
from app.incidents.enums import Priority
from tests import factories


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)  # 6 March 2026 is a Friday


def test_the_worked_example_of_docs_sla(people):
    reporter, admin, tech = people["reporter"], people["admin"], people["tech"]
    incident = factories.make_incident(reporter, severity="medium", urgency="medium", at=utc(6, 16))
    assert incident.priority == Priority.P3
    assert (incident.response_due_at, incident.response_warn_at) == (utc(9, 12), utc(9, 11, 12))
    assert (incident.resolve_due_at, incident.resolve_warn_at) == (utc(11, 16), utc(11, 11, 12))

    weekend = sla.view(incident, utc(7, 12))
    assert (weekend["response"]["remaining_seconds"], weekend["resolve"]["remaining_seconds"]) == (10800, 82800)

    service.assign_incident(actor=admin, incident=incident, technician_id=tech.id, at=utc(9, 10, 30))
    assert incident.responded_at == utc(9, 10, 30)
    assert sla.view(incident, utc(9, 10, 30))["response"]["state"] == "met"

    service.start_incident(actor=tech, incident=incident, at=utc(9, 11))
    service.hold_incident(actor=tech, incident=incident, reason="Waiting for the vendor.", at=utc(9, 15))
    held = sla.view(incident, utc(9, 16))
    assert incident.resolve_spent_seconds == 25200 and incident.resolve_due_at is None
    assert held["paused"] is True and held["resolve"]["remaining_seconds"] == 61200

    service.add_comment(actor=reporter, incident=incident, body="The vendor replied.", at=utc(10, 10))
    assert incident.resolve_due_at == utc(12, 11)

    service.resolve_incident(actor=tech, incident=incident, resolution_notes="Patched.", at=utc(11, 14))
    assert incident.resolve_spent_seconds == 19 * 3600
    assert sla.view(incident, utc(11, 14))["resolve"]["state"] == "met"

    service.reopen_incident(actor=reporter, incident=incident, reason="Back again.", at=utc(12, 9))
    assert incident.resolve_due_at == utc(12, 14)
