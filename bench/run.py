"""`make bench`: the portal under wrk at each dataset size, beside a minimal Flask baseline.

    BENCH_SIZES=1k,100k,1M  datasets (built once under bench/data/, then reused)
    BENCH_DURATION=5        seconds per wrk run (the first run of an endpoint warms up for a third of it)
    BENCH_ROUNDS=3          runs per endpoint and size, interleaved; the table shows their medians
    BENCH_ENDPOINTS=        only these endpoint keys, comma-separated (all when empty)
    BENCH_DOWNLOAD_ROUNDS=1 whole downloads of the export per size (a million rows take minutes)
    BENCH_DATABASE=sqlite   or `postgresql` (`make bench-pg`): the same datasets on PostgreSQL
                            (bench/postgres.py); its results go to bench/results/postgresql/

Every endpoint is driven by wrk, except the export of every incident: one whole download per
round (bench/stream.py), with the serving worker's memory. Writes bench/results/results.json,
results.md and chart.png; server logs go to bench/results/raw/."""
import os
import platform
import runpy
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import datasets, postgres, report, scenarios, server, stream, wrk

RAW = report.RESULTS / "raw"
LOCKED = "database is locked"


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal"))
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024),
            "os": platform.platform(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "database": f"SQLite {sqlite3.sqlite_version}",
            "wrk": wrk_version.strip(), "load_before": _load(), "load_after": None}


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _gunicorn_settings() -> str:
    """workers x threads and worker recycling, as gunicorn.conf.py reads them from this environment."""
    conf = runpy.run_path(str(datasets.ROOT / "gunicorn.conf.py"))
    return (f"{conf['workers']} workers x {conf['threads']} threads ({conf['worker_class']}), "
            f"max_requests {conf['max_requests']}")


def _measure(base: str, load: wrk.Load, *, seconds: float, warmup: float, connections: int) -> wrk.Measure:
    if warmup:
        wrk.run(base, load, seconds=warmup, connections=connections)
    return wrk.run(base, load, seconds=seconds, connections=connections)


@dataclass
class Site:
    """The portal serving one dataset size, the endpoints measured on it, and each one's rounds."""

    size: int
    label: str
    served: server.Served
    database: Path
    log: Path
    endpoints: dict[str, scenarios.Endpoint]
    rounds: dict[str, list[dict]] = field(default_factory=dict)
    streams: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.served.base


def _round(base: str, load: wrk.Load, *, seconds: float, warmup: float, log: Path | None = None,
           connections: int = wrk.CONNECTIONS) -> dict:
    """One wrk run (after a warm-up, if any) as a dict, with the server log's new "locked" lines."""
    locked_before = server.count_in_log(log, LOCKED) if log else 0
    result = _measure(base, load, seconds=seconds, warmup=warmup, connections=connections)
    locked = server.count_in_log(log, LOCKED) - locked_before if log else 0
    return {**asdict(result), "non_2xx": result.non_2xx, "database_locked": locked}


def together(base: str, endpoint: scenarios.Endpoint, *, seconds: float, log: Path | None = None) -> tuple[dict, dict]:
    """`endpoint` and the endpoint measured alongside it, run at the same time for the same
    seconds (two wrk processes): (its round, the other's round). The server log's "locked" lines
    are counted once, on the first."""
    partner = endpoint.alongside
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(_round, base, endpoint.load, seconds=seconds, warmup=0, log=log,
                            connections=endpoint.connections or wrk.CONNECTIONS)
        second = pool.submit(_round, base, partner.load, seconds=seconds, warmup=0,
                             connections=partner.connections or wrk.CONNECTIONS)
        return first.result(), second.result()


def _stream_round(site: Site, endpoint: scenarios.Endpoint) -> dict:
    """One whole download of `endpoint` from `site`, its gunicorn workers watched meanwhile; every
    row the database holds is expected (the admin sees them all, and no write has run yet)."""
    expected = datasets.count_incidents(site.database)
    return stream.as_dict(stream.measure(site.base, endpoint.load, pids=site.served.workers, expected_rows=expected))


def combine(rounds: list[dict]) -> dict:
    """Several rounds of one measurement: the median rate and latencies (a noisy neighbour spoils a
    round, not the figure), the worst maximum, and every request, status and error counted."""
    statuses: dict[str, int] = {}
    for one in rounds:
        for status, n in one["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    medians = {name: round(statistics.median(one[name] for one in rounds), 2)
               for name in ("rps", "p50_ms", "p90_ms", "p99_ms")}
    sums = {name: sum(one[name] for one in rounds)
            for name in ("requests", "socket_errors", "non_2xx", "database_locked")}
    return {**medians, **sums, "seconds": round(sum(one["seconds"] for one in rounds), 2),
            "max_ms": max(one["max_ms"] for one in rounds), "statuses": statuses,
            "rounds": [{"rps": one["rps"], "p99_ms": one["p99_ms"]} for one in rounds]}


