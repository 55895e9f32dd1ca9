"""kill -9 in the middle of writes, several times over, on one SQLite file: after each crash the
file passes PRAGMA integrity_check, no incident lacks its `created` event or its created mail,
versions equal the changes in each timeline, the tallies agree, and every write the server had
acknowledged is there; the server then starts on the crashed file and takes writes again.
The trials themselves live in tests/load/crash.py (`scripts/crash-trial N` runs more)."""
import pytest

from tests.load.crash import run_trials
from tests.load.report import report

pytestmark = [pytest.mark.live, pytest.mark.sqlite_only]

TRIALS = 4


def test_kill_9_in_the_middle_of_writes_loses_nothing_acknowledged(request, tmp_path, db_path):
    """Even trials kill master and workers at once; odd ones kill the workers first (the master
    replaces them and writing resumes), then everything."""
    results = run_trials(f"sqlite:///{db_path}", tmp_path, trials=TRIALS, seed_value=20261127,
                         say=lambda line: report(request, line))
    assert len(results) == TRIALS
    assert all(trial.in_flight_at_kill > 0 for trial in results), [t.in_flight_at_kill for t in results]
    assert results[-1].figures.incidents > results[0].figures.incidents
