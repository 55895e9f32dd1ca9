"""`make bench`'s own moving parts, in seconds rather than minutes: every endpoint load the harness
builds (tokens from POST /auth/tokens, a session from the CSRF-protected login form, the deep page's
cursor, the Lua write loads) is driven by the real wrk against a live server and answers only 2xx;
the export of every incident is measured as one whole download, rows counted and the server's
memory watched; and the report turns results into the tables, the verdict on each target and the chart.

The benchmark runs on SQLite files (bench/data/), so the tests that serve it do too; `make bench-pg`'s
datasets (bench/postgres.py) are checked on the database of the run."""
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import create_engine, make_url
from sqlalchemy import text as sql_text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db
from bench import datasets, memory, report, scenarios, stream, wrk
from bench import postgres as bench_postgres
from bench import server as bench_server_module
from bench.run import combine, together
from seed.loader import seed_incidents, seed_users
from tests import postgres as test_postgres
from tests.api_helpers import live_server
from tests.perf_helpers import load


@pytest.fixture(scope="module")
def bench_server(tmp_path_factory, schema_template):
    """Demo users and 600 generated incidents, CSRF and the caches on as in production, on 127.0.0.1:
    yields (base URL, database file, the endpoints make bench would measure)."""
    path = tmp_path_factory.mktemp("bench") / "portal.db"
    shutil.copy(schema_template, path)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", WTF_CSRF_ENABLED=True,
                     RESPONSE_CACHE_SECONDS=1.0)
    with app.app_context():
        seed_users()
        seed_incidents()
        load(600)
        with live_server(app) as base:
            yield base, path, {endpoint.key: endpoint for endpoint in scenarios.endpoints(base, path)}
        db.session.remove()
        db.engine.dispose()


@pytest.mark.sqlite_only
def test_the_cursor_reaches_the_deep_page_rows(bench_server):
    """The cursor endpoint reads the very rows of the deep OFFSET page, so the two compare
    (checked before the write loads below add incidents)."""
    base, _, endpoints = bench_server

    def ids(load: wrk.Load) -> list[int]:
        answer = requests.get(base + load.paths[0], headers=load.headers, timeout=30)
        return [item["id"] for item in answer.json()["items"]]

    assert ids(endpoints["deep_cursor"].load) == ids(endpoints["deep_page"].load) != []


KEYS = ["list", "deep_page", "deep_cursor", "filter_status_severity", "filter_technician_me", "search",
        "search_phrase", "detail", "html_list", "html_detail", "dashboard", "summary", "summary_by_priority",
        *(key + scenarios.COMPUTED for key in scenarios.COMPUTED_TOO), "export_csv", "export_csv_ui", "create",
        "transition", "mixed"]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("key", KEYS)
def test_every_endpoint_load_gets_only_2xx(bench_server, key):
    """Two seconds of wrk, 4 connections: requests flow and none is refused (writes included:
    unique creates; reassignments that are valid in whatever order they arrive). Four, not make
    bench's 16: on a busy CI machine 16 parallel dashboards on the one-process test server took
    over a second each, so a one-second run could end before the first answer."""
    base, _, endpoints = bench_server
    result = wrk.run(base, endpoints[key].load, seconds=2, connections=4)
    assert result.requests > 0 and result.socket_errors == 0
    assert result.non_2xx == 0, result.statuses


@pytest.mark.sqlite_only
def test_the_harness_measures_every_endpoint_listed(bench_server):
    """The table's rows are exactly these, reads before writes (writes change what reads see); the
    export alone is measured as one whole download."""
    _, _, endpoints = bench_server
    assert list(endpoints) == KEYS
    assert [e.write for e in endpoints.values()] == [False] * (len(KEYS) - 3) + [True] * 3
    assert [key for key, e in endpoints.items() if e.alongside] == ["mixed"]
    assert [key for key, e in endpoints.items() if e.stream] == ["export_csv", "export_csv_ui"]


