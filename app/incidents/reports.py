"""Reports: the figures an ops lead is judged by, over a range of UTC days (SPEC "Reports and export").

Every figure is an SQL aggregate over the incidents' stored columns, read along their indexes
(created_at, resolved_at, status): no incident is loaded into Python, so a summary of the last
30 days reads the incidents of those 30 days, not the whole table. The definitions, which
docs/api.md repeats for the people who read the numbers:

- *created*: incidents whose `created_at` falls in the range.
- *resolved*: incidents whose `resolved_at` falls in the range. `resolved_at` is the last
  resolution: closing keeps it, reopening clears it, so an incident counts once, when it was last
  resolved.
- *backlog*: the open work at the end of the range (at the end of each day for the daily report):
  incidents created before then and not resolved by then. "Resolved" is the last resolution, as
  above, so an incident resolved, then reopened later, counts as open work from its creation to
  its last resolution. Hence backlog at the end of a day = backlog the day before + created -
  resolved that day, and the daily table adds up.
- *mtta_seconds*: mean of `responded_at - created_at` over the created incidents that have been
  answered (app.incidents.clocks: the first assignment or staff comment).
- *mttr_seconds*: mean of `resolved_at - created_at` over the resolved incidents.
- *p90_resolve_seconds*: the nearest-rank 90th percentile of those same durations: the smallest
  one that at least 90 % of them do not exceed (of 10 durations, the 9th shortest).
- *response_met_pct*: of the created incidents whose response clock has an outcome, the share
  met. The outcome is the clocks' own rule (`clocks.response_state`): answered before the due time
  is met; answered at or after it, or still unanswered once it has passed, is breached; an
  incident still unanswered before its due time has no outcome yet and is left out.
- *resolve_met_pct*: of the resolved incidents, the share whose counted resolve time stayed under
  the target (`resolve_spent_seconds < resolve_target_minutes * 60`, as `clocks.resolve_state`).

Durations are wall-clock seconds, rounded to whole seconds; percentages have one decimal. A figure
with nothing to average or count is None. Grouped figures use each incident's current priority,
severity, category or technician.
"""
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, case, func, literal, null, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.auth.roles import Role
from app.exceptions import InvalidInput, PermissionDenied
from app.extensions import db
from app.incidents.enums import Category, Labelled, Priority, Severity
from app.incidents.lifecycle import ACTIVE_STATUSES
from app.incidents.paging import unindexed
from app.models import Incident, User, utcnow

READERS = (Role.TECHNICIAN, Role.ADMIN)
DEFAULT_DAYS = 30
MAX_DAYS = 366
# The dates a range may name: every day of them has an end that is still a date (9999-12-31 has none).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9999, 12, 30)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # ASCII digits (\d would take any script's)


class Grouping(Labelled):
    """What a summary may be grouped by: the incident's current value of it."""

    PRIORITY = "priority"
    SEVERITY = "severity"
    CATEGORY = "category"
    TECHNICIAN = "technician"


