"""Who hears about what (docs/notifications.md), event x role, as a real SMTP server receives it.

Every case builds the same cast around a fresh incident: its reporter, the technician it is (or will
be) assigned to, a technician and an admin who chose to watch it, the actor (an admin who watches it
too, so leaving them out is the rule at work, not an accident), a technician and an admin who do not
watch it. The case's event runs through the service (or the SLA check), the outbox is delivered to
aiosmtpd, and the envelopes say who got mail: exactly the expected roles, one message each."""
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from app.auth.roles import Role
from app.auth.service import update_user
from app.incidents import notifications, service, sla_warnings, watchers
from app.incidents.enums import Status
from app.mail.delivery import drain
from tests import factories

pytestmark = pytest.mark.smtp

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday; the P2 clocks below count around the clock
REPORTER, ASSIGNEE, PREVIOUS, TECH_WATCHING, ADMIN_WATCHING, ACTOR, TECH_BYSTANDER, ADMIN_BYSTANDER = (
    "reporter", "assignee", "previous technician", "technician watching", "admin watching", "actor",
    "technician not watching", "admin not watching")
WATCHERS = {REPORTER, ASSIGNEE, TECH_WATCHING, ADMIN_WATCHING}  # everyone watching but the actor


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def cast(app):
    """One person per role (their addresses are their usernames @example.test)."""
    make = factories.make_user
    return {
        REPORTER: make(Role.REPORTER, username="rita"),
        ASSIGNEE: make(Role.TECHNICIAN, username="tom"),
        PREVIOUS: make(Role.TECHNICIAN, username="paula"),
        TECH_WATCHING: make(Role.TECHNICIAN, username="wendy"),
        ADMIN_WATCHING: make(Role.ADMIN, username="ada"),
        ACTOR: make(Role.ADMIN, username="axel"),
        TECH_BYSTANDER: make(Role.TECHNICIAN, username="ned"),
        ADMIN_BYSTANDER: make(Role.ADMIN, username="bob"),
    }


def incident_at(cast, status: Status, *, technician: str = ASSIGNEE):
    """A P2 incident reported at T0 and walked to `status` by the actor, watched by the watchers."""
    incident = factories.make_incident(cast[REPORTER], severity="high", at=T0)
    for role in (TECH_WATCHING, ADMIN_WATCHING, ACTOR):
        watchers.watch(actor=cast[role], incident=incident)
    if status == Status.OPEN:
        return incident
    actor = cast[ACTOR]
    service.assign_incident(actor=actor, incident=incident, technician_id=cast[technician].id, at=at(1))
    steps = {
        Status.IN_PROGRESS: lambda: service.start_incident(actor=actor, incident=incident, at=at(2)),
        Status.ON_HOLD: lambda: service.hold_incident(actor=actor, incident=incident, reason="Vendor.", at=at(3)),
        Status.RESOLVED: lambda: service.resolve_incident(actor=actor, incident=incident,
                                                          resolution_notes="Swapped the **fan**.", at=at(4)),
        Status.CLOSED: lambda: service.close_incident(actor=actor, incident=incident, at=at(5)),
    }
    path = {Status.ASSIGNED: [], Status.IN_PROGRESS: [Status.IN_PROGRESS],
            Status.ON_HOLD: [Status.IN_PROGRESS, Status.ON_HOLD],
            Status.RESOLVED: [Status.IN_PROGRESS, Status.RESOLVED],
            Status.CLOSED: [Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED]}[status]
    for step in path:
        steps[step]()
    return incident


def deliver(smtp):
    """Send everything waiting; what the server received (drain returns once each was accepted)."""
    result = drain()
    assert result.unreachable is None
    return list(smtp.inbox.messages)


def start_listening(smtp):
    """Deliver the setup's mail and forget it: only the event under test counts."""
    deliver(smtp)
    smtp.inbox.messages.clear()


