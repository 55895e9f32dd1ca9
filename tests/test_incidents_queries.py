"""The read side: visibility, filters, search, sort, paging, and tallies that stay exact."""
import random

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.incidents import service, tallies
from app.incidents.enums import Severity, Status
from app.incidents.queries import IncidentFilters, count_by, count_incidents, list_incidents
from app.models import Incident, IncidentTally
from tests import factories


def _real_count(**where) -> int:
    query = select(func.count()).select_from(Incident)
    for column, value in where.items():
        query = query.where(getattr(Incident, column) == value)
    return db.session.scalar(query)


def _tally_rows() -> dict:
    return {(t.scope, t.status, t.severity, t.category): t.n
            for t in db.session.scalars(select(IncidentTally)) if t.n}


def test_tallies_stay_exact_through_random_histories(people):
    """After a random mix of every use case, the running tallies equal a recount."""
    rng = random.Random(7)
    admin, techs = people["admin"], [people["tech"], people["tech_other"]]
    reporters = [people["reporter"], people["reporter_other"]]
    incidents = [factories.make_incident(rng.choice(reporters), severity=rng.choice(list(Severity)).value)
                 for _ in range(12)]
    for incident in incidents:
        target = rng.choice(list(Status))
        factories.bring_to(target, incident=incident, admin=admin, technician=rng.choice(techs))
        if rng.random() < 0.5 and target != Status.CLOSED:
            service.edit_incident(actor=admin, incident=incident, details={"severity": "critical",
                                                                           "category": "network"})
        if target in (Status.ASSIGNED, Status.IN_PROGRESS) and rng.random() < 0.5:
            other = techs[0] if incident.technician_id == techs[1].id else techs[1]
            service.assign_incident(actor=admin, incident=incident, technician_id=other.id)
        if target in (Status.RESOLVED, Status.CLOSED) and rng.random() < 0.5:
            service.reopen_incident(actor=admin, incident=incident, reason="Again.")
    kept = _tally_rows()
    tallies.rebuild()
    db.session.commit()
    assert kept == _tally_rows()
    assert sum(kept[k] for k in kept if k[0] == "all") == 12


@pytest.mark.parametrize("filters", [
    IncidentFilters(),
    IncidentFilters(status=[Status.OPEN, Status.ASSIGNED]),
    IncidentFilters(severity=[Severity.HIGH], status=[Status.OPEN]),
    IncidentFilters(unassigned=True),
    IncidentFilters(technician_id=-1),
    IncidentFilters(q="printer"),
    IncidentFilters(q="printer", status=[Status.OPEN]),
], ids=["all", "status", "status+severity", "unassigned", "technician", "q", "q+status"])
def test_list_totals_match_the_rows(people, filters):
    """`total` equals the number of rows the list would show, whichever way it is computed."""
    if filters.technician_id == -1:
        filters.technician_id = people["tech"].id
    for n in range(6):
        incident = factories.make_incident(people["reporter"], title=f"Printer {n}" if n % 2 else f"Disk {n}",
                                           severity="high" if n < 3 else "low")
        if n >= 4:
            factories.bring_to(Status.ASSIGNED, incident=incident, admin=people["admin"], technician=people["tech"])
    for actor in (people["admin"], people["tech"], people["reporter"], people["reporter_other"]):
        page = list_incidents(actor=actor, filters=filters, per_page=100)
        assert page.total == len(page.items)
        assert count_incidents(actor=actor, filters=filters) == page.total


def test_reporters_only_ever_see_their_own(people):
    """Filters cannot widen a reporter's view."""
    mine = factories.make_incident(people["reporter"])
    factories.make_incident(people["reporter_other"])
    for filters in (IncidentFilters(), IncidentFilters(reporter_id=people["reporter_other"].id)):
        page = list_incidents(actor=people["reporter"], filters=filters)
        assert [i.id for i in page.items] in ([mine.id], [])
    assert count_by(Incident.status, actor=people["reporter"]) == {Status.OPEN: 1}


def test_search_finds_words_by_prefix_in_title_and_description(people):
    """'vpn' finds 'VPN' and 'VPNs'; every word must match; punctuation is ignored."""
    a = factories.make_incident(people["reporter"], title="VPN drops", description="Remote staff affected")
    b = factories.make_incident(people["reporter"], title="Slow disk", description="The VPNs gateway disk is full")
    factories.make_incident(people["reporter"], title="Printer", description="Offline")

    def ids(q):
        return {i.id for i in list_incidents(actor=people["admin"], filters=IncidentFilters(q=q)).items}

    assert ids("vpn") == {a.id, b.id}
    assert ids("VPN disk") == {b.id}
    assert ids("remote") == {a.id}
    assert ids("%' OR 1=1 --") == set()
    assert ids("nothing-like-this") == set()


def test_search_follows_edits(people):
    """The index is updated with the incident."""
    incident = factories.make_incident(people["reporter"], title="Alpha")
    service.edit_incident(actor=people["reporter"], incident=incident, details={"title": "Bravo"})
    assert list_incidents(actor=people["admin"], filters=IncidentFilters(q="alpha")).total == 0
    found = list_incidents(actor=people["admin"], filters=IncidentFilters(q="bravo")).items
    assert [(i.id, i.title, i.version) for i in found] == [(incident.id, "Bravo", incident.version)]


@pytest.mark.parametrize(("sort", "key", "reverse"), [
    ("-created_at", lambda i: (i.created_at, i.id), True),
    ("created_at", lambda i: (i.created_at, i.id), False),
    ("-severity", lambda i: (i.severity.rank, i.id), True),
    ("severity", lambda i: (i.severity.rank, i.id), False),
])
def test_sorts_order_by_the_named_key(people, sort, key, reverse):
    """Severity sorts by rank (low < critical), not alphabetically."""
    for severity in ("critical", "low", "high", "medium", "low"):
        factories.make_incident(people["reporter"], severity=severity)
    items = list_incidents(actor=people["admin"], filters=IncidentFilters(), sort=sort).items
    assert items == sorted(items, key=key, reverse=reverse)


def test_pages_partition_the_list(people):
    """Consecutive pages neither overlap nor skip; per_page is clamped to 100."""
    for _ in range(7):
        factories.make_incident(people["reporter"])
    seen = []
    for number in (1, 2, 3):
        page = list_incidents(actor=people["admin"], filters=IncidentFilters(), page=number, per_page=3)
        seen += [i.id for i in page.items]
    assert sorted(seen) == sorted(i.id for i in db.session.scalars(select(Incident)))
    assert len(seen) == len(set(seen)) == 7
    assert list_incidents(actor=people["admin"], filters=IncidentFilters(), per_page=1000).per_page == 100