@pytest.mark.sqlite_only
def test_the_mixed_run_measures_creates_and_reads_at_the_same_time(bench_server):
    """Two wrk processes at once: creates on their connections, computed list / detail / search
    reads on theirs; each a row of its own, both only 2xx, and the creates land while the reads run
    (their rounds overlap in time and both reached the server)."""
    base, path, endpoints = bench_server
    mixed = endpoints["mixed"]
    assert mixed.alongside.key == "mixed_reads"
    assert mixed.alongside.load.headers["Cache-Control"] == "no-cache"
    paths = mixed.alongside.load.paths
    assert "/incidents/" in paths and any("?q=" in p for p in paths)
    assert any(p.removeprefix("/incidents/").isdigit() for p in paths)
    before = datasets.count_incidents(path)
    started = time.monotonic()
    creates, reads = together(base, mixed, seconds=2)
    assert time.monotonic() - started < 2 * 2 + 10  # at once, not one after the other (2 s each)
    for one in (creates, reads):
        assert one["requests"] > 0 and one["socket_errors"] == 0 and one["non_2xx"] == 0, one["statuses"]
    assert _settled_count(path) - before >= creates["requests"]


def _settled_count(path, quiet_seconds: float = 1.0) -> int:
    """The number of incidents once no write has landed for `quiet_seconds`: a create the write loads
    above sent just before wrk stopped can still be committed by the busy server after wrk exits."""
    count = datasets.count_incidents(path)
    while True:
        time.sleep(quiet_seconds)
        now = datasets.count_incidents(path)
        if now == count:
            return count
        count = now


@pytest.mark.sqlite_only
@pytest.mark.parametrize("key", ["export_csv", "export_csv_ui"])
def test_the_export_is_measured_whole_with_the_server_memory(bench_server, key):
    """One download of every incident (by token, and by the browser's session): the rows counted are
    the rows the csv module reads back and the rows the database holds; times, rates and the serving
    process's memory are filled in; a count short of the database's is not complete."""
    base, path, endpoints = bench_server
    load = endpoints[key].load
    expected = _settled_count(path)
    result = stream.measure(base, load, pids=lambda: [os.getpid()], expected_rows=expected)
    body = requests.get(base + load.paths[0], headers=load.headers | {"User-Agent": scenarios.USER_AGENT},
                        timeout=60)
    parsed = list(csv.reader(io.StringIO(body.content.decode("utf-8"), newline="")))
    assert parsed[0][:2] == ["id", "reference"]
    assert result.complete and result.status == 200 and result.rows == len(parsed) - 1 == expected >= 606
    assert abs(result.bytes - len(body.content)) < len(body.content) // 100  # clock states may move meanwhile
    assert 0 < result.first_byte_s <= result.seconds
    assert result.rows_per_s == pytest.approx(result.rows / result.seconds, rel=0.05)  # seconds: to the ms
    assert result.processes == 1 and result.rss_exact and 0 < result.rss_before_mb <= result.peak_rss_mb
    short = stream.measure(base, load, pids=lambda: [os.getpid()], expected_rows=expected + 1)
    assert not short.complete


def test_the_memory_watch_sees_a_peak_between_samples():
    """A process that grows by 200 MB for an instant and shrinks again, never sampled (VmRSS every
    10 s): its peak after the reset still shows it, and it is the busiest of the processes watched."""
    grow = "import sys; sys.stdin.readline(); block = b'x' * (200 << 20); del block; print('done', flush=True); " \
           "sys.stdin.readline()"
    grower = subprocess.Popen([sys.executable, "-c", grow], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    idle = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE,
                            text=True)
    try:
        assert {grower.pid, idle.pid} <= set(memory.children(os.getpid()))
        before = memory.status_kb(grower.pid, "VmRSS")
        with memory.Watch([grower.pid, idle.pid], every=10.0) as watch:
            grower.stdin.write("go\n")
            grower.stdin.flush()
            assert grower.stdout.readline() == "done\n"
            assert memory.status_kb(grower.pid, "VmRSS") < before + 100 * 1024  # gone again by the end
        busiest = watch.busiest()
        assert busiest.pid == grower.pid and busiest.exact and busiest.growth_kb >= 190 * 1024
        assert watch.usage[idle.pid].growth_kb < 10 * 1024
    finally:
        for process in (grower, idle):
            process.kill()
            process.wait()