# ---- the range -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """Whole UTC days, `first` to `last` inclusive (the `from` and `to` of a request)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The first instant of the range."""
        return datetime.combine(self.first, time(), UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the range (midnight ending `last`)."""
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def last_days(count: int, today: date) -> Period:
    """The `count` days ending today (the dashboard's and the default range)."""
    return Period(max(FIRST_DAY, today - timedelta(days=count - 1)), today)


def parse_period(*, first: str | None, last: str | None, today: date | None = None) -> Period:
    """The range of a request's `from` and `to` (YYYY-MM-DD, `to` inclusive). Without `to` (or with
    it empty): today; without `from`: the 30 days ending `to`. InvalidInput naming the field otherwise."""
    today = today or utcnow().date()
    errors: dict[str, list[str]] = {}
    parsed = {}
    for name, text in (("from", first), ("to", last)):
        if not text:  # absent, or left empty in the page's form
            continue
        day = _date(text)
        if day is None:
            errors[name] = ["Must be a date written YYYY-MM-DD."]
        elif not FIRST_DAY <= day <= LAST_DAY:
            errors[name] = [f"Must be between {FIRST_DAY} and {LAST_DAY}."]
        else:
            parsed[name] = day
    if errors:
        raise InvalidInput(errors)
    end = parsed.get("to", min(today, LAST_DAY))
    start = parsed.get("from", last_days(DEFAULT_DAYS, end).first)
    if start > end:
        raise InvalidInput.field("from", "Must not be after `to`.")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput.field("to", f"The range may span at most {MAX_DAYS} days.")
    return Period(start, end)


def _date(text: str) -> date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_grouping(text: str | None) -> Grouping | None:
    """A request's `group_by` (any case); None for no grouping; InvalidInput for anything else."""
    if text is None or not text.strip():
        return None
    try:
        return Grouping(text.strip().lower())
    except ValueError:
        choices = ", ".join(grouping.value for grouping in Grouping)
        raise InvalidInput.field("group_by", f"Must be one of: {choices}.") from None


def may_read_reports(user: User) -> bool:
    """Technicians and admins read the reports; reporters do not."""
    return user.role in READERS


def _check_reader(user: User) -> None:
    if not may_read_reports(user):
        raise PermissionDenied("Reports are for technicians and admins.")


# ---- SQL that SQLite and PostgreSQL spell differently ----------------------------------------

class seconds_between(FunctionElement):
    """`later - earlier` in seconds, as a float (NULL if either is NULL)."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between)
def _seconds_postgresql(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


class utc_day(FunctionElement):
    """The UTC date of a stored (naive UTC) time: a date on PostgreSQL, 'YYYY-MM-DD' on SQLite."""

    inherit_cache = True


@compiles(utc_day)
def _day_postgresql(element, compiler, **kw) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(utc_day, "sqlite")
def _day_sqlite(element, compiler, **kw) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# ---- the summary ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    """One group's figures (see the module's docstring for each one's definition)."""

    key: str | None
    label: str
    created: int = 0
    resolved: int = 0
    backlog: int = 0
    mtta_seconds: int | None = None
    mttr_seconds: int | None = None
    p90_resolve_seconds: int | None = None
    response_met_pct: float | None = None
    resolve_met_pct: float | None = None


@dataclass(frozen=True)
class Summary:
    period: Period
    group_by: Grouping | None
    groups: list[Figures]


FIGURES = ("created", "resolved", "backlog", "mtta_seconds", "mttr_seconds", "p90_resolve_seconds",
           "response_met_pct", "resolve_met_pct")
KEY_COLUMNS = {
    Grouping.PRIORITY: Incident.priority,
    Grouping.SEVERITY: Incident.severity,
    Grouping.CATEGORY: Incident.category,
    Grouping.TECHNICIAN: Incident.technician_id,
}
# Enum groups always list every value, most urgent first, so a chart keeps its shape.
_ENUM_ORDER = {
    Grouping.PRIORITY: list(Priority),
    Grouping.SEVERITY: list(reversed(Severity)),
    Grouping.CATEGORY: list(Category),
}
ALL_LABEL = "All incidents"
UNASSIGNED_LABEL = "Unassigned"


def summary(*, actor: User, period: Period, group_by: Grouping | None = None,
            now: datetime | None = None) -> Summary:
    """Each group's figures over `period` (one group, key None, without `group_by`)."""
    _check_reader(actor)
    now = now or utcnow()
    key = KEY_COLUMNS[group_by] if group_by else None
    found: dict[Any, dict[str, Any]] = {}

    def row(value: Any) -> dict[str, Any]:
        return found.setdefault(value, {})

    for _, value, created, mtta, met, decided in db.session.execute(_created(key, period, now)):
        row(value).update(created=created, mtta_seconds=_seconds(mtta), response_met_pct=_pct(met, decided))
    for value, resolved, mttr, p90, met in db.session.execute(_resolved_ranked(key, period)):
        row(value).update(resolved=resolved, mttr_seconds=_seconds(mttr), p90_resolve_seconds=_seconds(p90),
                          resolve_met_pct=_pct(met, resolved))
    for value, backlog in backlog_at(period.end, key):
        row(value).update(backlog=backlog)
    groups = [Figures(key=group.key, label=group.label, **found.get(value, {}))
              for value, group in _labelled(group_by, found)]
    return Summary(period=period, group_by=group_by, groups=groups)


@dataclass(frozen=True)
class ServiceLevel:
    """The time and SLA figures of one group, without counts (the dashboard's, the SLA chart's)."""

    key: str | None
    label: str
    mtta_seconds: int | None = None
    mttr_seconds: int | None = None
    response_met_pct: float | None = None
    resolve_met_pct: float | None = None


def service_levels(*, actor: User, period: Period, group_by: Grouping | None = None,
                   now: datetime | None = None) -> list[ServiceLevel]:
    """MTTA, MTTR and the share of SLA clocks met over `period`, per group: the summary's
    definitions, in one statement, without the backlog and the percentile (the costly parts at
    a million incidents; the dashboard shows these)."""
    _check_reader(actor)
    key = KEY_COLUMNS[group_by] if group_by else None
    found: dict[Any, dict[str, Any]] = {}
    both = union_all(_created(key, period, now or utcnow()), _resolved(key, period))
    for part, value, _, mean, met, judged in db.session.execute(both):
        if part == _CREATED:
            found.setdefault(value, {}).update(mtta_seconds=_seconds(mean), response_met_pct=_pct(met, judged))
        else:
            found.setdefault(value, {}).update(mttr_seconds=_seconds(mean), resolve_met_pct=_pct(met, judged))
    return [ServiceLevel(key=group.key, label=group.label, **found.get(value, {}))
            for value, group in _labelled(group_by, found)]


_CREATED, _RESOLVED = "created", "resolved"


def _per_group(part: str, key: ColumnElement | None, *figures: ColumnElement) -> Select:
    """SELECT part, group value (NULL without a grouping), figures ... GROUP BY the group value:
    the one row shape the created and resolved aggregates share, so they can be one UNION ALL."""
    query = select(literal(part).label("part"), _group_value(key), *figures)
    return query.group_by(key) if key is not None else query


def _created(key: ColumnElement | None, period: Period, now: datetime) -> Select:
    """Per group: created, mean time to answer, response clocks met, and those with an outcome."""
    decided = or_(Incident.responded_at.is_not(None), Incident.response_due_at <= now)
    return _per_group(
        _CREATED, key, func.count(),
        func.avg(seconds_between(Incident.responded_at, Incident.created_at)),
        func.sum(case((Incident.responded_at < Incident.response_due_at, 1), else_=0)),
        func.sum(case((decided, 1), else_=0)),
    ).where(Incident.created_at >= period.start, Incident.created_at < period.end)


def _resolve_met() -> ColumnElement:
    return case((Incident.resolve_spent_seconds < Incident.resolve_target_minutes * 60, 1), else_=0)


def _resolved_in(period: Period) -> tuple[ColumnElement[bool], ...]:
    return Incident.resolved_at >= period.start, Incident.resolved_at < period.end


def _resolved(key: ColumnElement | None, period: Period) -> Select:
    """Per group: resolved, mean time to resolve, resolve clocks met, and those with an outcome
    (every one: a resolution stops the clock)."""
    return _per_group(
        _RESOLVED, key, func.count(), func.avg(seconds_between(Incident.resolved_at, Incident.created_at)),
        func.sum(_resolve_met()), func.count(),
    ).where(*_resolved_in(period))


def _resolved_ranked(key: ColumnElement | None, period: Period) -> Select:
    """Per group: resolved, mean and 90th percentile time to resolve, resolve clocks met. A window
    function ranks each group's durations, in the same pass as the other figures; each duration is
    computed once, below the window (SQLite would compute it again to order by it)."""
    durations = select(
        _group_value(key), seconds_between(Incident.resolved_at, Incident.created_at).label("duration"),
        _resolve_met().label("met"),
    ).where(*_resolved_in(period)).subquery()
    group = [durations.c.key] if key is not None else None
    ranked = select(
        durations.c.key, durations.c.duration, durations.c.met,
        func.row_number().over(partition_by=group, order_by=durations.c.duration).label("position"),
        func.count().over(partition_by=group).label("n"),
    ).subquery()
    # Nearest rank: the ceil(0.9 n)-th shortest, in whole numbers ((9n + 9) div 10 is ceil(9n / 10)).
    p90 = func.max(case((ranked.c.position == (9 * ranked.c.n + 9) // 10, ranked.c.duration)))
    outer_key = ranked.c.key if key is not None else None
    query = select(_group_value(outer_key), func.count(), func.avg(ranked.c.duration), p90, func.sum(ranked.c.met))
    return query.group_by(outer_key) if key is not None else query


def backlog_at(moment: datetime, key: ColumnElement | None = None) -> list[tuple[Any, int]]:
    """(group value, count) of the incidents created before `moment` and not resolved by then.

    Two disjoint parts, each read along an index: those still open now (an incident has no
    resolved_at exactly while its status is active: the service sets it on resolve, keeps it on
    close and clears it on reopen), and those resolved at or after `moment`."""
    born = Incident.created_at < moment
    still_open = select(_group_value(key), Incident.id).where(Incident.status.in_(ACTIVE_STATUSES), born)
    # Read along resolved_at (the few resolved since), never along created_at: the whole table.
    resolved_later = select(_group_value(key), Incident.id).where(
        Incident.resolved_at >= moment, unindexed(Incident.created_at) < moment)
    both = union_all(still_open, resolved_later).subquery()
    outer_key = both.c.key if key is not None else None
    query = select(_group_value(outer_key), func.count()).select_from(both)
    return [tuple(row) for row in db.session.execute(query.group_by(outer_key) if key is not None else query)]


def _group_value(key: ColumnElement | None) -> ColumnElement:
    """The grouping column as `key`; a constant NULL without a grouping (PostgreSQL refuses a
    column outside GROUP BY beside an aggregate, even one that holds only NULLs)."""
    return (key if key is not None else null()).label("key")


def _seconds(value: Any) -> int | None:
    return None if value is None else int(round(float(value)))


def _pct(part: Any, whole: Any) -> float | None:
    if not whole:
        return None
    return round(100.0 * float(part or 0) / float(whole), 1)


@dataclass(frozen=True)
class Group:
    """How a group is named: `key` in the API and the CSVs, `label` for people."""

    key: str | None
    label: str


def _labelled(group_by: Grouping | None, found: dict[Any, Any]) -> list[tuple[Any, Group]]:
    """(group value, its name) in display order: enum groups all listed, most urgent first;
    technicians by name, the unassigned last."""
    if group_by is None:
        return [(None, Group(None, ALL_LABEL))]
    if group_by in _ENUM_ORDER:
        return [(member, Group(member.value, member.label)) for member in _ENUM_ORDER[group_by]]
    people = {user.id: user for user in db.session.scalars(
        select(User).where(User.id.in_([value for value in found if value is not None])))}
    ordered = sorted(people.values(), key=lambda user: (user.name.lower(), user.id))
    groups = [(user.id, Group(user.username, user.name)) for user in ordered]
    if None in found:
        groups.append((None, Group(None, UNASSIGNED_LABEL)))
    return groups


# ---- per day -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Day:
    """One day of the daily report; `mttr_seconds` is over the incidents resolved that day."""

    day: date
    created: int
    resolved: int
    backlog: int
    mttr_seconds: int | None


def daily(*, actor: User, period: Period) -> list[Day]:
    """Created and resolved on each day of `period`, the backlog at the end of each day, and the
    mean time to resolve of each day's resolutions (the MTTR trend)."""
    _check_reader(actor)
    created = {day: n for day, n in _per_day(Incident.created_at, period)}
    resolved = {day: (n, _seconds(mean)) for day, n, mean in _per_day(
        Incident.resolved_at, period, func.avg(seconds_between(Incident.resolved_at, Incident.created_at)))}
    backlog = sum(n for _, n in backlog_at(period.start))
    days = []
    for day in period.days:
        done, mttr = resolved.get(day, (0, None))
        backlog += created.get(day, 0) - done
        days.append(Day(day=day, created=created.get(day, 0), resolved=done, backlog=backlog, mttr_seconds=mttr))
    return days


def _per_day(column: ColumnElement, period: Period, *figures: ColumnElement) -> list[tuple]:
    """(day, count, *figures) for each day of `period` on which `column` falls at least once."""
    day = utc_day(column)
    query = select(day, func.count(), *figures).where(column >= period.start, column < period.end).group_by(day)
    return [(_as_date(value), *rest) for value, *rest in db.session.execute(query)]


# ---- as CSV rows (app.incidents.export writes them) ------------------------------------------

SUMMARY_COLUMNS = ("from", "to", "group_by", "key", "label", *FIGURES)
DAILY_COLUMNS = ("date", "created", "resolved", "backlog", "mttr_seconds")


def summary_rows(report: Summary) -> Iterator[tuple]:
    """One row per group, the range and grouping repeated on each (a row read alone still says what it is)."""
    for group in report.groups:
        yield (report.period.first.isoformat(), report.period.last.isoformat(),
               report.group_by.value if report.group_by else "", group.key, group.label,
               *(getattr(group, name) for name in FIGURES))


def daily_rows(days: list[Day]) -> Iterator[tuple]:
    for day in days:
        yield day.day.isoformat(), day.created, day.resolved, day.backlog, day.mttr_seconds