def bench(sizes: list[int], *, seconds: float, warmup: float, rounds: int, only: set[str],
          download_rounds: int = 1, postgres_server: str | None = None) -> list[dict]:
    """Every size served at once, each endpoint measured on every size in turn, `rounds` times:
    a busy neighbour on a shared machine weighs on all sizes alike, and medians drop its spikes.
    The baseline runs at the start of every round and once more at the end."""
    with ExitStack() as stack:
        sites = []
        for size in sizes:
            label = datasets.label(size)
            work = datasets.working_copy(datasets.ensure(size, log=_log, postgres_server=postgres_server))
            stack.callback(datasets.discard, work)
            log = RAW / f"portal-{label}{'-postgresql' if postgres_server else ''}.log"
            served = stack.enter_context(server.serving("run:app", log=log, database=work))
            endpoints = {e.key: e for e in scenarios.endpoints(served.base, work) if not only or e.key in only}
            sites.append(Site(size, label, served, work, log, endpoints))
        baseline_url = stack.enter_context(server.serving("bench.baseline_app:app", log=RAW / "baseline.log",
                                                          ready_path="/")).base
        baseline_rounds = []
        endpoints = sites[0].endpoints
        reads = [k for k in endpoints if not endpoints[k].write and not endpoints[k].stream]
        downloads = [k for k in endpoints if endpoints[k].stream]
        writes = [k for k in endpoints if endpoints[k].write]
        # Every read round before any write: the writes add rows the reads would then see.
        for group in (reads, downloads, writes):
            for number in range(download_rounds if group is downloads else rounds):
                if group is reads and reads:
                    _log(f"baseline, round {number + 1}")
                    baseline_rounds.append(_round(baseline_url, wrk.Load(["/"]), seconds=seconds,
                                                  warmup=warmup if number == 0 else 0))
                for key in group:
                    for site in sites:
                        if group is downloads:
                            one = _stream_round(site, site.endpoints[key])
                            site.streams.setdefault(key, []).append(one)
                            _log(f"{site.label}: {endpoints[key].title} (round {number + 1}): {one['rows']:,} rows "
                                 f"in {one['seconds']:.1f} s ({one['rows_per_s']:,.0f} rows/s), worker RSS "
                                 f"{one['rss_before_mb']} -> {one['peak_rss_mb']} MB")
                            continue
                        # Warm up once; a write's warm-up would only add rows, so writes start cold.
                        warm = warmup if number == 0 and not endpoints[key].write else 0
                        endpoint = site.endpoints[key]
                        if endpoint.alongside:
                            one, other = together(site.base, endpoint, seconds=max(seconds, endpoint.min_seconds),
                                                  log=site.log)
                            site.rounds.setdefault(key, [])  # the row first, its reads after it
                            site.rounds.setdefault(endpoint.alongside.key, []).append(other)
                            _log(f"{site.label}: {endpoint.alongside.title} (round {number + 1}): "
                                 f"{other['rps']:,.0f} req/s, p99 {other['p99_ms']:.1f} ms, non-2xx {other['non_2xx']}")
                        else:
                            one = _round(site.base, endpoint.load, seconds=max(seconds, endpoint.min_seconds),
                                         warmup=warm, log=site.log, connections=endpoint.connections or wrk.CONNECTIONS)
                        site.rounds.setdefault(key, []).append(one)
                        _log(f"{site.label}: {endpoints[key].title} (round {number + 1}): {one['rps']:,.0f} req/s, "
                             f"p50 {one['p50_ms']:.1f} ms, p99 {one['p99_ms']:.1f} ms, non-2xx {one['non_2xx']}")
        _log("baseline, last round")
        baseline_rounds.append(_round(baseline_url, wrk.Load(["/"]), seconds=seconds, warmup=0))
    baseline = combine(baseline_rounds)
    runs = []
    for site in sites:
        rows = []
        partners = {e.alongside.key: e.alongside for e in site.endpoints.values() if e.alongside}
        for key, measured in site.rounds.items():
            endpoint = site.endpoints.get(key) or partners[key]
            row = {"key": key, "title": endpoint.title, "method": endpoint.load.method,
                   "path": endpoint.load.paths[0], "connections": endpoint.connections or wrk.CONNECTIONS,
                   "min_seconds": endpoint.min_seconds, **combine(measured)}
            row["baseline_ratio"] = round(row["rps"] / baseline["rps"], 3)
            rows.append(row)
        downloads = [{"key": key, "title": site.endpoints[key].title, "path": site.endpoints[key].load.paths[0],
                      **stream.combine(measured)} for key, measured in site.streams.items()]
        runs.append({"size": site.size, "label": site.label, "baseline": baseline, "endpoints": rows,
                     "streams": downloads, "tracebacks": server.count_in_log(site.log, "Traceback")})
    return runs


def main() -> int:
    """Run every size, then write the results."""
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk: apt-get install wrk")
    sizes = [datasets.parse_size(text) for text in os.environ.get("BENCH_SIZES", "1k,100k,1M").split(",")]
    seconds = float(os.environ.get("BENCH_DURATION", "5"))
    rounds = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))
    download_rounds = max(1, int(os.environ.get("BENCH_DOWNLOAD_ROUNDS", "1")))
    warmup = float(os.environ.get("BENCH_WARMUP", min(3.0, seconds / 3)))
    only = {key.strip() for key in os.environ.get("BENCH_ENDPOINTS", "").split(",") if key.strip()}
    on_postgres = os.environ.get("BENCH_DATABASE", "sqlite").lower() in ("postgresql", "postgres")
    with postgres.server() if on_postgres else nullcontext() as postgres_server:
        results = {
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine() | ({"database": f"PostgreSQL {postgres.version(postgres_server)} (default settings)"}
                                    if on_postgres else {}),
            "settings": {"duration_s": seconds, "warmup_s": warmup, "rounds": rounds,
                         "download_rounds": download_rounds, "wrk_threads": wrk.THREADS,
                         "wrk_connections": wrk.CONNECTIONS, "gunicorn": _gunicorn_settings()},
            "runs": bench(sorted(sizes), seconds=seconds, warmup=warmup, rounds=rounds, only=only,
                          download_rounds=download_rounds, postgres_server=postgres_server),
        }
    results["machine"]["load_after"] = _load()
    paths = report.write(results, report.RESULTS / "postgresql" if on_postgres else report.RESULTS)
    print(paths["md"].read_text(encoding="utf-8"))
    _log("wrote " + ", ".join(str(path.relative_to(datasets.ROOT)) for path in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