def test_each_computed_twin_asks_the_same_requests_for_a_fresh_answer(bench_server):
    """A `_computed` row measures the same paths as its cached row, as the same user, with no-cache."""
    _, _, endpoints = bench_server
    for key in scenarios.COMPUTED_TOO:
        cached, computed = endpoints[key].load, endpoints[key + scenarios.COMPUTED].load
        assert computed.paths == cached.paths and computed.method == cached.method == "GET"
        assert computed.headers == cached.headers | {"Cache-Control": "no-cache"}


def _result(rps: float, p99: float, **extra) -> dict:
    return {"requests": int(rps * 10), "seconds": 10.0, "rps": rps, "p50_ms": p99 / 3, "p90_ms": p99 / 2,
            "p99_ms": p99, "max_ms": p99 * 2, "statuses": {"200": int(rps * 10)}, "socket_errors": 0,
            "non_2xx": 0, **extra}


def _run(label: str, size: int, baseline: float, endpoints: dict, downloads: list | None = None) -> dict:
    rows = [{"key": key, "title": key.title(), "method": "GET", "path": "/", "baseline_ratio": rps / baseline,
             "database_locked": locked, **_result(rps, p99)} for key, (rps, p99, locked) in endpoints.items()]
    return {"size": size, "label": label, "baseline": _result(baseline, 20), "endpoints": rows,
            "streams": downloads or [], "tracebacks": 0}


def _download(rows: int, expected: int, seconds: float, before: float, peak: float) -> dict:
    size = rows * 200
    return {"key": "export_csv", "title": "Export", "path": "/incidents/export.csv", "rows": rows,
            "expected_rows": expected, "bytes": size, "seconds": seconds, "first_byte_s": 0.05,
            "rows_per_s": rows / seconds, "mb_per_s": size / 2**20 / seconds, "complete": rows == expected,
            "rss_before_mb": before, "peak_rss_mb": peak, "growth_mb": peak - before, "rss_exact": True,
            "rounds": []}


def test_the_report_writes_the_table_the_targets_and_the_chart(tmp_path):
    """results.json round-trips, the markdown has a row per endpoint and says which targets were
    missed (and by what figure), and chart.png is a PNG."""
    results = {
        "generated_at": "2026-01-01 00:00 UTC",
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 8, "os": "Linux", "python": "3.11",
                    "sqlite": "3.40.1", "wrk": "wrk 4.1.0", "load_before": "0.1", "load_after": "0.2"},
        "settings": {"duration_s": 10.0, "warmup_s": 3.0, "wrk_threads": 2, "wrk_connections": 16,
                     "gunicorn": "2 workers x 4 threads"},
        "runs": [
            _run("1k", 1_000, 1_000, {"list": (600, 30, 0), "search": (500, 40, 0), "create": (100, 200, 0)},
                 [_download(1_000, 1_000, 0.1, 90, 95)]),
            _run("1M", 1_000_000, 1_000, {"list": (400, 50, 0), "search": (300, 150, 0), "create": (90, 250, 2)},
                 [_download(999_990, 1_000_000, 40, 100, 400)]),
        ],
    }
    # A slow row run by one client for at least 15 s, which at 1M answered nothing in a whole run.
    for run, rps in zip(results["runs"], (50, 0), strict=True):
        run["endpoints"].insert(2, {"key": "summary", "title": "Summary", "method": "GET", "path": "/",
                                    "baseline_ratio": rps / 1000, "database_locked": 0, "connections": 1,
                                    "min_seconds": 15.0, **_result(rps, 8730 if rps == 0 else 40)})
    paths = report.write(results, tmp_path)
    assert json.loads(paths["json"].read_text()) == results
    table = paths["md"].read_text()
    assert "| List | 600 | 400 |" in table and "| -33% |" in table
    assert "| Summary | 50 | 0 | – | 40.0 | > 8,730 (none answered) |" in table
    assert "(rows that name their clients ran wrk with that many connections, for at least 15 s)" in table
    verdicts = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1] for line in table.splitlines()
                if line.startswith("| ") and line.count(" | ") == 2}
    assert verdicts["list at 1M: within 20% of 1k"] == "**no**"
    assert verdicts["list at 1M: ≥ 50% of the baseline's req/s"] == "**no**"
    assert verdicts["search at 1M: p99 < 100 ms"] == "**no**"
    assert verdicts["create at 1k: zero errors, zero 'database is locked'"] == "yes"
    assert verdicts["create at 1M: zero errors, zero 'database is locked'"] == "**no**"
    assert verdicts["export_csv at 1k: HTTP 200 and every row"] == "yes"
    assert verdicts["export_csv at 1M: HTTP 200 and every row"] == "**no**"
    assert verdicts["export_csv at 1M: the serving worker grows ≤ 64 MB"] == "**no**"
    assert "| Export | 1M | 999,990 | 40.0 | 0.05 | 25,000 | 4.8 | 190.7 | 100 → 400 (+300) |" in table
    assert "| Export | 1k | 1,000 | 0.1 |" in table
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rounds_combine_into_medians_and_totals():
    """A spoiled round moves no figure (medians); every request and every error still counts."""
    def one(rps, p99, non_2xx=0, locked=0):
        return _result(rps, p99) | {"non_2xx": non_2xx, "database_locked": locked,
                                    "statuses": {"200": int(rps * 10) - non_2xx, "409": non_2xx}}

    merged = combine([one(300, 40), one(40, 900, non_2xx=3), one(310, 45, locked=1)])
    assert (merged["rps"], merged["p99_ms"]) == (300, 45)
    assert merged["requests"] == 6500 and merged["non_2xx"] == 3 and merged["database_locked"] == 1
    assert merged["statuses"] == {"200": 6497, "409": 3} and merged["max_ms"] == 1800
    assert [r["rps"] for r in merged["rounds"]] == [300, 40, 310]


