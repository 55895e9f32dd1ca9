"""Priority: SPEC's severity x urgency table, cell by cell, and the service keeping it stored."""
import pytest

from app.exceptions import InvalidInput
from app.extensions import db
from app.incidents import service
from app.incidents.enums import EventKind, Priority, Severity, Urgency
from app.incidents.priority import MATRIX, priority_of
from app.models import IncidentEvent
from tests import factories

# SPEC.md "Priority and SLA", copied row by row: severity, then urgency high / medium / low.
SPEC_TABLE = """
critical P1 P1 P2
high     P1 P2 P3
medium   P2 P3 P4
low      P3 P4 P4
"""
CELLS = [
    (Severity(row.split()[0]), urgency, Priority(cell))
    for row in SPEC_TABLE.strip().splitlines()
    for urgency, cell in zip((Urgency.HIGH, Urgency.MEDIUM, Urgency.LOW), row.split()[1:], strict=True)
]


@pytest.mark.parametrize(("severity", "urgency", "expected"), CELLS,
                         ids=[f"{s.value}-{u.value}" for s, u, _ in CELLS])
def test_every_cell_of_the_matrix_matches_the_spec(severity, urgency, expected):
    """Twelve cells, each as SPEC writes it."""
    assert priority_of(severity, urgency) == expected


def test_the_matrix_covers_every_severity_and_urgency_once():
    """No pair missing, none extra."""
    assert len(CELLS) == 12
    assert set(MATRIX) == {(s, u) for s in Severity for u in Urgency}


@pytest.mark.parametrize(("severity", "urgency", "expected"), CELLS,
                         ids=[f"{s.value}-{u.value}" for s, u, _ in CELLS])
def test_a_new_incident_stores_its_priority(people, severity, urgency, expected):
    """Created with a severity and an urgency (any case), it is stored with the matrix's priority."""
    incident = factories.make_incident(people["reporter"], severity=severity.value.upper(),
                                       urgency=urgency.value.title())
    db.session.expire_all()
    assert (incident.severity, incident.urgency, incident.priority) == (severity, urgency, expected)


def test_urgency_defaults_to_medium(people):
    """Left out, urgency is medium: a medium incident is P3."""
    incident = factories.make_incident(people["reporter"])
    assert (incident.urgency, incident.priority) == (Urgency.MEDIUM, Priority.P3)


def test_an_edit_of_severity_or_urgency_recomputes_the_priority(people):
    """Each change moves the priority, and the timeline records it with the field that changed."""
    incident = factories.make_incident(people["reporter"], severity="low", urgency="low")
    assert incident.priority == Priority.P4
    service.edit_incident(actor=people["admin"], incident=incident, details={"urgency": "high"})
    assert incident.priority == Priority.P3
    service.edit_incident(actor=people["admin"], incident=incident, details={"severity": "critical"})
    db.session.expire_all()
    assert incident.priority == Priority.P1
    edits = [event.changes for event in db.session.query(IncidentEvent).filter_by(
        incident_id=incident.id, kind=EventKind.EDITED).order_by(IncidentEvent.id)]
    assert edits == [{"urgency": ["low", "high"], "priority": ["P4", "P3"]},
                     {"severity": ["low", "critical"], "priority": ["P3", "P1"]}]


def test_an_edit_that_keeps_the_priority_records_no_priority_change(people):
    """critical/medium and critical/high are both P1."""
    incident = factories.make_incident(people["reporter"], severity="critical")
    service.edit_incident(actor=people["admin"], incident=incident, details={"urgency": "high"})
    event = db.session.query(IncidentEvent).filter_by(incident_id=incident.id, kind=EventKind.EDITED).one()
    assert event.changes == {"urgency": ["medium", "high"]}


@pytest.mark.parametrize("details", [{"priority": "P1"}, {"urgency": "soon"}])
def test_priority_is_not_a_detail_and_urgency_must_be_known(people, details):
    """Nobody writes the priority; an unknown urgency is a field error. Nothing changes."""
    incident = factories.make_incident(people["reporter"])
    with pytest.raises(InvalidInput) as error:
        service.edit_incident(actor=people["admin"], incident=incident, details=details)
    assert set(error.value.errors) == set(details)
    db.session.expire_all()
    assert (incident.priority, incident.version) == (Priority.P3, 1)
