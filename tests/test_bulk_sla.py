"""The bulk loader's SLA figures (`flask seed --bulk`): every generated incident holds its priority's
policy, and the clocks that `app.incidents.clocks.derive` gives for its timeline as read back from
the database (the comparison `flask sla recompute --check` makes), through holds and resumes, in
business hours of whatever zone, hours and holidays the config names."""
from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.incidents import clocks, sla
from app.incidents.calendar import BusinessHours
from app.incidents.enums import EventKind, Priority, SlaCalendar, Status
from app.models import Incident, IncidentEvent, User, utcnow
from seed import bulk
from seed.loader import seed_users

CHUNK = 500
BULK_REPORTER = User.username.like("bulk-reporter-%")  # the generated incidents, not the demo ones


def _drift() -> list[tuple]:
    """(id, column, stored, derived) for every clock column that differs from the timeline's
    answer, over every incident, reading each chunk's timelines in one query."""
    ids = list(db.session.scalars(select(Incident.id).order_by(Incident.id)))
    drift = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        timelines = sla.moments_of(chunk)
        for incident in db.session.scalars(select(Incident).where(Incident.id.in_(chunk))):
            derived = sla.derive(incident, timelines[incident.id]).stored()
            drift += [(incident.id, name, getattr(incident, name), value)
                      for name, value in derived.items() if getattr(incident, name) != value]
        db.session.expunge_all()
    return drift


def _targets_by_priority() -> dict:
    rows = db.session.execute(select(Incident.priority, Incident.sla_calendar, Incident.response_target_minutes,
                                     Incident.resolve_target_minutes).distinct()).all()
    found: dict = {}
    for level, calendar, response, resolve in rows:
        found.setdefault(level, set()).add(clocks.Targets(calendar, response, resolve))
    return found


def test_every_generated_incident_stores_the_clocks_its_timeline_gives(runner):
    """2,000 incidents: no drift in any clock column, each priority's default targets, incidents on
    hold (paused, with their reason on the timeline) and resumed ones, both outcomes of each clock."""
    before = utcnow()
    assert runner.invoke(args=["seed"]).exit_code == 0
    result = runner.invoke(args=["seed", "--bulk", "2000"])
    assert result.exit_code == 0, result.output

    assert _drift() == []
    assert _targets_by_priority() == {level: {sla.DEFAULT_POLICIES[level]} for level in Priority}

    generated = select(Incident).where(Incident.reporter.has(BULK_REPORTER))
    statuses = dict(db.session.execute(
        select(Incident.status, func.count()).where(Incident.id.in_(generated.with_only_columns(Incident.id)))
        .group_by(Incident.status)).all())
    assert set(statuses) == set(Status) and statuses[Status.ON_HOLD] >= 50

    held = db.session.scalars(generated.where(Incident.status == Status.ON_HOLD)).all()
    for incident in held:
        assert incident.resolve_due_at is None and incident.resolve_warn_at is None
        assert incident.responded_at == incident.assigned_at
        last = db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                                  .order_by(IncidentEvent.id.desc()).limit(1)).one()
        assert last.kind == EventKind.ON_HOLD and last.body in bulk.HOLD_REASONS
        assert last.actor_id == incident.technician_id and last.created_at == incident.updated_at
    assert any(incident.resolve_spent_seconds > 0 for incident in held)  # zero if held outside business hours

    # Resumed ones: the hold's counted time is left out of the resolve clock, so it is due later
    # than a clock that never stopped.
    resumed_ids = db.session.scalars(select(IncidentEvent.incident_id).where(IncidentEvent.kind == EventKind.RESUMED)
                                     .distinct()).all()
    resumed = db.session.scalars(generated.where(Incident.id.in_(resumed_ids))).all()
    assert {i.status for i in resumed} == {Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED}
    for incident in resumed:
        straight = sla.calendar_of(incident.sla_calendar).add(incident.created_at,
                                                              incident.resolve_target_minutes * 60)
        assert incident.resolve_due_at >= straight
    assert any(i.resolve_due_at > sla.calendar_of(i.sla_calendar).add(i.created_at, i.resolve_target_minutes * 60)
               for i in resumed)

    views = [sla.view(i) for i in db.session.scalars(generated)]
    for clock in ("response", "resolve"):
        assert {"met", "breached"} <= {view[clock]["state"] for view in views}, clock
    assert any(view["paused"] for view in views)
    assert db.session.scalar(select(func.max(IncidentEvent.created_at))
                             .where(IncidentEvent.incident_id.in_(generated.with_only_columns(Incident.id)))) < before


def test_each_timeline_follows_its_path_in_id_order(runner):
    """The clocks read a timeline in id order: each generated incident's events, by id, are one
    of the generator's paths, in time order, ending in the incident's status."""
    runner.invoke(args=["seed", "--bulk", "1500"])
    events: dict[int, list] = {}
    for incident_id, kind, at in db.session.execute(
            select(IncidentEvent.incident_id, IncidentEvent.kind, IncidentEvent.created_at)
            .order_by(IncidentEvent.incident_id, IncidentEvent.id)):
        events.setdefault(incident_id, []).append((kind, at))
    paths = [[step.kind for step in path] for path in bulk.PATHS]
    for incident in db.session.scalars(select(Incident).where(Incident.reporter.has(BULK_REPORTER))):
        kinds = [kind for kind, _ in events[incident.id]]
        times = [at for _, at in events[incident.id]]
        assert any(kinds == path[:len(kinds)] for path in paths), (incident.id, kinds)
        assert times == sorted(times) and incident.version == len(kinds)
        path = bulk.HELD if EventKind.ON_HOLD in kinds else bulk.PLAIN
        assert path[len(kinds) - 1].to_status == incident.status


def test_the_stored_policies_and_the_configured_calendar_are_used(make_app):
    """An admin's policy change and the config's business hours (zone, hours, holidays) reach the
    generated incidents: stored targets are the policy's, and the clocks agree with the timeline
    under that calendar and not under the default one."""
    now = utcnow()
    holidays = ",".join((now.date() - timedelta(days=day)).isoformat() for day in range(100, 160))
    settings = {"SLA_TIMEZONE": "America/New_York", "SLA_BUSINESS_HOURS": "Mon-Thu 07:00-11:00, Sat 10:00-14:00",
                "SLA_HOLIDAYS": holidays}
    app = make_app(**settings)
    with app.app_context():
        seed_users()
        admin = db.session.scalar(select(User).where(User.username == "admin1"))
        sla.update_policy(actor=admin, priority=Priority.P3, response_minutes=30, resolve_minutes=600,
                          calendar="24x7")
        sla.update_policy(actor=admin, priority=Priority.P1, response_minutes=20, resolve_minutes=300,
                          calendar="business")
        bulk.load(1500)

        assert _drift() == []
        expected = {level: {sla.DEFAULT_POLICIES[level]} for level in Priority}
        expected[Priority.P3] = {clocks.Targets(SlaCalendar.ALWAYS, 30, 600)}
        expected[Priority.P1] = {clocks.Targets(SlaCalendar.BUSINESS, 20, 300)}
        assert _targets_by_priority() == expected

        default = BusinessHours.parse(timezone="UTC", hours="Mon-Fri 09:00-17:00", holidays="")
        business = db.session.scalars(select(Incident).where(Incident.sla_calendar == SlaCalendar.BUSINESS)).all()
        differs = [i for i in business
                   if default.add(i.created_at, i.response_target_minutes * 60) != i.response_due_at]
        assert len(differs) > len(business) // 2
        db.session.remove()