def test_downloads_combine_into_medians_and_the_worst_memory():
    """Median times and rates; the memory of the round that grew most; complete only if every round was."""
    def one(seconds, growth, rows=1000):
        return stream.as_dict(stream.StreamMeasure(
            status=200, rows=rows, bytes=rows * 100, seconds=seconds, first_byte_s=seconds / 10,
            rows_per_s=rows / seconds, mb_per_s=rows * 100 / 2**20 / seconds, expected_rows=1000,
            rss_before_mb=80.0, peak_rss_mb=80.0 + growth, rss_exact=True, processes=2))

    merged = stream.combine([one(2.0, 5), one(9.0, 40), one(2.2, 3, rows=999)])
    assert (merged["seconds"], merged["first_byte_s"]) == (2.2, 0.22)
    assert merged["rows_per_s"] == round(statistics.median([500, 1000 / 9, 999 / 2.2]), 3)
    assert (merged["growth_mb"], merged["peak_rss_mb"], merged["rss_before_mb"]) == (40, 120, 80)
    assert merged["rows"] == 999 and merged["complete"] is False
    assert [r["seconds"] for r in merged["rounds"]] == [2.0, 9.0, 2.2]


def test_issue_19s_targets_are_judged_on_the_computed_rows_of_the_largest_size():
    """Each computed row against its own bar (a share of the baseline, a p99 budget), the export's
    rate and peak memory, and creates per second: met and missed, each on its own figure."""
    small = _run("1k", 1_000, 1_000, {"list_computed": (100, 5, 0)})
    large = _run("1M", 1_000_000, 1_000, {
        "list_computed": (500, 40, 0), "deep_cursor_computed": (499, 40, 0), "detail_computed": (700, 20, 0),
        "html_list_computed": (300, 99, 0), "html_detail_computed": (310, 100, 0),
        "search_phrase_computed": (200, 99.9, 0), "dashboard_computed": (50, 100.5, 0),
        "summary_computed": (5, 250, 0), "create": (300, 900, 0), "mixed": (60, 400, 0),
        "mixed_reads": (540, 99, 0)},
        [_download(1_000_000, 1_000_000, 9.9, 90, 149), _download(1_000_000, 1_000_000, 10.1, 90, 150)])
    large["streams"][1]["key"] = "export_csv_ui"
    verdicts = {name: (met, figure) for name, met, figure in report.computed_targets({"runs": [small, large]})}
    assert verdicts["list_computed at 1M: ≥ 50% of the baseline's req/s"] == (True, "50%")
    assert verdicts["deep_cursor_computed at 1M: ≥ 50% of the baseline's req/s"][0] is False
    assert verdicts["detail_computed at 1M: ≥ 50% of the baseline's req/s"][0] is True
    assert verdicts["html_list_computed at 1M: ≥ 30% of the baseline's req/s"][0] is True
    assert verdicts["html_list_computed at 1M: p99 < 100 ms"] == (True, "99.0 ms")
    assert verdicts["html_detail_computed at 1M: p99 < 100 ms"][0] is False
    assert verdicts["search_phrase_computed at 1M: p99 < 100 ms"][0] is True
    assert verdicts["dashboard_computed at 1M: p99 < 100 ms"][0] is False
    assert verdicts["summary_computed at 1M: p99 < 300 ms"][0] is True
    assert verdicts["export_csv at 1M: ≥ 100,000 rows/s"] == (True, "101,010 rows/s")
    assert verdicts["export_csv_ui at 1M: ≥ 100,000 rows/s"][0] is False
    assert verdicts["export_csv at 1M: worker peak RSS < 150 MB"][0] is True
    assert verdicts["export_csv_ui at 1M: worker peak RSS < 150 MB"][0] is False
    assert verdicts["create at 1M: ≥ 300 per second with zero errors"] == (True, "300/s")
    assert verdicts["mixed_reads at 1M, while creates run: ≥ 50% of the baseline's req/s"] == (
        True, "54% (creates were 10% of the requests)")
    assert verdicts["mixed_reads at 1M, while creates run: p99 < 100 ms"] == (True, "99.0 ms")
    assert not any(name.startswith("search_computed") for name in verdicts)  # no row, no verdict
    create = next(row for row in large["endpoints"] if row["key"] == "create")
    create["non_2xx"] = 1
    reads = next(row for row in large["endpoints"] if row["key"] == "mixed_reads")
    reads.update(p99_ms=100.0, baseline_ratio=0.49)
    again = {name: met for name, met, _ in report.computed_targets({"runs": [small, large]})}
    assert again["create at 1M: ≥ 300 per second with zero errors"] is False
    assert again["mixed_reads at 1M, while creates run: p99 < 100 ms"] is False
    assert again["mixed_reads at 1M, while creates run: ≥ 50% of the baseline's req/s"] is False


