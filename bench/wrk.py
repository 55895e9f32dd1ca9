"""Drive one endpoint with Debian's `wrk` and read back what bench/lua/portal.lua measured."""
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "lua" / "portal.lua"
THREADS = 2
CONNECTIONS = 16


@dataclass
class Load:
    """What to send: a method, paths taken in turn, headers, and a body kind (see portal.lua)."""

    paths: list[str]
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    ids: list[int] = field(default_factory=list)
    techs: list[int] = field(default_factory=list)


@dataclass
class Measure:
    """One wrk run: requests/s, latency percentiles in ms, and what came back."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    socket_errors: int

    @property
    def non_2xx(self) -> int:
        """Responses outside 200-299 (wrk itself counts 3xx as success; we do not)."""
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))


def run(base_url: str, load: Load, *, seconds: float, threads: int = THREADS,
        connections: int = CONNECTIONS) -> Measure:
    """`wrk --latency` for `seconds` against base_url + load.paths."""
    threads = min(threads, connections)  # wrk refuses fewer connections than threads
    env = os.environ | {
        "BENCH_METHOD": load.method,
        "BENCH_PATHS": " ".join(load.paths),
        "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in load.headers.items()),
        "BENCH_BODY": load.body,
        "BENCH_IDS": ",".join(map(str, load.ids)),
        "BENCH_TECHS": ",".join(map(str, load.techs)),
        "BENCH_THREADS": str(threads),
    }
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
               "--timeout", "10s", "-s", str(SCRIPT), base_url + load.paths[0]]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if not lines:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    seconds_taken = raw["duration_us"] / 1e6
    if raw["requests"] == 0:
        # Nothing answered in the whole run (a server with no worker up): every request waited at
        # least that long; wrk's empty histogram would report 0 ms, the best latency of all.
        raw.update(p50_us=raw["duration_us"], p90_us=raw["duration_us"], p99_us=raw["duration_us"],
                   max_us=raw["duration_us"])
    return Measure(requests=raw["requests"], seconds=round(seconds_taken, 2),
                   rps=round(raw["requests"] / seconds_taken, 1),
                   p50_ms=raw["p50_us"] / 1000, p90_ms=raw["p90_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
                   max_ms=raw["max_us"] / 1000, statuses=raw["statuses"], socket_errors=raw["socket_errors"])
