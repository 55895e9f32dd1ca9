"""on_hold: who may put an incident on hold and take it back, the reason it needs, the reporter's
comment that resumes it, resolving from it, and an on-hold incident counted as active work."""
import pytest
from sqlalchemy import select

from app.auth.roles import Role
from app.auth.service import update_user
from app.exceptions import InvalidInput, PermissionDenied, TransitionNotAllowed
from app.extensions import db
from app.incidents import handover, service, tallies
from app.incidents.enums import EventKind, Status
from app.incidents.lifecycle import ACTIVE_STATUSES, Action, allowed_actions
from app.models import IncidentEvent
from tests.web_helpers import incident_in


def _events(incident):
    return list(db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                                   .order_by(IncidentEvent.id)))


def test_the_assigned_technician_puts_it_on_hold_with_a_reason_and_resumes_it(people):
    """in_progress -> on_hold (event on_hold, reason as its body) -> in_progress (event resumed)."""
    incident = incident_in(Status.IN_PROGRESS, people)
    service.hold_incident(actor=people["tech"], incident=incident, reason="  Waiting on the vendor's patch. ")
    assert incident.status == Status.ON_HOLD
    held = _events(incident)[-1]
    assert (held.kind, held.from_status, held.to_status, held.body) == (
        EventKind.ON_HOLD, Status.IN_PROGRESS, Status.ON_HOLD, "Waiting on the vendor's patch.")
    service.resume_incident(actor=people["tech"], incident=incident)
    resumed = _events(incident)[-1]
    assert incident.status == Status.IN_PROGRESS
    assert (resumed.kind, resumed.from_status, resumed.to_status) == (
        EventKind.RESUMED, Status.ON_HOLD, Status.IN_PROGRESS)


def test_a_status_change_to_in_progress_from_on_hold_is_resuming(people):
    """The API's `status: in_progress` names the resume move when the incident is on hold."""
    incident = incident_in(Status.ON_HOLD, people)
    service.update_incident(actor=people["admin"], incident=incident, status=Status.IN_PROGRESS)
    assert incident.status == Status.IN_PROGRESS
    assert _events(incident)[-1].kind == EventKind.RESUMED


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_putting_on_hold_needs_a_reason(people, reason):
    """No reason: 422 on `reason`, nothing changes."""
    incident = incident_in(Status.IN_PROGRESS, people)
    with pytest.raises(InvalidInput) as error:
        service.hold_incident(actor=people["tech"], incident=incident, reason=reason)
    assert "reason" in error.value.errors
    db.session.expire_all()
    assert incident.status == Status.IN_PROGRESS


@pytest.mark.parametrize("who", ["tech_other", "reporter"])
def test_others_may_not_hold_or_resume(people, who):
    """Another technician or the reporter: 403 both ways."""
    incident = incident_in(Status.IN_PROGRESS, people)
    with pytest.raises(PermissionDenied):
        service.hold_incident(actor=people[who], incident=incident, reason="Mine now.")
    service.hold_incident(actor=people["tech"], incident=incident, reason="Waiting.")
    with pytest.raises(PermissionDenied):
        service.resume_incident(actor=people[who], incident=incident)


@pytest.mark.parametrize("status", [Status.OPEN, Status.ASSIGNED, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED])
def test_hold_only_from_in_progress(people, status):
    """Anywhere else: 409."""
    incident = incident_in(status, people)
    with pytest.raises(TransitionNotAllowed):
        service.hold_incident(actor=people["admin"], incident=incident, reason="Waiting.")


def test_the_reporters_comment_resumes_it_in_the_same_transaction(people):
    """The reporter answers: comment and resumed, one version later, in the tallies as in progress."""
    incident = incident_in(Status.ON_HOLD, people)
    version = incident.version
    service.add_comment(actor=people["reporter"], incident=incident, body="Here is the log you asked for.")
    db.session.expire_all()
    assert incident.status == Status.IN_PROGRESS and incident.version == version + 1
    comment, resumed = _events(incident)[-2:]
    assert (comment.kind, resumed.kind, resumed.actor_id) == (EventKind.COMMENTED, EventKind.RESUMED,
                                                              people["reporter"].id)
    assert tallies.count(scope=tallies.ALL, status=[Status.ON_HOLD]) == 0
    assert tallies.count(scope=tallies.ALL, status=[Status.IN_PROGRESS]) == 1


def test_a_staff_comment_leaves_it_on_hold(people):
    """The technician's or an admin's comment is not the answer the incident waits for."""
    incident = incident_in(Status.ON_HOLD, people)
    service.add_comment(actor=people["tech"], incident=incident, body="Chased the vendor again.")
    service.add_comment(actor=people["admin"], incident=incident, body="Noted.")
    db.session.expire_all()
    assert incident.status == Status.ON_HOLD


def test_resolve_from_on_hold(people):
    """A fix that needs nothing more from the reporter is resolved straight from on hold."""
    incident = incident_in(Status.ON_HOLD, people)
    assert Action.RESOLVE in allowed_actions(people["tech"], incident)
    service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="Vendor patch applied.")
    assert incident.status == Status.RESOLVED
    assert _events(incident)[-1].from_status == Status.ON_HOLD


def test_on_hold_is_active_work_counted_and_handed_over(people):
    """It counts as active, in the tallies, and a leaving technician hands it over."""
    assert Status.ON_HOLD in ACTIVE_STATUSES
    incident = incident_in(Status.ON_HOLD, people)
    assert tallies.count(scope=tallies.tech_scope(people["tech"].id), status=[Status.ON_HOLD]) == 1
    assert handover.held_incidents(people["tech"]) == [incident]
    update_user(user=people["tech"], actor=people["admin"], role=Role.REPORTER, reassign_to=people["tech_other"].id)
    db.session.expire_all()
    assert incident.technician_id == people["tech_other"].id