def who_got(cast, received) -> Counter:
    """Messages per role, from the envelopes."""
    role_of = {user.email: role for role, user in cast.items()}
    return Counter(role_of[address] for message in received for address in message.rcpt_tos)


# (case, the incident's status before, the event, who must get mail)
CASES = [
    ("assigned", Status.OPEN,
     lambda c, i: service.assign_incident(actor=c[ACTOR], incident=i, technician_id=c[ASSIGNEE].id, at=at(1)),
     WATCHERS),
    ("reassigned", "reassign",
     lambda c, i: service.assign_incident(actor=c[ACTOR], incident=i, technician_id=c[ASSIGNEE].id, at=at(2)),
     WATCHERS | {PREVIOUS}),
    ("start", Status.ASSIGNED,
     lambda c, i: service.start_incident(actor=c[ACTOR], incident=i, at=at(2)), WATCHERS),
    ("start by the assignee", Status.ASSIGNED,
     lambda c, i: service.start_incident(actor=c[ASSIGNEE], incident=i, at=at(2)),
     WATCHERS - {ASSIGNEE} | {ACTOR}),
    ("on hold", Status.IN_PROGRESS,
     lambda c, i: service.hold_incident(actor=c[ACTOR], incident=i, reason="Waiting on the vendor.", at=at(3)),
     WATCHERS),
    ("resumed", Status.ON_HOLD,
     lambda c, i: service.resume_incident(actor=c[ACTOR], incident=i, at=at(4)), WATCHERS),
    ("resolved", Status.IN_PROGRESS,
     lambda c, i: service.resolve_incident(actor=c[ACTOR], incident=i, resolution_notes="Fixed.", at=at(4)),
     WATCHERS),
    ("closed", Status.RESOLVED,
     lambda c, i: service.close_incident(actor=c[ACTOR], incident=i, at=at(5)), WATCHERS),
    ("reopened", Status.CLOSED,
     lambda c, i: service.reopen_incident(actor=c[ACTOR], incident=i, reason="Back again.", at=at(6)), WATCHERS),
    ("public comment", Status.IN_PROGRESS,
     lambda c, i: service.add_comment(actor=c[ACTOR], incident=i, body="Any news?", at=at(3)), WATCHERS),
    ("comment by the reporter", Status.IN_PROGRESS,
     lambda c, i: service.add_comment(actor=c[REPORTER], incident=i, body="Still broken.", at=at(3)),
     WATCHERS - {REPORTER} | {ACTOR}),
    ("internal note", Status.IN_PROGRESS,
     lambda c, i: service.add_comment(actor=c[ACTOR], incident=i, body="Staff only.", internal=True, at=at(3)),
     set()),
    # The SLA check acts for nobody, so the actor (an admin watching) is mailed like anyone else.
    ("SLA warning, assigned", Status.IN_PROGRESS,
     lambda c, i: sla_warnings.check(at(385)), WATCHERS | {ACTOR}),
    ("SLA warning, unassigned", Status.OPEN,
     lambda c, i: sla_warnings.check(at(49)), WATCHERS - {ASSIGNEE} | {ACTOR, ADMIN_BYSTANDER}),
    ("SLA breach", Status.IN_PROGRESS,
     lambda c, i: sla_warnings.check(at(481)), WATCHERS | {ACTOR, ADMIN_BYSTANDER}),
]


