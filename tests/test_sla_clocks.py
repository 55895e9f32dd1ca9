"""The response and resolve clocks through every lifecycle path, driven through the service with
backdated times and checked against figures worked out by hand (SPEC "Priority and SLA")."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth.service import update_user
from app.extensions import db
from app.incidents import service, sla
from app.incidents.enums import Priority, SlaStanding
from app.models import Incident
from tests import factories

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday 10:00 UTC; default business hours Mon-Fri 09:00-17:00 UTC


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def p2(people):
    """A P2 incident (60 / 480 minutes, 24x7) reported at T0."""
    incident = factories.make_incident(people["reporter"], severity="high", at=T0)
    assert incident.priority == Priority.P2
    return incident


def walk(people, incident, *steps):
    """Apply (minute, step) pairs in order; a step names a service call."""
    admin, tech, reporter = people["admin"], people["tech"], people["reporter"]
    calls = {
        "assign": lambda when: service.assign_incident(actor=admin, incident=incident, technician_id=tech.id, at=when),
        "reassign": lambda when: service.assign_incident(actor=admin, incident=incident,
                                                         technician_id=people["tech_other"].id, at=when),
        "start": lambda when: service.start_incident(actor=incident.technician, incident=incident, at=when),
        "hold": lambda when: service.hold_incident(actor=incident.technician, incident=incident, reason="Vendor.",
                                                   at=when),
        "resume": lambda when: service.resume_incident(actor=incident.technician, incident=incident, at=when),
        "resolve": lambda when: service.resolve_incident(actor=incident.technician or admin, incident=incident,
                                                         resolution_notes="Fixed.", at=when),
        "close": lambda when: service.close_incident(actor=admin, incident=incident, at=when),
        "reopen": lambda when: service.reopen_incident(actor=reporter, incident=incident, reason="Again.", at=when),
        "reporter_comment": lambda when: service.add_comment(actor=reporter, incident=incident, body="Any news?",
                                                             at=when),
        "admin_comment": lambda when: service.add_comment(actor=admin, incident=incident, body="Looking.", at=when),
    }
    for minute, step in steps:
        calls[step](at(minute))
    return incident


def clock(incident, name, now_minutes):
    return sla.view(incident, at(now_minutes))[name]


def test_a_new_incident_s_clocks_run_from_its_creation(p2):
    assert (p2.response_due_at, p2.resolve_due_at) == (at(60), at(480))
    assert (p2.response_warn_at, p2.resolve_warn_at) == (at(48), at(384))
    assert p2.responded_at is None and p2.sla_next_check_at == at(48)
    view = sla.view(p2, at(10))
    assert view == {"response": {"due_at": at(60), "state": "running", "remaining_seconds": 50 * 60},
                    "resolve": {"due_at": at(480), "state": "running", "remaining_seconds": 470 * 60},
                    "paused": False}


def test_the_first_assignment_answers_and_a_reassignment_does_not(people, p2):
    walk(people, p2, (20, "assign"), (200, "reassign"))
    assert p2.responded_at == at(20)
    assert clock(p2, "response", 300) == {"due_at": at(60), "state": "met", "remaining_seconds": None}


def test_a_staff_comment_answers_a_reporter_comment_does_not(people, p2):
    walk(people, p2, (5, "reporter_comment"))
    assert p2.responded_at is None
    walk(people, p2, (30, "admin_comment"), (45, "assign"))
    assert p2.responded_at == at(30)


def test_a_late_answer_breaches_the_response_clock(people, p2):
    assert clock(p2, "response", 61)["state"] == "breached"
    assert clock(p2, "response", 61)["remaining_seconds"] == -60
    walk(people, p2, (90, "assign"))
    assert clock(p2, "response", 100) == {"due_at": at(60), "state": "breached", "remaining_seconds": None}


def test_an_answer_exactly_at_the_due_time_is_late(people, p2):
    walk(people, p2, (60, "assign"))
    assert clock(p2, "response", 61)["state"] == "breached"


def test_on_hold_pauses_the_resolve_clock_and_resume_moves_its_due_time(people, p2):
    walk(people, p2, (10, "assign"), (20, "start"), (100, "hold"))
    assert p2.resolve_due_at is None and p2.resolve_warn_at is None
    assert p2.resolve_spent_seconds == 100 * 60
    paused = sla.view(p2, at(1000))
    assert paused["paused"] is True
    assert paused["resolve"] == {"due_at": None, "state": "paused", "remaining_seconds": 380 * 60}
    walk(people, p2, (160, "resume"))
    assert p2.resolve_due_at == at(480 + 60) and p2.resolve_warn_at == at(384 + 60)
    assert sla.view(p2, at(170))["resolve"]["remaining_seconds"] == (540 - 170) * 60


def test_reassigning_an_incident_on_hold_starts_its_clock_again(people, p2):
    walk(people, p2, (10, "assign"), (20, "start"), (100, "hold"), (160, "reassign"))
    assert p2.status.value == "assigned"
    assert p2.resolve_due_at == at(480 + 60)
    assert sla.view(p2, at(170))["resolve"]["state"] == "running"


def test_the_reporter_s_comment_resumes_the_clock_too(people, p2):
    walk(people, p2, (10, "assign"), (20, "start"), (100, "hold"), (130, "reporter_comment"))
    assert p2.status.value == "in_progress"
    assert p2.resolve_due_at == at(480 + 30)


def test_resolving_from_hold_counts_only_the_time_before_the_hold(people, p2):
    walk(people, p2, (10, "assign"), (20, "start"), (100, "hold"), (1000, "resolve"))
    assert p2.resolve_spent_seconds == 100 * 60
    # A stopped clock's due time is where its last running stretch would have run out.
    assert clock(p2, "resolve", 2000) == {"due_at": at(480), "state": "met", "remaining_seconds": None}


def test_a_reopen_continues_the_same_clock(people, p2):
    walk(people, p2, (10, "assign"), (20, "start"), (120, "resolve"), (300, "reopen"))
    # 120 minutes spent before the resolution; the 180 minutes resolved do not count.
    assert p2.resolve_due_at == at(300 + 360)
    walk(people, p2, (310, "start"), (700, "resolve"), (710, "close"))
    assert p2.resolve_spent_seconds == (120 + 400) * 60
    assert clock(p2, "resolve", 800)["state"] == "breached"


def test_a_clock_breached_before_the_hold_stays_breached_while_paused(people, p2):
    walk(people, p2, (10, "assign"), (20, "start"), (500, "hold"))
    view = sla.view(p2, at(600))
    assert view["paused"] is True and view["resolve"]["state"] == "breached"
    assert view["resolve"]["remaining_seconds"] == -20 * 60


def test_handing_back_to_open_keeps_the_answer(people, p2):
    walk(people, p2, (10, "assign"))
    update_user(user=people["tech"], actor=people["admin"], active=False, unassign=True)
    db.session.refresh(p2)
    assert p2.status.value == "open" and p2.responded_at == at(10)


def test_business_hours_count_only_open_hours(people):
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    incident = factories.make_incident(people["reporter"], severity="medium", at=friday)  # P3: 240 / 1440 business
    assert incident.priority == Priority.P3
    assert incident.response_due_at == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # 1 h on Friday, 3 h on Monday
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert sla.view(incident, saturday)["response"]["remaining_seconds"] == 3 * 3600  # the weekend does not count


def test_the_clocks_leave_the_incident_s_version_alone(people, p2):
    version = p2.version
    walk(people, p2, (5, "admin_comment"))
    assert p2.responded_at == at(5) and p2.version == version


@pytest.mark.parametrize("now_minutes", [0, 47, 48, 59, 60, 200, 384, 479, 480, 2000])
def test_the_sla_filter_in_sql_agrees_with_the_clocks_shown(people, now_minutes):
    """Incidents in many shapes; at each instant, the list filter's SQL puts each incident where
    its `sla` object says it is (breached: a clock breached; at risk: a running clock past 80 %)."""
    shapes = [[], [(10, "assign")], [(10, "assign"), (20, "start"), (100, "hold")],
              [(10, "assign"), (20, "start"), (400, "hold")], [(70, "assign"), (80, "start"), (90, "resolve")],
              [(10, "assign"), (20, "start"), (30, "resolve"), (40, "reopen")], [(50, "admin_comment")]]
    incidents = []
    for steps in shapes:
        incident = factories.make_incident(people["reporter"], severity="high", at=T0)
        walk(people, incident, *steps)
        incidents.append(incident)
    now = at(now_minutes)
    for standing in SlaStanding:
        ids = set(db.session.scalars(select(Incident.id).where(sla.standing(standing, now))))
        expected = {incident.id for incident in incidents if _standing(sla.view(incident, now), incident, now)
                    == standing}
        assert ids == expected, standing


def _standing(view, incident, now) -> SlaStanding:
    states = [view["response"]["state"], view["resolve"]["state"]]
    if "breached" in states:
        return SlaStanding.BREACHED
    response_at_risk = view["response"]["state"] == "running" and now >= incident.response_warn_at
    resolve_at_risk = (view["resolve"]["state"] == "running" and now >= incident.resolve_warn_at) or (
        view["paused"] and incident.resolve_spent_seconds >= 0.8 * incident.resolve_target_minutes * 60)
    return SlaStanding.AT_RISK if response_at_risk or resolve_at_risk else SlaStanding.OK
