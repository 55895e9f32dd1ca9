"""SLA calendar arithmetic (app/incidents/calendar.py): counted seconds between two instants and the
due instant of a clock, on the 24x7 calendar and on business hours with weekends, holidays and DST.
Every instant is written out; nothing reads the real clock."""
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import flask
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import config
from app.incidents.calendar import (
    ALWAYS,
    MAX_YEARS_AHEAD,
    BusinessHours,
    DeadlineOutOfRange,
    calendar_for,
)

REPO = Path(__file__).resolve().parent.parent
HOUR = 3600
MINUTE = 60


def at(text: str, zone: str = "UTC") -> datetime:
    """An aware instant from its local wall-clock time in `zone` (the first one, if it repeats)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def business(hours: str = "Mon-Fri 09:00-17:00", zone: str = "UTC", holidays: str = "") -> BusinessHours:
    return BusinessHours.parse(timezone=zone, hours=hours, holidays=holidays)


OFFICE = business()
BERLIN = business(zone="Europe/Berlin")


# --- add: when a clock runs out ------------------------------------------------------------------

ADD_CASES = [
    # (what, calendar, start, counted seconds, due as a UTC instant)
    ("within one window", OFFICE, at("2026-03-02 10:00"), 2 * HOUR, at("2026-03-02 12:00")),
    ("overnight: 16:00 + 3 h is 11:00 the next business day", OFFICE, at("2026-03-03 16:00"), 3 * HOUR,
     at("2026-03-04 11:00")),
    ("overnight: 16:00 + 4 h is 12:00 the next business day", OFFICE, at("2026-03-03 16:00"), 4 * HOUR,
     at("2026-03-04 12:00")),
    ("a deadline that runs out at closing time is closing time", OFFICE, at("2026-03-06 16:00"), HOUR,
     at("2026-03-06 17:00")),
    ("weekend: Friday 16:00 + 2 h is Monday 10:00", OFFICE, at("2026-03-06 16:00"), 2 * HOUR, at("2026-03-09 10:00")),
    ("a Monday holiday pushes to Tuesday", business(holidays="2026-03-09"), at("2026-03-06 16:00"), 2 * HOUR,
     at("2026-03-10 10:00")),
    ("two holidays in a row", business(holidays="2026-03-10, 2026-03-09"), at("2026-03-06 16:00"), 2 * HOUR,
     at("2026-03-11 10:00")),
    ("created Saturday 03:00: + 1 h is Monday 10:00", OFFICE, at("2026-03-07 03:00"), HOUR, at("2026-03-09 10:00")),
    ("created Saturday 03:00 Berlin: Monday 10:00 local", BERLIN, at("2026-03-07 03:00", "Europe/Berlin"), HOUR,
     at("2026-03-09 10:00", "Europe/Berlin")),
    ("created before opening", OFFICE, at("2026-03-02 07:00"), 30 * MINUTE, at("2026-03-02 09:30")),
    ("P4's 2400 minutes from Monday opening end Friday at closing", OFFICE, at("2026-03-02 09:00"), 2400 * MINUTE,
     at("2026-03-06 17:00")),
    ("nothing to count: the start itself, even outside hours", OFFICE, at("2026-03-07 03:00"), 0,
     at("2026-03-07 03:00")),
    ("a lunch break is skipped", business("Mon-Fri 09:00-12:00, Mon-Fri 13:00-17:00"), at("2026-03-02 11:00"),
     2 * HOUR, at("2026-03-02 14:00")),
    ("a Saturday window counts", business("Mon-Fri 09:00-17:00, Sat 10:00-14:00"), at("2026-03-06 16:00"), 2 * HOUR,
     at("2026-03-07 11:00")),
    ("a night shift written as two groups", business("Mon-Fri 22:00-24:00, Tue-Sat 00:00-06:00"),
     at("2026-03-02 23:00"), 3 * HOUR, at("2026-03-03 02:00")),
    ("a day range may wrap past Sunday", business("Fri-Mon 10:00-11:00"), at("2026-03-05 12:00"), 2 * HOUR,
     at("2026-03-07 11:00")),
    ("a start in another zone is the same instant", OFFICE, at("2026-03-02 11:00", "Europe/Berlin"), HOUR,
     at("2026-03-02 11:00")),
    ("the year's last counted second", OFFICE, at("2026-12-31 16:00"), HOUR, at("2026-12-31 17:00")),
    ("a new year's holiday", business(holidays="2027-01-01"), at("2026-12-31 16:00"), 2 * HOUR,
     at("2027-01-04 10:00")),
    # DST: 09:00-17:00 Berlin is 08:00-16:00 UTC in winter, 07:00-15:00 UTC in summer.
    ("spring forward weekend (29 March 2026)", BERLIN, at("2026-03-27 16:00", "Europe/Berlin"), 2 * HOUR,
     at("2026-03-30 08:00")),
    ("fall back weekend (25 October 2026)", BERLIN, at("2026-10-23 16:00", "Europe/Berlin"), 2 * HOUR,
     at("2026-10-26 09:00")),
    ("a winter week of 40 h", BERLIN, at("2026-03-23 08:00"), 40 * HOUR, at("2026-03-27 16:00")),
    ("the summer week after it", BERLIN, at("2026-03-30 07:00"), 40 * HOUR, at("2026-04-03 15:00")),
    # A window starting in the skipped hour opens at the jump (01:00 UTC, 03:00 summer time).
    ("a window opening in the skipped hour opens at the jump", business("Sun 02:30-05:00", "Europe/Berlin"),
     at("2026-03-28 12:00", "Europe/Berlin"), 1, at("2026-03-29 01:00:01")),
    # A window starting in the repeated hour opens at its first occurrence (00:30 UTC, 02:30 summer time).
    ("a window opening in the repeated hour opens at its first pass", business("Sun 02:30-05:00", "Europe/Berlin"),
     at("2026-10-24 12:00", "Europe/Berlin"), 1, at("2026-10-25 00:30:01")),
]


@pytest.mark.parametrize(("what", "calendar", "start", "seconds", "due"), ADD_CASES, ids=[c[0] for c in ADD_CASES])
def test_add_gives_the_first_instant_the_clock_runs_out(what, calendar, start, seconds, due):
    """The due instant, in UTC; and exactly `seconds` counted seconds lie between start and due."""
    result = calendar.add(start, seconds)
    assert result == due
    assert result.utcoffset() == timedelta(0)
    assert calendar.seconds_between(start, result) == seconds


# --- seconds_between: how much counted time passed ------------------------------------------------

SUNDAY_NIGHT = business("Sun 00:00-06:00", "Europe/Berlin")
SKIPPED_HOUR = business("Sun 02:15-02:45", "Europe/Berlin")

BETWEEN_CASES = [
    # (what, calendar, start, end, counted seconds)
    ("inside one window", OFFICE, at("2026-03-02 10:00"), at("2026-03-02 10:30"), 30 * MINUTE),
    ("over a night", OFFICE, at("2026-03-02 16:00"), at("2026-03-03 10:00"), 2 * HOUR),
    ("over a weekend", OFFICE, at("2026-03-06 16:00"), at("2026-03-09 10:00"), 2 * HOUR),
    ("a whole week", OFFICE, at("2026-03-02 00:00"), at("2026-03-09 00:00"), 40 * HOUR),
    ("a week with a Monday holiday", business(holidays="2026-03-02"), at("2026-03-02 00:00"), at("2026-03-09 00:00"),
     32 * HOUR),
    ("a weekend only", OFFICE, at("2026-03-07 00:00"), at("2026-03-09 00:00"), 0),
    ("a span of 30 days", OFFICE, at("2026-03-02 12:00"), at("2026-04-01 12:00"), 22 * 8 * HOUR),
    ("across new year", OFFICE, at("2026-12-31 12:00"), at("2027-01-01 10:00"), 6 * HOUR),
    ("end before start", OFFICE, at("2026-03-02 12:00"), at("2026-03-02 10:00"), 0),
    ("end equals start", OFFICE, at("2026-03-02 12:00"), at("2026-03-02 12:00"), 0),
    # DST: a Berlin business day stays 8 h, so each week is 40 h.
    ("the spring-forward week", BERLIN, at("2026-03-23 00:00", "Europe/Berlin"),
     at("2026-03-30 00:00", "Europe/Berlin"), 40 * HOUR),
    ("the first summer day, in UTC", BERLIN, at("2026-03-30 07:00"), at("2026-03-30 15:00"), 8 * HOUR),
    ("Friday before the change is 08:00-16:00 UTC, Monday after opens 07:00 UTC", BERLIN, at("2026-03-27 08:00"),
     at("2026-03-30 08:00"), 8 * HOUR + HOUR),
    ("the fall-back week", BERLIN, at("2026-10-19 00:00", "Europe/Berlin"), at("2026-10-26 00:00", "Europe/Berlin"),
     40 * HOUR),
    ("the first winter day, in UTC", BERLIN, at("2026-10-26 08:00"), at("2026-10-26 16:00"), 8 * HOUR),
    # A window across the change counts the hours that really pass.
    ("a Sunday night window on an ordinary Sunday", SUNDAY_NIGHT, at("2026-03-22 00:00", "Europe/Berlin"),
     at("2026-03-23 00:00", "Europe/Berlin"), 6 * HOUR),
    ("the same window on the spring-forward night", SUNDAY_NIGHT, at("2026-03-29 00:00", "Europe/Berlin"),
     at("2026-03-30 00:00", "Europe/Berlin"), 5 * HOUR),
    ("the same window on the fall-back night", SUNDAY_NIGHT, at("2026-10-25 00:00", "Europe/Berlin"),
     at("2026-10-26 00:00", "Europe/Berlin"), 7 * HOUR),
    ("a window inside the skipped hour counts nothing", SKIPPED_HOUR, at("2026-03-29 00:00", "Europe/Berlin"),
     at("2026-03-30 00:00", "Europe/Berlin"), 0),
    ("a window inside the repeated hour counts its first pass", SKIPPED_HOUR, at("2026-10-25 00:00", "Europe/Berlin"),
     at("2026-10-26 00:00", "Europe/Berlin"), 30 * MINUTE),
    ("... which is 00:15-00:45 UTC", SKIPPED_HOUR, at("2026-10-25 00:15"), at("2026-10-25 00:45"), 30 * MINUTE),
    # St. John's fell back at 00:01 in 2010: 00:00-00:01 on Sunday 7 November came first (02:30Z), then
    # Saturday's 23:01-24:00 again. That repeated Saturday hour is already Sunday's window.
    ("a repeated hour after midnight belongs to the new day", business("Sun 00:00-06:00", "America/St_Johns"),
     at("2010-11-06 12:00"), at("2010-11-07 03:00"), 30 * MINUTE),
    ("... so the Sunday window lasts 7 h", business("Sun 00:00-06:00", "America/St_Johns"), at("2010-11-06 12:00"),
     at("2010-11-08 12:00"), 7 * HOUR),
    # Partial seconds are floored: an instant counts from the start of its second.
    ("the same second twice", OFFICE, at("2026-03-02 10:00:00"), at("2026-03-02 10:00:00.999999"), 0),
    ("the next second begins", OFFICE, at("2026-03-02 10:00:00.999999"), at("2026-03-02 10:00:01"), 1),
]


@pytest.mark.parametrize(("what", "calendar", "start", "end", "seconds"), BETWEEN_CASES,
                         ids=[c[0] for c in BETWEEN_CASES])
def test_seconds_between_counts_only_calendar_time(what, calendar, start, end, seconds):
    """Counted seconds in [start, end)."""
    assert calendar.seconds_between(start, end) == seconds


def test_a_paused_clock_sums_its_running_segments():
    """Resolve runs Monday 15:00 to Tuesday 10:00, pauses, resumes Thursday 16:30: with 8 h to spend
    it runs out Friday 13:30, and the two segments together are the whole 8 h."""
    first = (at("2026-03-02 15:00"), at("2026-03-03 10:00"))
    used = OFFICE.seconds_between(*first)
    assert used == 3 * HOUR
    resumed = at("2026-03-05 16:30")
    due = OFFICE.add(resumed, 8 * HOUR - used)
    assert due == at("2026-03-06 13:30")
    assert used + OFFICE.seconds_between(resumed, due) == 8 * HOUR
    # The time on hold (Tuesday 10:00 to Thursday 16:30) is business time the clock did not count.
    assert OFFICE.seconds_between(first[0], due) - 8 * HOUR == OFFICE.seconds_between(first[1], resumed)


# --- 24x7 ----------------------------------------------------------------------------------------

def test_the_24x7_calendar_counts_every_second():
    """Nights, weekends and DST changes count like any other second."""
    start = at("2026-03-28 12:00", "Europe/Berlin")  # spans the spring-forward night
    end = at("2026-03-29 12:00", "Europe/Berlin")
    assert ALWAYS.seconds_between(start, end) == 23 * HOUR
    assert ALWAYS.seconds_between(end, start) == 0
    assert ALWAYS.add(start, 23 * HOUR) == end
    assert ALWAYS.add(start, 23 * HOUR).tzinfo is UTC
    assert calendar_for("24x7", {}) is ALWAYS


def test_the_24x7_calendar_floors_partial_seconds():
    """add(start, 0) is start; any other due time is a whole second."""
    start = at("2026-03-02 10:00:00.500000")
    assert ALWAYS.add(start, 0) == start
    assert ALWAYS.add(start, 60) == at("2026-03-02 10:01:00")
    assert ALWAYS.seconds_between(start, at("2026-03-02 10:01:00")) == 60
    assert ALWAYS.seconds_between(start, at("2026-03-02 10:00:59.999999")) == 59


@pytest.mark.parametrize("calendar", [ALWAYS, OFFICE], ids=["24x7", "business"])
def test_misuse_is_a_clear_error(calendar):
    """Naive datetimes and negative amounts are refused; a due time years ahead is refused, not searched."""
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.seconds_between(datetime(2026, 3, 2, 10), at("2026-03-02 11:00"))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add(datetime(2026, 3, 2, 10), 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add(datetime(2026, 3, 2, 10), 0)
    with pytest.raises(ValueError, match="negative"):
        calendar.add(at("2026-03-02 10:00"), -1)
    with pytest.raises(DeadlineOutOfRange):
        calendar.add(at("2026-03-02 10:00"), 10**10)


def test_a_calendar_whose_holidays_swallow_every_window_gives_up():
    """One Monday hour a week, and every Monday of the next twelve years a holiday: add raises
    instead of looping, and seconds_between still answers 0."""
    mondays = [date(2026, 3, 2) + timedelta(weeks=week) for week in range(52 * 12 + 2)]
    calendar = business("Mon 09:00-10:00", holidays=",".join(day.isoformat() for day in mondays))
    with pytest.raises(DeadlineOutOfRange, match=f"{MAX_YEARS_AHEAD} years"):
        calendar.add(at("2026-03-02 08:00"), 1)
    assert calendar.seconds_between(at("2026-03-01 00:00"), at("2036-03-01 00:00")) == 0


# --- configuration ---------------------------------------------------------------------------------

BAD_CONFIG = [
    # (timezone, hours, holidays, the bad value the message names)
    ("Mars/Olympus", "Mon-Fri 09:00-17:00", "", "SLA_TIMEZONE 'Mars/Olympus'"),
    ("", "Mon-Fri 09:00-17:00", "", "SLA_TIMEZONE ''"),
    ("../../etc/passwd", "Mon-Fri 09:00-17:00", "", "SLA_TIMEZONE '../../etc/passwd'"),
    ("UTC", "", "", "SLA_BUSINESS_HOURS has no counted time"),
    ("UTC", " , ", "", "SLA_BUSINESS_HOURS has no counted time"),
    ("UTC", "Mon-Fri", "", "'Mon-Fri' is not like"),
    ("UTC", "Mon-Fri 9-17", "", "'Mon-Fri 9-17' is not like"),
    ("UTC", "Mon-Fri 09:00-17:00; Sat 10:00-12:00", "", "is not like"),
    ("UTC", "Funday 09:00-17:00", "", "'Funday' is not a day"),
    ("UTC", "Mon-Fri 17:00-09:00", "", "'Mon-Fri 17:00-09:00' ends before it starts"),
    ("UTC", "Mon 22:00-06:00", "", "night shift as two groups"),
    ("UTC", "Mon 09:00-09:00", "", "ends before it starts"),
    ("UTC", "Mon 09:00-24:30", "", "'24:30' is not a time of day"),
    ("UTC", "Mon 24:00-24:00", "", "'24:00' is not a time of day (00:00..23:59)"),
    ("UTC", "Mon 09:60-17:00", "", "'09:60' is not a time of day"),
    ("UTC", "Mon-Fri 09:00-17:00", "2026-02-30", "SLA_HOLIDAYS entry '2026-02-30'"),
    ("UTC", "Mon-Fri 09:00-17:00", "2026-12-25, 25.12.2026", "SLA_HOLIDAYS entry '25.12.2026'"),
    ("UTC", "Mon-Fri 09:00-17:00", "20261225", "SLA_HOLIDAYS entry '20261225'"),
]


@pytest.mark.parametrize(("timezone", "hours", "holidays", "message"), BAD_CONFIG)
def test_bad_sla_settingsare_a_value_error_naming_the_value(timezone, hours, holidays, message):
    """Each bad setting is refused when parsed, with the setting and its value in the message."""
    with pytest.raises(ValueError) as refused:
        BusinessHours.parse(timezone=timezone, hours=hours, holidays=holidays)
    assert message in str(refused.value)


def test_the_grammar_is_forgiving_where_nothing_is_ambiguous():
    """Day names in any case, spaces around dashes, overlapping groups merged, empty groups ignored."""
    tidy = business("Mon-Fri 09:00-17:00")
    assert business("mon - FRI  09:00 - 17:00,") == tidy
    assert business("Mon-Fri 09:00-12:00, Mon-Fri 11:00-17:00") == tidy
    assert business("Mon-Fri 09:00-13:00, Mon-Fri 13:00-17:00") == tidy
    assert business("Mon 9:00-17:00, Tue-Fri 09:00-17:00") == tidy
    assert business("Mon-Sun 00:00-24:00").seconds_between(at("2026-03-02 00:00"), at("2026-03-09 00:00")) == 168 * HOUR


def test_calendar_for_reads_the_sla_settings():
    """"business" is built from SLA_TIMEZONE, SLA_BUSINESS_HOURS and SLA_HOLIDAYS, once per values."""
    sla_settings = {"SLA_TIMEZONE": "Europe/Berlin", "SLA_BUSINESS_HOURS": "Sat 10:00-14:00",
                 "SLA_HOLIDAYS": "2026-03-07"}
    calendar = calendar_for("business", sla_settings)
    assert calendar == business("Sat 10:00-14:00", "Europe/Berlin", "2026-03-07")
    # Saturday 7 March is a holiday, so Friday + 1 h is 11:00 Berlin on 14 March.
    assert calendar.add(at("2026-03-06 12:00"), HOUR) == at("2026-03-14 10:00")
    assert calendar_for("business", dict(sla_settings)) is calendar
    assert calendar_for("business", {**sla_settings, "SLA_HOLIDAYS": ""}).add(at("2026-03-06 12:00"), HOUR) \
        == at("2026-03-07 10:00")
    with pytest.raises(ValueError, match="unknown SLA calendar 'weekdays'"):
        calendar_for("weekdays", sla_settings)


def test_the_default_sla_settingsare_monday_to_friday_nine_to_five_utc():
    """The app's configuration, as create_app loads it, gives SPEC's default business calendar."""
    app_config = flask.Config(str(REPO))
    app_config.from_object(config.TestingConfig)
    assert calendar_for("business", app_config) == business("Mon-Fri 09:00-17:00", "UTC", "")


def test_the_sla_sla_settingscome_from_the_environment():
    """config.py reads the three settings from the environment."""
    program = ("import flask, config; from app.incidents.calendar import calendar_for; "
               "c = flask.Config('.'); c.from_object(config.Config); print(repr(calendar_for('business', c)))")
    env = {"PATH": os.environ["PATH"], "PYTHON_DOTENV_DISABLED": "1", "SLA_TIMEZONE": "America/New_York",
           "SLA_BUSINESS_HOURS": "Sat 10:00-14:00", "SLA_HOLIDAYS": "2026-07-04"}
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(business("Sat 10:00-14:00", "America/New_York", "2026-07-04"))


# --- properties, on random calendars and instants --------------------------------------------------

# Zones with DST at 02:00 (Berlin, New York), half-hour DST (Lord Howe), DST at midnight (Santiago,
# Havana), none (Kolkata, UTC).
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "America/Havana",
         "Asia/Kolkata"]
# Weeks around 2026's DST changes in those zones, so random instants often land near one.
CHANGES = [datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 4, 5, tzinfo=UTC),
           datetime(2026, 9, 6, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC),
           datetime(2026, 11, 1, tzinfo=UTC)]

instants = st.one_of(
    st.datetimes(min_value=datetime(2025, 6, 1), max_value=datetime(2028, 6, 1), timezones=st.just(UTC)),
    st.builds(lambda change, offset: change + timedelta(microseconds=offset), st.sampled_from(CHANGES),
              st.integers(-4 * 86400 * 10**6, 4 * 86400 * 10**6)),
)
minutes = st.one_of(st.integers(0, 1439), st.sampled_from([0, 30, 60, 120, 150, 180, 1380, 1410]))


@st.composite
def groups(draw) -> str:
    first, last = draw(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]), label="days"), None
    if draw(st.booleans()):
        last = draw(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]))
    start = draw(minutes)
    end = draw(st.integers(start + 1, 1440))
    days = f"{first}-{last}" if last else first
    return f"{days} {start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


calendars = st.builds(
    lambda zone, hours, holidays: business(", ".join(hours), zone, ",".join(day.isoformat() for day in holidays)),
    st.sampled_from(ZONES),
    st.lists(groups(), min_size=1, max_size=4),
    st.lists(st.dates(min_value=date(2025, 6, 1), max_value=date(2028, 6, 1)), max_size=20),
) | st.sampled_from([OFFICE, BERLIN, SUNDAY_NIGHT, SKIPPED_HOUR])

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def weekly_seconds(calendar: BusinessHours) -> int:
    return sum(end - start for day in calendar.weekly for start, end in day) * 60


@PROPERTY
@given(calendar=calendars, start=instants, data=st.data())
def test_add_is_the_first_instant_with_that_many_counted_seconds(calendar, start, data):
    """seconds_between(s, add(s, n)) == n, and every earlier instant has counted fewer."""
    seconds = data.draw(st.integers(0, weekly_seconds(calendar) * 8), label="seconds")
    due = calendar.add(start, seconds)
    assert due >= start
    assert calendar.seconds_between(start, due) == seconds
    if seconds:
        # The last counted second is the one just before the due instant.
        assert calendar.seconds_between(start, due - timedelta(microseconds=1)) == seconds - 1
        earlier = data.draw(st.datetimes(min_value=start.replace(tzinfo=None), max_value=due.replace(tzinfo=None)
                                         - timedelta(microseconds=1), timezones=st.just(UTC)), label="earlier")
        assert calendar.seconds_between(start, earlier) < seconds
    else:
        assert due == start


@PROPERTY
@given(calendar=calendars | st.just(ALWAYS), points=st.lists(instants, min_size=3, max_size=3))
def test_seconds_between_is_additive(calendar, points):
    """sb(a, b) + sb(b, c) == sb(a, c) for a <= b <= c: a clock can be summed segment by segment."""
    a, b, c = sorted(points)
    assert calendar.seconds_between(a, b) + calendar.seconds_between(b, c) == calendar.seconds_between(a, c)
    assert calendar.seconds_between(c, a) == 0


@PROPERTY
@given(calendar=calendars, moment=instants)
def test_a_second_counts_when_its_local_wall_clock_time_is_in_a_window(calendar, moment):
    """Checked against a plain reading of the settings: the second's local date is no holiday and its
    local time lies in one of that weekday's windows (a repeated local time is ambiguous: skipped)."""
    second = moment.replace(microsecond=0)
    local = second.astimezone(ZoneInfo(calendar.timezone))
    assume(local.replace(fold=1 - local.fold).utcoffset() == local.utcoffset())
    of_day = local.hour * HOUR + local.minute * MINUTE + local.second
    inside = local.date() not in calendar.holidays and any(
        start * 60 <= of_day < end * 60 for start, end in calendar.weekly[local.weekday()])
    assert calendar.seconds_between(second, second + timedelta(seconds=1)) == int(inside)


@pytest.mark.parametrize("setting, value", [("SLA_TIMEZONE", "Mars/Olympus"),
                                            ("SLA_BUSINESS_HOURS", "Mon-Fri 25:00-17:00"),
                                            ("SLA_HOLIDAYS", "2026-13-01")])
def test_a_bad_calendar_setting_stops_the_app_from_starting(setting, value):
    """Refused at start-up with the value named, not a 500 on every incident page later."""
    from app import create_app
    with pytest.raises(RuntimeError, match="SLA calendar settings") as refused:
        create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", **{setting: value})
    assert value in str(refused.value)
