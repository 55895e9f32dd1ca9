"""`make bench`: the portal under wrk at each dataset size, beside a minimal Flask baseline.

    BENCH_SIZES=1k,100k,1M  datasets (built once under bench/data/, then reused)
    BENCH_DURATION=10       seconds per endpoint (plus a warm-up of a third of it, at most 3 s)
    BENCH_ENDPOINTS=        only these endpoint keys, comma-separated (all when empty)

Writes bench/results/results.json, results.md and chart.png; server logs go to bench/results/raw/."""
import os
import platform
import runpy
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import datasets, report, scenarios, server, wrk

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
            "wrk": wrk_version.strip(), "load_before": _load(), "load_after": None}


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _gunicorn_settings() -> str:
    """workers x threads and worker recycling, as gunicorn.conf.py reads them from this environment."""
    conf = runpy.run_path(str(datasets.ROOT / "gunicorn.conf.py"))
    return (f"{conf['workers']} workers x {conf['threads']} threads ({conf['worker_class']}), "
            f"max_requests {conf['max_requests']}")


def _measure(base: str, load: wrk.Load, *, seconds: float, warmup: float) -> wrk.Measure:
    if warmup:
        wrk.run(base, load, seconds=warmup)
    return wrk.run(base, load, seconds=seconds)


@dataclass
class Site:
    """The portal serving one dataset size, and the endpoints measured on it."""

    size: int
    label: str
    base: str
    log: Path
    endpoints: dict[str, scenarios.Endpoint]
    rows: list[dict] = field(default_factory=list)


def _baseline(base: str, *, seconds: float, warmup: float) -> wrk.Measure:
    return _measure(base, wrk.Load(["/"]), seconds=seconds, warmup=warmup)


def _mean(first: wrk.Measure, second: wrk.Measure) -> dict:
    """The baseline the ratios use: the mean of the runs before and after, both kept beside it."""
    averaged = {name: round((getattr(first, name) + getattr(second, name)) / 2, 2)
                for name in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms")}
    return {**asdict(second), **averaged, "requests": first.requests + second.requests,
            "non_2xx": first.non_2xx + second.non_2xx, "before": asdict(first), "after": asdict(second)}


def _measure_on(site: Site, endpoint: scenarios.Endpoint, *, seconds: float, warmup: float) -> dict:
    locked_before = server.count_in_log(site.log, LOCKED)
    # A write's warm-up would only add rows before the measurement; writes start cold instead.
    result = _measure(site.base, endpoint.load, seconds=seconds, warmup=0 if endpoint.write else warmup)
    _log(f"{site.label}: {endpoint.title}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
         f"p99 {result.p99_ms:.1f} ms, non-2xx {result.non_2xx}")
    return {"key": endpoint.key, "title": endpoint.title, "method": endpoint.load.method,
            "path": endpoint.load.paths[0], **asdict(result), "non_2xx": result.non_2xx,
            "database_locked": server.count_in_log(site.log, LOCKED) - locked_before}


def bench(sizes: list[int], *, seconds: float, warmup: float, only: set[str]) -> list[dict]:
    """Every size served at once; each endpoint measured on every size in turn, so that a busy
    neighbour on a shared machine weighs on all sizes alike. The baseline runs first and last."""
    with ExitStack() as stack:
        sites = []
        for size in sizes:
            label = datasets.label(size)
            work = datasets.working_copy(datasets.ensure(size, log=_log))
            stack.callback(datasets.discard, work)
            log = RAW / f"portal-{label}.log"
            base = stack.enter_context(server.serving("run:app", log=log, database=work))
            endpoints = {e.key: e for e in scenarios.endpoints(base, work) if not only or e.key in only}
            sites.append(Site(size, label, base, log, endpoints))
        baseline_url = stack.enter_context(server.serving("bench.baseline_app:app", log=RAW / "baseline.log",
                                                          ready_path="/"))
        _log("baseline")
        before = _baseline(baseline_url, seconds=seconds, warmup=warmup)
        # Reads first on every size: the writes add rows the reads would then see.
        for key in sorted(sites[0].endpoints, key=lambda k: sites[0].endpoints[k].write):
            for site in sites:
                site.rows.append(_measure_on(site, site.endpoints[key], seconds=seconds, warmup=warmup))
        _log("baseline again")
        baseline = _mean(before, _baseline(baseline_url, seconds=seconds, warmup=warmup))
    for site in sites:
        for row in site.rows:
            row["baseline_ratio"] = round(row["rps"] / baseline["rps"], 3)
    return [{"size": site.size, "label": site.label, "baseline": baseline, "endpoints": site.rows,
             "tracebacks": server.count_in_log(site.log, "Traceback")} for site in sites]


def main() -> int:
    """Run every size, then write the results."""
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk: apt-get install wrk")
    sizes = [datasets.parse_size(text) for text in os.environ.get("BENCH_SIZES", "1k,100k,1M").split(",")]
    seconds = float(os.environ.get("BENCH_DURATION", "10"))
    warmup = float(os.environ.get("BENCH_WARMUP", min(3.0, seconds / 3)))
    only = {key.strip() for key in os.environ.get("BENCH_ENDPOINTS", "").split(",") if key.strip()}
    results = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "settings": {"duration_s": seconds, "warmup_s": warmup, "wrk_threads": wrk.THREADS,
                     "wrk_connections": wrk.CONNECTIONS, "gunicorn": _gunicorn_settings()},
        "runs": bench(sorted(sizes), seconds=seconds, warmup=warmup, only=only),
    }
    results["machine"]["load_after"] = _load()
    paths = report.write(results)
    print(paths["md"].read_text(encoding="utf-8"))
    _log("wrote " + ", ".join(str(path.relative_to(datasets.ROOT)) for path in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
