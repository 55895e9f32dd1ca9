"""The ONE home of SLA calendar arithmetic (SPEC "Priority and SLA"): how many seconds of a
policy's calendar lie between two instants, and when a clock that needs N such seconds runs out.

An SLA clock counts only its calendar's time: every second (`ALWAYS`, the "24x7" calendar) or the
business hours of config (`BusinessHours`: SLA_TIMEZONE, SLA_BUSINESS_HOURS, SLA_HOLIDAYS). Due
times, warnings, pauses and `flask sla recompute` all go through `seconds_between` and `add`, so
one definition decides every figure.

Definitions (instants are timezone-aware; any zone in, UTC out):
- Time is counted in whole seconds. An instant counts from the start of its second (partial
  seconds are floored), so `seconds_between(start, end)` is the number of counted seconds in
  [floor(start), floor(end)), 0 when end <= start. It is additive: sb(a, b) + sb(b, c) == sb(a, c)
  for a <= b <= c, which is what lets a paused clock be summed segment by segment.
- `add(start, n)` is the due instant: the FIRST instant t >= start with seconds_between(start, t)
  == n. A deadline that runs out at the end of Friday's window is Friday 17:00:00, not Monday
  09:00; a start outside business hours waits for the next window (Saturday 03:00 + 1 h is Monday
  10:00). add(start, 0) is start itself. A due time more than about ten years ahead raises
  `DeadlineOutOfRange` rather than searching on.

Business hours are local wall-clock time in SLA_TIMEZONE, so a DST change moves them in UTC and
09:00-17:00 stays 8 counted hours on both sides of it. Local times map to UTC in order:
- a time that occurs twice (clocks set back) means its first occurrence (zoneinfo fold=0);
- a time that does not exist (clocks jump forward) means the instant of the jump.
So a window that spans a change counts the hours that really pass (00:00-06:00 is 5 h on the
spring-forward night, 7 h on the fall-back night), and a window wholly inside the skipped hour
counts nothing. Windows end by midnight ("24:00"); a night shift is written as two groups
("Mon-Fri 22:00-24:00, Tue-Sat 00:00-06:00"), each half belonging to its own day, holidays too.

Speed: each local day's windows, as UTC seconds, are computed once (lru_cache), and each local
year keeps a running total per day, so both operations cost a few lookups whatever the span.
"""
import re
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

KINDS = ("24x7", "business")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead `add` looks before giving up: a due time beyond this is a misconfigured policy
# (or holidays that swallow every window), never a real deadline, and must not spin forever.
MAX_YEARS_AHEAD = 10

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_MINUTES_PER_DAY = 24 * 60
_GROUP = re.compile(r"(?P<first>[a-z]+)(?:\s*-\s*(?P<last>[a-z]+))?\s+"
                    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})", re.IGNORECASE)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class DeadlineOutOfRange(ValueError):
    """The due time lies beyond what a calendar will search (MAX_YEARS_AHEAD)."""


class Calendar(Protocol):
    def seconds_between(self, start: datetime, end: datetime) -> int:
        """Counted seconds in [start, end); 0 if end <= start."""

    def add(self, start: datetime, seconds: int) -> datetime:
        """The first instant t >= start with seconds_between(start, t) == seconds (UTC)."""


