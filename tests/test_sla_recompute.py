"""`flask sla recompute [--check]` (SPEC "Priority and SLA"): after any history driven through the
service the stored SLA figures are what the timeline gives; a hand-corrupted column is reported
by --check (exit 1, nothing changed) and fixed by recompute, without bumping the version."""
from datetime import UTC, datetime, timedelta
from itertools import count

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.exceptions import DomainError
from app.extensions import db
from app.incidents import clocks, service, sla_recompute, sla_warnings
from app.incidents.enums import Clock, EventKind, Severity, Status, Urgency
from app.models import Incident, IncidentEvent
from tests import factories

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
_histories = count()

COMMON = ["reporter_comment", "staff_comment", "edit", "check"]
# The moves worth trying from each status, drawn while the history runs (three times as likely as
# a common step, so holds, resumes and reopens really happen); a refused one must change nothing.
MOVES = {
    Status.OPEN: ["assign"],
    Status.ASSIGNED: ["start", "reassign"],
    Status.IN_PROGRESS: ["hold", "resolve", "reassign"],
    Status.ON_HOLD: ["resume", "resolve"],
    Status.RESOLVED: ["close", "reopen"],
    Status.CLOSED: ["reopen"],
}
STEPS = {status: moves * 3 + COMMON for status, moves in MOVES.items()}


def apply(people, incident, name, when, severity, urgency):
    """One step of a history at `when`; a move the lifecycle refuses changes nothing."""
    admin, reporter = people["admin"], people["reporter"]
    holder = incident.technician or people["tech"]
    calls = {
        "assign": lambda: service.assign_incident(actor=admin, incident=incident, technician_id=people["tech"].id,
                                                  at=when),
        "reassign": lambda: service.assign_incident(actor=admin, incident=incident,
                                                    technician_id=people["tech_other"].id, at=when),
        "start": lambda: service.start_incident(actor=holder, incident=incident, at=when),
        "hold": lambda: service.hold_incident(actor=holder, incident=incident, reason="Vendor.", at=when),
        "resume": lambda: service.resume_incident(actor=holder, incident=incident, at=when),
        "reporter_comment": lambda: service.add_comment(actor=reporter, incident=incident, body="News?", at=when),
        "staff_comment": lambda: service.add_comment(actor=holder, incident=incident, body="On it.", at=when),
        "resolve": lambda: service.resolve_incident(actor=holder, incident=incident, resolution_notes="Fixed.",
                                                    at=when),
        "reopen": lambda: service.reopen_incident(actor=reporter, incident=incident, reason="Again.", at=when),
        "close": lambda: service.close_incident(actor=reporter, incident=incident, at=when),
        "edit": lambda: service.update_incident(actor=admin, incident=incident, at=when,
                                                details={"severity": severity.value, "urgency": urgency.value}),
        "check": lambda: sla_warnings.check(when),
    }
    try:
        calls[name]()
    except DomainError:
        db.session.rollback()
        return
    event(f"{name} applied")  # --hypothesis-show-statistics: how often each step really happened


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(severity=st.sampled_from(list(Severity)), urgency=st.sampled_from(list(Urgency)),
       length=st.integers(min_value=0, max_value=20), data=st.data())
def test_recompute_check_is_clean_after_any_history(people, severity, urgency, length, data):
    """Random moves, comments, priority edits and SLA checks at increasing backdated times (each
    history a month after the last, so a check never writes before an earlier history's last event)."""
    when = T0 + timedelta(days=30 * next(_histories))
    incident = factories.make_incident(people["reporter"], severity=severity.value, urgency=urgency.value, at=when)
    for _ in range(length):
        name = data.draw(st.sampled_from(STEPS[incident.status]), label="step")
        when += timedelta(minutes=data.draw(st.integers(min_value=0, max_value=1500), label="minutes"))
        apply(people, incident, name, when, data.draw(st.sampled_from(list(Severity))),
              data.draw(st.sampled_from(list(Urgency))))
    sla_warnings.check(when)

    result = sla_recompute.recompute(check_only=True)
    assert (result.drifted, result.examples) == (0, [])
    db.session.refresh(incident)
    # every notice due by the last check is on the timeline, once; the next one lies ahead
    assert incident.sla_next_check_at is None or incident.sla_next_check_at > when
    kinds = [(e.changes["clock"], e.kind) for e in db.session.scalars(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                    IncidentEvent.kind.in_((EventKind.SLA_WARNING, EventKind.SLA_BREACHED)))
        .order_by(IncidentEvent.id))]
    event(f"{len(kinds)} SLA notice(s) on the timeline")
    assert len(kinds) == len(set(kinds))
    for clock in Clock:
        assert [kind for name, kind in kinds if name == clock] in (
            [], [EventKind.SLA_WARNING], [EventKind.SLA_BREACHED], [EventKind.SLA_WARNING, EventKind.SLA_BREACHED])
    assert incident.sla_notices == sum(clocks.bit(Clock(name), kind) for name, kind in kinds) | sum(
        clocks.bit(Clock(name), EventKind.SLA_WARNING) for name, kind in kinds if kind == EventKind.SLA_BREACHED)


