"""app/incidents/listed.py: a list's rows read without the ORM hold, column for column, what the
ORM's incident holds (types included: enums and aware times), with the same people and reference;
and they cannot be written to."""
import pytest

from app.extensions import db
from app.incidents import listed
from app.models import Incident
from tests.test_api_incident_json import every_kind  # noqa: F401  (a fixture)


def _listed(incident_id: int) -> listed.ListedIncident:
    (row,) = listed.read(listed.rows().where(Incident.id == incident_id))
    return row


def test_every_column_and_person_is_the_orms(every_kind):  # noqa: F811
    db.session.expire_all()
    for incident in every_kind:
        row = _listed(incident.id)
        for name in listed.COLUMNS:
            mine, theirs = getattr(row, name), getattr(incident, name)
            assert (mine, type(mine)) == (theirs, type(theirs)), (incident.reference, name)
        assert row.reference == incident.reference
        assert (row.reporter.id, row.reporter.username, row.reporter.name) == (
            incident.reporter.id, incident.reporter.username, incident.reporter.name)
        if incident.technician is None:
            assert row.technician is None
        else:
            assert tuple(row.technician) == (incident.technician.id, incident.technician.username,
                                             incident.technician.name)
    assert any(i.technician is None for i in every_kind) and any(i.technician for i in every_kind)
    assert set(listed.COLUMNS) == set(Incident.__table__.c.keys())


def test_a_listed_incident_is_read_only(every_kind):  # noqa: F811
    row = _listed(every_kind[0].id)
    with pytest.raises(AttributeError):
        row.title = "changed"
    with pytest.raises(AttributeError):
        row.anything = 1
    assert repr(row) == f"<ListedIncident {row.reference} {row.status.value}>"