@pytest.mark.parametrize(("before", "event", "expected"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_who_gets_mail(app, smtp, cast, before, event, expected):
    """Exactly the expected roles get mail, one message each; bystanders and the actor none."""
    if before == "reassign":
        incident = incident_at(cast, Status.ASSIGNED, technician=PREVIOUS)
    else:
        incident = incident_at(cast, before)
    start_listening(smtp)

    event(cast, incident)
    received = deliver(smtp)

    assert who_got(cast, received) == Counter({role: 1 for role in expected})
    # (Flask-Mail folds a long subject onto its next line; the parser keeps that line's leading space.)
    assert all(message.mail["Subject"].strip().startswith(f"[INC-{incident.id}] ") for message in received)


def test_the_mail_speaks_to_each_role(app, smtp, cast):
    """One event, three wordings: 'assigned to you', 'your incident', and the reference for the others."""
    incident = incident_at(cast, Status.OPEN)
    start_listening(smtp)

    service.assign_incident(actor=cast[ACTOR], incident=incident, technician_id=cast[ASSIGNEE].id)
    deliver(smtp)

    mail = {role: smtp.inbox.to(cast[role].email)[0] for role in (ASSIGNEE, REPORTER, TECH_WATCHING)}
    assert f"INC-{incident.id} is now assigned to you" in mail[ASSIGNEE].text
    assert "Tom will handle your incident" in mail[REPORTER].text
    assert f"INC-{incident.id} is now assigned to Tom." in mail[TECH_WATCHING].text
    assert {m.mail["Subject"] for m in mail.values()} == {f"[INC-{incident.id}] Assigned: {incident.title}"}


def test_the_resolution_mail_carries_the_notes(app, smtp, cast):
    """Each watcher's resolution mail has the notes: Markdown rendered in HTML, as written in text."""
    incident = incident_at(cast, Status.IN_PROGRESS)
    start_listening(smtp)

    service.resolve_incident(actor=cast[ASSIGNEE], incident=incident, resolution_notes="Swapped the **fan**.")
    received = deliver(smtp)

    assert len(received) == 4  # reporter, technician and admin watching, the admin who walked it
    for message in received:
        assert "Resolution notes:\nSwapped the **fan**." in message.text
        assert "Swapped the <strong>fan</strong>." in message.html
    reporter_mail, = smtp.inbox.to(cast[REPORTER].email)
    assert "Your incident has been resolved" in reporter_mail.text


def test_a_comment_mail_renders_markdown_safely_in_html_and_keeps_the_text(app, smtp, cast):
    """The comment in both parts: sanitized HTML (no script, no javascript: link), raw text."""
    incident = incident_at(cast, Status.IN_PROGRESS)
    start_listening(smtp)
    body = "See [the log](javascript:alert(1)) and <script>alert('x')</script> **now**: https://example.test/x"

    service.add_comment(actor=cast[ACTOR], incident=incident, body=body)
    received = deliver(smtp)

    assert received
    for message in received:
        assert message.mail["Subject"] == f"[INC-{incident.id}] Comment: {incident.title}"
        assert f"Comment:\n{body}" in message.text
        assert "<strong>now</strong>" in message.html
        assert "<script" not in message.html and 'href="javascript:' not in message.html
        assert 'href="https://example.test/x"' in message.html


# ---- the switches -----------------------------------------------------------------------------

EVENTS_BY_CATEGORY = {
    "sla": lambda c, i: sla_warnings.check(at(385)),
    "comments": lambda c, i: service.add_comment(actor=c[ACTOR], incident=i, body="A comment.", at=at(386)),
    "status": lambda c, i: service.hold_incident(actor=c[ACTOR], incident=i, reason="Vendor.", at=at(387)),
}
SUBJECT_OF = {"comments": "Comment", "status": "On hold", "sla": "SLA warning"}


@pytest.mark.parametrize("off", list(EVENTS_BY_CATEGORY))
@pytest.mark.parametrize("role", [REPORTER, ASSIGNEE, TECH_WATCHING])
def test_a_category_switched_off_stops_that_mail_only(app, smtp, cast, role, off):
    """With one category off, that person gets none of it and still gets the other two; the
    others are unaffected."""
    incident = incident_at(cast, Status.IN_PROGRESS)
    notifications.set_switches(user=cast[role], switches={off: False})
    start_listening(smtp)

    for event in EVENTS_BY_CATEGORY.values():  # the SLA warning first: the hold pauses its clock
        event(cast, incident)
    deliver(smtp)

    def labels(person):
        return sorted(m.mail["Subject"].split("] ")[1].split(":")[0] for m in smtp.inbox.to(person.email))

    assert labels(cast[role]) == sorted(SUBJECT_OF[c] for c in SUBJECT_OF if c != off)
    assert labels(cast[ADMIN_WATCHING]) == sorted(SUBJECT_OF.values())


def test_switches_off_for_the_sla_people_too(app, smtp, cast):
    """The SLA notices' own people (the technician, the admins) are also spared when `sla` is off."""
    incident_at(cast, Status.IN_PROGRESS)
    for role in (ASSIGNEE, ADMIN_BYSTANDER):
        notifications.set_switches(user=cast[role], switches={"sla": False})
    start_listening(smtp)

    sla_warnings.check(at(481))
    received = deliver(smtp)

    assert who_got(cast, received) == Counter({role: 1 for role in WATCHERS - {ASSIGNEE} | {ACTOR}})


def test_creation_mail_is_not_switchable(app, smtp, cast):
    """created: every active admin and the reporter's confirmation, whatever their switches."""
    for person in cast.values():
        notifications.set_switches(user=person, switches={"comments": False, "status": False, "sla": False})

    factories.make_incident(cast[REPORTER])
    received = deliver(smtp)

    assert who_got(cast, received) == Counter({REPORTER: 1, ADMIN_WATCHING: 1, ACTOR: 1, ADMIN_BYSTANDER: 1})


# ---- who is never mailed ------------------------------------------------------------------------

def test_an_inactive_watcher_is_never_mailed(app, smtp, cast):
    """A deactivated watcher keeps their row (listed) but gets nothing."""
    incident = incident_at(cast, Status.IN_PROGRESS)
    update_user(user=cast[TECH_WATCHING], active=False)
    start_listening(smtp)

    service.add_comment(actor=cast[ACTOR], incident=incident, body="Hello")
    received = deliver(smtp)

    assert cast[TECH_WATCHING] in watchers.watchers_of(incident)
    assert who_got(cast, received) == Counter({REPORTER: 1, ASSIGNEE: 1, ADMIN_WATCHING: 1})


def test_a_watcher_who_may_no_longer_see_the_incident_is_not_mailed(app, smtp, cast):
    """A technician made a reporter keeps the watch row, but hears nothing of someone else's incident."""
    incident = incident_at(cast, Status.IN_PROGRESS)
    update_user(user=cast[TECH_WATCHING], role=Role.REPORTER)
    start_listening(smtp)

    service.add_comment(actor=cast[ACTOR], incident=incident, body="Hello")
    received = deliver(smtp)

    assert who_got(cast, received) == Counter({REPORTER: 1, ASSIGNEE: 1, ADMIN_WATCHING: 1})


def test_someone_who_stops_watching_hears_no_more(app, smtp, cast):
    """The reporter unwatching their own incident gets no more of its comments."""
    incident = incident_at(cast, Status.IN_PROGRESS)
    watchers.unwatch(actor=cast[REPORTER], incident=incident, user_id=cast[REPORTER].id)
    start_listening(smtp)

    service.add_comment(actor=cast[ACTOR], incident=incident, body="Hello")
    received = deliver(smtp)

    assert who_got(cast, received) == Counter({ASSIGNEE: 1, TECH_WATCHING: 1, ADMIN_WATCHING: 1})


def test_two_watchers_sharing_an_address_get_one_message(app, smtp, cast):
    """One message per address per event, however many watchers it belongs to."""
    incident = incident_at(cast, Status.IN_PROGRESS)
    update_user(user=cast[TECH_WATCHING], email=cast[ADMIN_WATCHING].email.upper())
    start_listening(smtp)

    service.add_comment(actor=cast[ACTOR], incident=incident, body="Hello")
    received = deliver(smtp)

    addresses = [address.lower() for message in received for address in message.rcpt_tos]
    assert sorted(addresses) == sorted([cast[REPORTER].email, cast[ASSIGNEE].email, cast[ADMIN_WATCHING].email])
