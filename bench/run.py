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
from dataclasses import asdict
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


def bench_size(size: int, *, seconds: float, warmup: float, only: set[str]) -> dict:
    """Baseline, then every endpoint, on a fresh copy of the `size` dataset."""
    label = datasets.label(size)
    work = datasets.working_copy(datasets.ensure(size, log=_log))
    _log(f"{label}: baseline")
    with server.serving("bench.baseline_app:app", log=RAW / f"baseline-{label}.log", ready_path="/") as base:
        baseline = _measure(base, wrk.Load(["/"]), seconds=seconds, warmup=warmup)
    log = RAW / f"portal-{label}.log"
    measured = []
    with server.serving("run:app", log=log, database=work) as base:
        for endpoint in scenarios.endpoints(base, work):
            if only and endpoint.key not in only:
                continue
            locked_before = server.count_in_log(log, LOCKED)
            # A write's warm-up would replay the same moves; writes start cold instead.
            result = _measure(base, endpoint.load, seconds=seconds, warmup=0 if endpoint.write else warmup)
            row = {"key": endpoint.key, "title": endpoint.title, "method": endpoint.load.method,
                   "path": endpoint.load.paths[0], **asdict(result), "non_2xx": result.non_2xx,
                   "baseline_ratio": round(result.rps / baseline.rps, 3),
                   "database_locked": server.count_in_log(log, LOCKED) - locked_before}
            measured.append(row)
            _log(f"{label}: {endpoint.title}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                 f"p99 {result.p99_ms:.1f} ms, non-2xx {result.non_2xx}")
    work.unlink(missing_ok=True)
    return {"size": size, "label": label, "baseline": {**asdict(baseline), "non_2xx": baseline.non_2xx},
            "endpoints": measured, "tracebacks": server.count_in_log(log, "Traceback")}


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
        "runs": [],
    }
    for size in sizes:
        results["runs"].append(bench_size(size, seconds=seconds, warmup=warmup, only=only))
    results["machine"]["load_after"] = _load()
    paths = report.write(results)
    print(paths["md"].read_text(encoding="utf-8"))
    _log("wrote " + ", ".join(str(path.relative_to(datasets.ROOT)) for path in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