def _to_seconds(moment: datetime) -> int:
    """Whole seconds since the epoch, floored; exact (no float) for any aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"SLA calendars take timezone-aware datetimes, not naive {moment!r}")
    return (moment - _EPOCH) // _SECOND


def _from_seconds(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def _check_count(seconds: int) -> None:
    if seconds < 0:
        raise ValueError(f"cannot add a negative number of seconds ({seconds})")


class TwentyFourSeven:
    """The "24x7" calendar: every second counts."""

    def seconds_between(self, start: datetime, end: datetime) -> int:
        return max(0, _to_seconds(end) - _to_seconds(start))

    def add(self, start: datetime, seconds: int) -> datetime:
        begin = _to_seconds(start)
        _check_count(seconds)
        if seconds == 0:
            return start.astimezone(UTC)
        if seconds > MAX_YEARS_AHEAD * 366 * 86400:
            raise DeadlineOutOfRange(f"{seconds} s is more than {MAX_YEARS_AHEAD} years ahead")
        return _from_seconds(begin + seconds)

    def __repr__(self) -> str:
        return "ALWAYS"


ALWAYS = TwentyFourSeven()


@dataclass(frozen=True)
class _Day:
    """One local day in UTC seconds: where it starts and ends, and its counted windows."""

    start: int
    end: int
    windows: tuple[tuple[int, int], ...]
    total: int


@dataclass(frozen=True)
class BusinessHours:
    """Weekly local windows in a time zone, minus holidays. Build it with `parse` (config text)."""

    timezone: str
    # Per weekday (Monday first): sorted, non-overlapping (start, end) minutes after local midnight.
    weekly: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _day: Callable[[int], _Day] = field(init=False, repr=False, compare=False)
    _year: Callable[[int], tuple[int, list[int]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", _zone_named(self.timezone))
        if len(self.weekly) != 7:
            raise ValueError("weekly business hours need one entry per weekday, Monday first")
        if not any(self.weekly):
            raise ValueError("SLA_BUSINESS_HOURS has no counted time: an SLA on this calendar would never "
                             "run out (write e.g. 'Mon-Fri 09:00-17:00')")
        # Per instance, so two configurations never share an entry: 8192 local days (22 years), 64 years.
        object.__setattr__(self, "_day", lru_cache(maxsize=8192)(self._compute_day))
        object.__setattr__(self, "_year", lru_cache(maxsize=64)(self._compute_year))

    @classmethod
    def parse(cls, *, timezone: str, hours: str, holidays: str) -> "BusinessHours":
        """The calendar described by the three SLA_* settings; ValueError naming any bad value."""
        return cls(timezone=timezone.strip(), weekly=_parse_hours(hours), holidays=_parse_holidays(holidays))

    # -- the Calendar interface ------------------------------------------------------------------

    def seconds_between(self, start: datetime, end: datetime) -> int:
        begin, finish = _to_seconds(start), _to_seconds(end)
        if finish <= begin:
            return 0
        first_year, before = self._position(begin)
        last_year, upto = self._position(finish)
        return upto - before + sum(self._year(year)[1][-1] for year in range(first_year, last_year))

    def add(self, start: datetime, seconds: int) -> datetime:
        begin = _to_seconds(start)
        _check_count(seconds)
        if seconds == 0:
            return start.astimezone(UTC)
        year, target = self._position(begin)
        target += seconds  # counted seconds from the start of `year` to the due instant
        last_year = min(year + MAX_YEARS_AHEAD, date.max.year)
        first_ordinal, running = self._year(year)
        while target > running[-1]:
            target -= running[-1]
            year += 1
            if year > last_year:
                raise DeadlineOutOfRange(f"{seconds} counted seconds from {start.isoformat()} run past "
                                         f"{MAX_YEARS_AHEAD} years of this calendar's business hours")
            first_ordinal, running = self._year(year)
        index = bisect_left(running, target) - 1  # the day in which the target-th second is counted
        left = target - running[index]
        for window_start, window_end in self._day(first_ordinal + index).windows:
            if left <= window_end - window_start:
                return _from_seconds(window_start + left)
            left -= window_end - window_start
        raise AssertionError("a day's running total disagrees with its windows")  # pragma: no cover

    # -- days and years --------------------------------------------------------------------------

    def _position(self, moment: int) -> tuple[int, int]:
        """(local year, counted seconds from that year's start to `moment`)."""
        local = datetime.fromtimestamp(moment, self._zone)
        ordinal, year = local.toordinal(), local.year
        day = self._day(ordinal)
        if moment >= day.end:
            # The second pass of an hour repeated at midnight: by UTC it already belongs to the next day.
            ordinal += 1
            day = self._day(ordinal)
            year = date.fromordinal(ordinal).year
        first_ordinal, running = self._year(year)
        counted = running[ordinal - first_ordinal]
        for window_start, window_end in day.windows:
            if moment <= window_start:
                break
            counted += min(moment, window_end) - window_start
        return year, counted

    def _compute_day(self, ordinal: int) -> _Day:
        day = date.fromordinal(ordinal)
        start, end = self._utc(day, 0), self._utc(day, _MINUTES_PER_DAY)
        windows = []
        if day not in self.holidays:
            for first, last in self.weekly[day.weekday()]:
                window = (self._utc(day, first), self._utc(day, last))
                if window[1] > window[0]:  # a window inside a skipped hour counts nothing
                    windows.append(window)
        return _Day(start, end, tuple(windows), sum(last - first for first, last in windows))

    def _compute_year(self, year: int) -> tuple[int, list[int]]:
        """(ordinal of 1 January, counted seconds before each day of the year and after the last)."""
        first = date(year, 1, 1).toordinal()
        running = [0]
        for ordinal in range(first, date(year, 12, 31).toordinal() + 1):
            running.append(running[-1] + self._day(ordinal).total)
        return first, running

    def _utc(self, day: date, minute: int) -> int:
        """The UTC second at which local `day` reaches `minute` past midnight (1440: the next
        midnight): the first occurrence of a repeated time, the jump itself for a skipped one."""
        if minute == _MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), 0
        wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self._zone)
        first, second = _to_seconds(wall), _to_seconds(wall.replace(fold=1))
        if first <= second:
            return first  # unambiguous, or the first of two occurrences
        # Skipped: fold=0 lands after the jump, fold=1 before it. Find the jump's second.
        after = wall.replace(fold=1).utcoffset()  # PEP 495: fold=1 in a gap reads the new offset
        before_jump, at_jump = second, first
        while at_jump - before_jump > 1:
            middle = (before_jump + at_jump) // 2
            if datetime.fromtimestamp(middle, self._zone).utcoffset() == after:
                at_jump = middle
            else:
                before_jump = middle
        return at_jump


