"""The incident page: fields, SLA clocks, timeline, and one small form per action allowed now.

Also how an SLA clock reads to a person ("2h 15m left", "overdue 35m", "paused"): the list's time
left column and this page's SLA card show the same `sla_reading`, formatted by `duration`."""
from dataclasses import dataclass
from datetime import datetime

from flask import Response, current_app, jsonify, render_template, request
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app.incidents import live, queries, sla
from app.incidents.clocks import warn_seconds
from app.incidents.enums import ClockState, SlaCalendar
from app.incidents.lifecycle import Action, allowed_actions, sees_internal
from app.models import Incident
from app.web import bp
from app.web.incident_actions import INCIDENT_ACTIONS, IncidentAction
from app.web.sla_policies import CALENDAR_LABELS


def action_form(entry: IncidentAction, incident: Incident, *, submitted: bool = False) -> FlaskForm:
    """The entry's form: bound to the request when `submitted`, else fresh for this version."""
    if submitted:
        form = entry.form_class(prefix=entry.action.value)
    else:
        form = entry.form_class(formdata=None, prefix=entry.action.value, version=incident.version,
                                technician_id=incident.technician_id)
    if entry.choices:
        form[entry.field].choices = entry.choices()
    if entry.action == Action.COMMENT:
        # The `c` key (js/keys.js) finds the comment box by this mark; a copy, never the class's dict.
        form.body.render_kw = {**(form.body.render_kw or {}), "data-comment-box": True}
    return form


def render_detail(incident: Incident, submitted: dict[Action, FlaskForm] | None = None):
    """The page, with `submitted` forms (and their errors) in place of fresh ones."""
    submitted = submitted or {}
    allowed = allowed_actions(current_user, incident)
    shown = [(entry, submitted.get(entry.action) or action_form(entry, incident))
             for entry in INCIDENT_ACTIONS if entry.action in allowed]
    events = queries.timeline(incident=incident, viewer=current_user)
    return render_template("web/incident_detail.html", incident=incident,
                           card=[(entry, form) for entry, form in shown if not entry.heading],
                           sections=[(entry, form) for entry, form in shown if entry.heading],
                           may_edit=Action.EDIT in allowed, may_comment=Action.COMMENT in allowed,
                           events=events, people=live.people_named(_named_in(events)),
                           last_event_id=max((event.id for event in events), default=0))


def _named_in(events) -> set[str]:
    """The usernames the events recorded as values (an assignment's technicians)."""
    return {name for event in events for name in (event.changes or {}).get("technician") or () if name}


# ---- the page asks whether the incident changed (js/live.js) ---------------------------------

@bp.get("/ui/incidents/<id:incident_id>/live")
@login_required
def incident_live(incident_id: int):
    """The incident's state for its open page: JSON `{reference, version, last_event_id, by,
    by_username, by_you}` with an ETag, 304 while it is the one the page already has (the page
    polls with If-None-Match). 404 for an incident the user may not see, as the page itself."""
    incident = queries.get_incident(actor=current_user, incident_id=incident_id)
    now = live.state(incident=incident, viewer=current_user)
    tag = f'W/"{now.version}-{now.last_event_id}-{current_user.id}"'
    if request.if_none_match.contains_weak(tag[3:-1]):
        return Response(status=304, headers={"ETag": tag})
    response = jsonify(reference=incident.reference, version=now.version, last_event_id=now.last_event_id,
                       by=now.by.name if now.by else "the portal",
                       by_username=now.by.username if now.by else None,
                       by_you=now.by is not None and now.by.id == current_user.id)
    response.headers["ETag"] = tag
    return response


bp.add_app_template_global(sees_internal, "sees_internal")
# The Take button of the incident tables' rows (app/web/rows.py) posts this entry's form.
TAKE_ENTRY = next(entry for entry in INCIDENT_ACTIONS if entry.action == Action.TAKE)


# ---- how the SLA clocks read ----------------------------------------------------------------

@bp.app_template_filter("duration")
def duration(seconds: int) -> str:
    """A span in the two largest units that matter, rounded down: "2d 3h", "2h 15m", "35m";
    "under 1m" below a minute (never "0m", which would read as nothing left)."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else "under 1m"


@dataclass(frozen=True)
class ClockReading:
    """One clock as a person reads it: a few words, and a Bootstrap colour for them."""

    text: str
    tone: str  # light (running), warning (past 80 %), danger (overdue, breached), secondary (paused), success
    state: ClockState
    due_at: datetime | None
    remaining_seconds: int | None
    target_minutes: int

    @property
    def at_risk(self) -> bool:
        return self.tone == "warning"


@dataclass(frozen=True)
class SlaReading:
    """Both clocks of an incident, and the calendar they count in."""

    response: ClockReading
    resolve: ClockReading
    paused: bool
    responded_at: datetime | None
    calendar: str

    @property
    def awaiting_response(self) -> bool:
        """The response clock still runs (nobody has answered yet), so it is worth showing beside resolve."""
        return self.responded_at is None and self.response.remaining_seconds is not None


def _reading(clock: dict, target_minutes: int) -> ClockReading:
    state, left = ClockState(clock["state"]), clock["remaining_seconds"]
    if state == ClockState.MET:
        text, tone = "met", "success"
    elif state == ClockState.PAUSED:
        text, tone = "paused", "secondary"
    elif state == ClockState.BREACHED:
        # Still counting (or paused past its target): by how much; stopped: breached for good.
        text = "breached" if left is None else f"overdue {duration(left)}"
        tone = "danger"
    else:
        target = target_minutes * 60
        at_risk = target - left >= warn_seconds(target)
        text, tone = f"{duration(left)} left", "warning" if at_risk else "light"
    return ClockReading(text=text, tone=tone, state=state, due_at=clock["due_at"], remaining_seconds=left,
                        target_minutes=target_minutes)


def calendar_label(kind: SlaCalendar) -> str:
    """The calendar a clock counts in, business hours spelled out from the settings."""
    label = CALENDAR_LABELS[SlaCalendar(kind)]
    if kind != SlaCalendar.BUSINESS:
        return label
    config = current_app.config
    holidays = ", holidays excluded" if config["SLA_HOLIDAYS"] else ""
    return f"{label}: {config['SLA_BUSINESS_HOURS']} ({config['SLA_TIMEZONE']}){holidays}"


@bp.app_template_global("sla_reading")
def sla_reading(incident: Incident, now: datetime | None = None) -> SlaReading:
    """The incident's clocks now (`app.incidents.sla.view`), as the list and the incident page show them."""
    view = sla.view(incident, now)
    return SlaReading(response=_reading(view["response"], incident.response_target_minutes),
                      resolve=_reading(view["resolve"], incident.resolve_target_minutes),
                      paused=view["paused"], responded_at=incident.responded_at,
                      calendar=calendar_label(incident.sla_calendar))


@bp.app_template_filter("iso_time")
def iso_time(text: str | None) -> datetime | None:
    """A time the timeline stored as ISO 8601 text (an SLA notice's due time), or None if it is not one."""
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
