"""What each use case records: fields, times, versions and the timeline."""
import pytest
from sqlalchemy import select

from app.exceptions import InvalidInput, TransitionNotAllowed, VersionConflict
from app.extensions import db
from app.incidents import service
from app.incidents.enums import Category, EventKind, Severity, Status
from app.incidents.queries import timeline
from app.models import Incident
from tests import factories


def test_create_records_defaults_and_a_created_event(people):
    """A new incident is open, medium, other, version 1, with one `created` event."""
    incident = factories.make_incident(people["reporter"], title="  Mail   down ")
    assert incident.title == "Mail down"
    assert (incident.status, incident.severity, incident.category) == (Status.OPEN, Severity.MEDIUM, Category.OTHER)
    assert incident.version == 1 and incident.reference == f"INC-{incident.id}"
    assert incident.created_at.tzinfo is not None
    events = timeline(incident=incident, viewer=incident.reporter)
    assert [(e.kind, e.to_status, e.actor_id) for e in events] == [
        (EventKind.CREATED, Status.OPEN, people["reporter"].id)]


@pytest.mark.parametrize(("fields", "bad_field"), [
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"description": "   "}, "description"),
    ({"description": "y" * 10_001}, "description"),
    ({"severity": "urgent"}, "severity"),
    ({"category": "printer"}, "category"),
    ({"title": "nul\x00byte"}, "title"),
])
def test_create_rejects_bad_fields_and_writes_nothing(people, fields, bad_field):
    """Each invalid field is named and no row is written."""
    args = {"title": "ok", "description": "ok", **fields}
    with pytest.raises(InvalidInput) as error:
        service.create_incident(actor=people["reporter"], **args)
    assert bad_field in error.value.errors
    assert db.session.scalar(select(Incident.id)) is None


def test_severity_and_category_accept_any_case(people):
    """'HIGH' and 'Network' are understood."""
    incident = factories.make_incident(people["reporter"], severity="HIGH", category="Network")
    assert (incident.severity, incident.category) == (Severity.HIGH, Category.NETWORK)


def test_assign_sets_technician_time_and_records_who(people):
    """Assigning moves open -> assigned and records old -> new technician."""
    incident = factories.make_incident(people["reporter"])
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech"].id)
    assert incident.status == Status.ASSIGNED and incident.technician_id == people["tech"].id
    assert incident.assigned_at is not None and incident.version == 2
    event = timeline(incident=incident, viewer=incident.reporter)[-1]
    assert event.kind == EventKind.ASSIGNED
    assert event.changes == {"technician": [None, "tech"]}
    assert (event.from_status, event.to_status) == (Status.OPEN, Status.ASSIGNED)


def test_reassigning_in_progress_goes_back_to_assigned(people):
    """The new technician starts it themselves."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech_other"].id)
    assert incident.status == Status.ASSIGNED and incident.technician_id == people["tech_other"].id
    assert timeline(incident=incident, viewer=incident.reporter)[-1].changes == {"technician": ["tech", "techother"]}


@pytest.mark.parametrize("who", ["reporter", "admin", "inactive_tech", "missing"])
def test_assignee_must_be_an_active_technician(people, who):
    """Anyone else is a 422 on technician_id, and nothing changes."""
    inactive = factories.make_user("technician", active=False)
    target = {"reporter": people["reporter"].id, "admin": people["admin"].id,
              "inactive_tech": inactive.id, "missing": 99_999}[who]
    incident = factories.make_incident(people["reporter"])
    with pytest.raises(InvalidInput) as error:
        service.assign_incident(actor=people["admin"], incident=incident, technician_id=target)
    assert "technician_id" in error.value.errors
    db.session.expire_all()
    assert incident.status == Status.OPEN and incident.version == 1


def test_resolve_close_and_reopen_keep_times_consistent(people):
    """Resolve stamps resolved_at; reopen clears it and lands in assigned with the reason."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.CLOSED, incident=incident, admin=people["admin"], technician=people["tech"])
    assert incident.resolved_at is not None and incident.closed_at is not None
    assert incident.resolution_notes == "Fixed it."
    service.reopen_incident(actor=people["reporter"], incident=incident, reason="It is back.")
    assert incident.status == Status.ASSIGNED
    assert incident.resolved_at is None and incident.closed_at is None
    last = timeline(incident=incident, viewer=incident.reporter)[-1]
    assert (last.kind, last.from_status, last.to_status, last.body) == (
        EventKind.REOPENED, Status.CLOSED, Status.ASSIGNED, "It is back.")


def test_every_change_bumps_the_version_by_one_and_comments_do_not(people):
    """Versions are contiguous along the happy path; a comment leaves it alone."""
    incident = factories.make_incident(people["reporter"])
    versions = [incident.version]
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech"].id)
    versions.append(incident.version)
    service.add_comment(actor=people["tech"], incident=incident, body="On it.")
    versions.append(incident.version)
    service.start_incident(actor=people["tech"], incident=incident)
    versions.append(incident.version)
    assert versions == [1, 2, 2, 3]


def test_edit_records_old_and_new_values(people):
    """An edit lists each changed field; unchanged fields are left out."""
    incident = factories.make_incident(people["reporter"], title="Old", severity="low")
    service.edit_incident(actor=people["reporter"], incident=incident,
                          details={"title": "New", "severity": "low", "category": "server"})
    event = timeline(incident=incident, viewer=incident.reporter)[-1]
    assert event.kind == EventKind.EDITED
    assert event.changes == {"title": ["Old", "New"], "category": ["other", "server"]}


def test_a_stale_version_is_refused_and_changes_nothing(people):
    """expected_version guards against lost updates."""
    incident = factories.make_incident(people["reporter"])
    with pytest.raises(VersionConflict):
        service.edit_incident(actor=people["reporter"], incident=incident, details={"title": "X"},
                              expected_version=7)
    db.session.expire_all()
    assert incident.title != "X" and incident.version == 1


def test_update_is_all_or_nothing(people):
    """An edit that succeeds is rolled back when the move in the same request is refused."""
    incident = factories.make_incident(people["reporter"])
    with pytest.raises(TransitionNotAllowed):
        service.update_incident(actor=people["admin"], incident=incident, details={"title": "Edited"},
                                status=Status.CLOSED)
    db.session.expire_all()
    assert incident.title != "Edited" and incident.version == 1
    assert len(timeline(incident=incident, viewer=incident.reporter)) == 1


def test_status_assigned_is_reached_by_assigning_not_by_asking(people):
    """PUT {status: assigned} alone is a 409; with technician_id it is the assignment."""
    incident = factories.make_incident(people["reporter"])
    with pytest.raises(TransitionNotAllowed):
        service.update_incident(actor=people["admin"], incident=incident, status=Status.ASSIGNED)
    service.update_incident(actor=people["admin"], incident=incident, status=Status.ASSIGNED,
                            technician_id=people["tech"].id)
    assert incident.status == Status.ASSIGNED


@pytest.mark.parametrize("text", ["In Progress", "in_progress", "IN-PROGRESS", " in progress "])
def test_status_names_are_read_case_and_separator_insensitively(text):
    """Clients may write statuses the way people do."""
    assert Status.parse(text) == Status.IN_PROGRESS


def test_an_unknown_status_name_is_an_error():
    """Status.parse refuses what is not a status."""
    with pytest.raises(ValueError):
        Status.parse("done")
