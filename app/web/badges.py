"""The small pieces every page shows, written as markup in one place: the severity, priority,
status and SLA clock badges, and a moment in time. The templates call them (they are template
globals) and so do the incident tables' rows (app/web/rows.py), which write a whole page of rows
without a template call per cell.

Every value is escaped here (markupsafe's `escape`, then plain string formatting: Markup.format
costs ten times more); what comes back is Markup. An enum's badge is the same for every row, so
it is written once per member."""
from datetime import datetime
from functools import cache

from markupsafe import Markup, escape

from app.incidents.enums import Priority, Severity, Status
from app.times import human_text, utc_text
from app.web import bp


def assembled(html: str) -> Markup:
    """Markup from an f-string whose every value went through `escape` (or is a Markup already,
    or a number, or a fixed word of this code): the one place such text becomes Markup."""
    return Markup(html)  # noqa: S704 - the caller escaped every value, as above


@bp.app_template_global("severity_badge")
@cache
def severity_badge(severity: Severity) -> Markup:
    return _labelled("severity", severity.value, "Severity", severity.label)


@bp.app_template_global("priority_badge")
@cache
def priority_badge(priority: Priority) -> Markup:
    """The priority follows from severity and urgency (app/incidents/priority.py); P1 is the most urgent."""
    return _labelled("priority", priority.value.lower(), "Priority", priority.label)


@bp.app_template_global("status_badge")
@cache
def status_badge(status: Status) -> Markup:
    return _labelled("status", status.value, "Status", status.label)


def _labelled(kind: str, value: str, name: str, label: str) -> Markup:
    """A badge coloured by its kind and value (app.css), the kind read to screen readers first."""
    return assembled(f'<span class="badge {kind}-{escape(value)}"><span class="visually-hidden">{name}: </span>'
                     f'{escape(label)}</span>')


@bp.app_template_global("clock_badge")
def clock_badge(reading, name: str) -> Markup:
    """One SLA clock as app/web/detail.py reads it: "2h 15m left", "overdue 35m", "paused", "met",
    "breached"; the colour repeats what the words say. `name` is read to screen readers first."""
    border = " border" if reading.tone == "light" else ""
    return assembled(f'<span class="badge sla-badge text-bg-{escape(reading.tone)}{border}" '
                     f'data-state="{escape(reading.state.value)}"><span class="visually-hidden">{escape(name)}: </span>'
                     f'{escape(reading.text)}</span>')


def time_left(reading) -> Markup:
    """The list's time left: the resolve clock, and the response clock while nobody has answered."""
    shown = clock_badge(reading.resolve, "Resolve")
    if reading.awaiting_response:
        shown += assembled(f'\n<span class="d-block small text-body-secondary mt-1">Response '
                           f'{clock_badge(reading.response, "Response")}</span>')
    return shown


@bp.app_template_global("when")
def when(moment: datetime | None, seconds: bool = False) -> Markup:
    """A moment in UTC, exact, for a page without scripts; js/time.js rewrites the words to "3 h
    ago" / "in 2 h" and the title to the exact time in the browser's own time zone. `seconds`
    where they matter, as for a retry due in a few seconds."""
    if not moment:
        return Markup("—")
    exact = human_text(moment, seconds=seconds)
    return assembled(f'<time datetime="{utc_text(moment)}" title="{exact}">{exact}</time>')