def _zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"SLA_TIMEZONE {name!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None


def _parse_hours(text: str) -> tuple[tuple[tuple[int, int], ...], ...]:
    """'Mon-Fri 09:00-17:00, Sat 10:00-14:00' -> per weekday, merged (start, end) minutes."""
    per_day: list[list[tuple[int, int]]] = [[] for _ in DAY_NAMES]
    for group in (part.strip() for part in text.split(",")):
        if not group:
            continue
        match = _GROUP.fullmatch(group)
        if match is None:
            raise ValueError(f"SLA_BUSINESS_HOURS group {group!r} is not like 'Mon-Fri 09:00-17:00' "
                             f"(days Mon..Sun, a range or one day, then HH:MM-HH:MM)")
        first = _weekday(match["first"], group)
        last = _weekday(match["last"], group) if match["last"] else first
        start, end = _minute(match["start"], group, end=False), _minute(match["end"], group, end=True)
        if end <= start:
            raise ValueError(f"SLA_BUSINESS_HOURS group {group!r} ends before it starts; windows end by 24:00, "
                             f"so write a night shift as two groups (e.g. 'Mon 22:00-24:00, Tue 00:00-06:00')")
        # A range may wrap past Sunday: 'Fri-Mon' is Friday, Saturday, Sunday, Monday.
        for offset in range((last - first) % 7 + 1):
            per_day[(first + offset) % 7].append((start, end))
    return tuple(_merged(windows) for windows in per_day)


def _weekday(name: str, group: str) -> int:
    try:
        return DAY_NAMES.index(name.lower())
    except ValueError:
        raise ValueError(f"SLA_BUSINESS_HOURS group {group!r}: {name!r} is not a day (Mon Tue Wed Thu Fri Sat Sun)") \
            from None


def _minute(text: str, group: str, *, end: bool) -> int:
    hour, minute = (int(part) for part in text.split(":"))
    if (hour, minute) == (24, 0) and end:
        return _MINUTES_PER_DAY
    if hour > 23 or minute > 59:
        allowed = "00:00..24:00" if end else "00:00..23:59"
        raise ValueError(f"SLA_BUSINESS_HOURS group {group!r}: {text!r} is not a time of day ({allowed})")
    return hour * 60 + minute


def _merged(windows: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Overlapping or touching windows (from several groups) as one, in order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _parse_holidays(text: str) -> frozenset[date]:
    """'2026-12-25, 2026-12-26' -> those local dates."""
    days = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            if not _ISO_DATE.fullmatch(item):
                raise ValueError
            days.add(date.fromisoformat(item))
        except ValueError:
            raise ValueError(f"SLA_HOLIDAYS entry {item!r} is not a date written YYYY-MM-DD") from None
    return frozenset(days)


@lru_cache(maxsize=16)
def _business_hours(timezone: str, hours: str, holidays: str) -> BusinessHours:
    return BusinessHours.parse(timezone=timezone, hours=hours, holidays=holidays)


def calendar_for(kind: str, app_config: Mapping) -> Calendar:
    """The calendar an SLA policy names ("24x7" or "business"), the latter from the app's SLA_*
    settings; parsed once per distinct settings, so its day cache serves every incident."""
    if kind == "24x7":
        return ALWAYS
    if kind == "business":
        return _business_hours(app_config["SLA_TIMEZONE"], app_config["SLA_BUSINESS_HOURS"],
                               app_config["SLA_HOLIDAYS"])
    raise ValueError(f"unknown SLA calendar {kind!r}; one of {', '.join(KINDS)}")