def incidents(people, n):
    """`n` incidents with a little history each: assigned, some started, some warned."""
    made = []
    for i in range(n):
        incident = factories.make_incident(people["reporter"], severity="high", at=T0 + timedelta(minutes=i))
        if i % 2:
            service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech"].id,
                                    at=T0 + timedelta(minutes=30 + i))
        made.append(incident)
    sla_warnings.check(T0 + timedelta(minutes=100))
    return made


def corrupt(incident_id, **values):
    db.session.execute(update(Incident).where(Incident.id == incident_id).values(**values))
    db.session.commit()


def stored(incident_id):
    db.session.rollback()
    return db.session.execute(select(*(getattr(Incident, n) for n in (*clocks.STORED, "version")))
                              .where(Incident.id == incident_id)).one()


def test_check_reports_a_corrupted_column_changes_nothing_and_recompute_fixes_it(runner, people):
    _, second, _, fourth = incidents(people, 4)  # the second and the fourth were assigned
    good = stored(second.id)
    corrupt(second.id, resolve_due_at=T0, sla_notices=12)
    corrupt(fourth.id, responded_at=None)
    bad = stored(second.id)

    checked = runner.invoke(args=["sla", "recompute", "--check"])

    assert checked.exit_code == 1
    assert checked.output.splitlines()[:4] == [
        "Checked 4 incident(s): 2 drifted.",
        f"  INC-{second.id} resolve_due_at: stored {T0.isoformat()}, timeline gives {good.resolve_due_at.isoformat()}",
        f"  INC-{second.id} sla_notices: stored 12, timeline gives {good.sla_notices}",
        f"  INC-{fourth.id} responded_at: stored null, timeline gives {(T0 + timedelta(minutes=33)).isoformat()}",
    ]
    assert "`flask sla recompute` rebuilds them" in checked.output
    assert stored(second.id) == bad  # --check changed nothing

    fixed = runner.invoke(args=["sla", "recompute"])
    assert (fixed.exit_code, fixed.output) == (0, "Checked 4 incident(s): 2 drifted, 2 fixed.\n")
    assert stored(second.id) == good  # the version too: a fix is no edit
    clean = runner.invoke(args=["sla", "recompute", "--check"])
    assert (clean.exit_code, clean.output) == (0, "Checked 4 incident(s): 0 drifted.\n")


def test_check_lists_the_first_few_and_counts_the_rest(runner, people):
    made = incidents(people, 8)
    for incident in made[:7]:
        corrupt(incident.id, resolve_spent_seconds=12345)

    result = runner.invoke(args=["sla", "recompute", "--check", "--batch", "3"])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "Checked 8 incident(s): 7 drifted."
    assert [line.split()[0] for line in lines[1:6]] == [f"INC-{i.id}" for i in made[:5]]
    assert lines[6] == "  ... and 2 more incident(s)."


def test_recompute_fixes_across_batch_boundaries_and_leaves_clean_ones_alone(people):
    made = incidents(people, 7)
    versions = {i.id: stored(i.id).version for i in made}
    for incident in (made[0], made[3], made[6]):
        corrupt(incident.id, sla_next_check_at=T0, response_warn_at=T0)

    result = sla_recompute.recompute(check_only=False, batch=2)

    assert (result.checked, result.drifted, result.fixed) == (7, 3, 3)
    assert [d.incident_id for d in result.examples] == [made[0].id, made[3].id, made[6].id]
    assert set(result.examples[0].fields) == {"sla_next_check_at", "response_warn_at"}
    assert {i.id: stored(i.id).version for i in made} == versions
    assert sla_recompute.recompute(check_only=True).drifted == 0


def test_recompute_on_no_incidents(runner):
    result = runner.invoke(args=["sla", "recompute", "--check"])
    assert (result.exit_code, result.output) == (0, "Checked 0 incident(s): 0 drifted.\n")


def test_a_bad_batch_size_is_a_usage_error(runner):
    result = runner.invoke(args=["sla", "recompute", "--batch", "0"])
    assert result.exit_code == 2 and "Invalid value for '--batch'" in result.output
