"""app/times.py: the one way the portal writes a moment, for machines and for people."""
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.times import exact_utc_text, human_text, utc_text

MOMENT = datetime(2026, 12, 3, 18, 35, 5, 999_999, tzinfo=UTC)


@pytest.mark.parametrize("moment", [
    MOMENT,
    MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30))),  # the same instant, elsewhere
    MOMENT.astimezone(timezone(timedelta(hours=-8))),
    MOMENT.replace(tzinfo=None),  # naive: stored times are UTC
])
def test_every_form_of_one_instant_is_written_the_same(moment):
    assert utc_text(moment) == "2026-12-03T18:35:05Z"  # seconds cut, never rounded up
    assert human_text(moment) == "2026-12-03 18:35 UTC"
    assert human_text(moment, seconds=True) == "2026-12-03 18:35:05 UTC"


def test_an_offset_that_crosses_midnight_moves_the_date():
    late = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert utc_text(late) == "2027-01-01T01:30:00Z"
    assert human_text(late) == "2027-01-01 01:30 UTC"


def test_whole_seconds_and_early_years_keep_the_full_shape():
    assert utc_text(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert utc_text(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00Z"


def test_the_exact_form_keeps_what_is_stored():
    assert exact_utc_text(MOMENT) == "2026-12-03T18:35:05.999999Z"
    assert exact_utc_text(MOMENT.astimezone(timezone(timedelta(hours=-8)))) == "2026-12-03T18:35:05.999999Z"
    assert exact_utc_text(MOMENT.replace(microsecond=0)) == "2026-12-03T18:35:05Z"