def test_a_dataset_is_built_once_then_copied_for_each_run_on_either_database(tmp_path, monkeypatch):
    """`make bench`'s datasets on the database this run uses: a file under bench/data/ on SQLite, a
    database on the server for `make bench-pg` (bench/postgres.py) on PostgreSQL, its run copy made
    from it as a template. Built once (a second `ensure` reuses it), counted, read for the ids the
    loads ask for, served by URL; the run's writes stay in the copy, which is dropped afterwards."""
    monkeypatch.setattr(datasets, "DATA", tmp_path)
    monkeypatch.setattr(bench_postgres, "FOLDER", tmp_path)
    server = (make_url(test_postgres.TEST_DATABASE_URL).set(database="").render_as_string(hide_password=False)
              .rstrip("/") if test_postgres.ENABLED else None)
    built, fill = [], datasets.fill
    monkeypatch.setattr(datasets, "fill", lambda size, database: (built.append(database), fill(size, database)))
    pristine = datasets.ensure(20, postgres_server=server)
    assert datasets.ensure(20, postgres_server=server) == pristine and len(built) == 1
    assert isinstance(pristine, bench_postgres.Database) == test_postgres.ENABLED
    copy = datasets.working_copy(pristine)
    try:
        assert copy != pristine and datasets.count_incidents(copy) == 20
        facts = scenarios.database_facts(copy)
        assert len(facts["movers"]) == 2 and 0 < len(facts["detail_ids"]) <= 20 and max(facts["detail_ids"]) <= 20
        assert bench_server_module.environment(copy)["DATABASE_URL"] == datasets.url_of(copy)
        engine = create_engine(datasets.url_of(copy))
        with engine.begin() as connection:
            connection.execute(sql_text("UPDATE incidents SET title = 'written by the run'"))
        engine.dispose()
    finally:
        datasets.discard(copy)
    engine = create_engine(datasets.url_of(pristine))
    with engine.connect() as connection:
        assert connection.execute(sql_text("SELECT count(*) FROM incidents WHERE title = 'written by the run'")
                                  ).scalar_one() == 0
    engine.dispose()
    if test_postgres.ENABLED:
        with pytest.raises(OperationalError):
            create_engine(datasets.url_of(copy)).connect()
        bench_postgres.discard(pristine)
    else:
        assert not copy.exists()
