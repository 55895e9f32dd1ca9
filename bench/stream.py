"""One long download measured whole: `GET /incidents/export.csv` of every incident, as one request.

wrk measures many short requests; an export is a single request of a million rows, so it gets its
own measure: the time to the first byte and to the last, the rows and bytes that came, rows per
second, and the resident memory of the server processes meanwhile (bench/memory.py), so "streamed
in constant memory" is a figure and not a hope. The client only counts line ends (the CSV writer
ends every row with CRLF and the export's cells hold no line breaks), so it takes little of the
CPU the server needs."""
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from bench import memory
from bench.scenarios import USER_AGENT
from bench.wrk import Load

CHUNK_BYTES = 256 * 1024
MB = 1024 * 1024


@dataclass
class StreamMeasure:
    """One whole download."""

    status: int
    rows: int  # data rows: line ends minus the header
    bytes: int
    seconds: float  # request sent to last byte read
    first_byte_s: float
    rows_per_s: float
    mb_per_s: float
    expected_rows: int | None  # what the database held for this request, when the caller knows
    rss_before_mb: float | None  # the server process that grew the most: its resident size before
    peak_rss_mb: float | None  # and its peak during the request
    rss_exact: bool  # the peak is VmHWM after a reset, not sampled
    processes: int  # server processes watched

    @property
    def growth_mb(self) -> float | None:
        if self.peak_rss_mb is None or self.rss_before_mb is None:
            return None
        return round(self.peak_rss_mb - self.rss_before_mb, 1)

    @property
    def complete(self) -> bool:
        """A 200 with every row expected (when known)."""
        return self.status == 200 and (self.expected_rows is None or self.rows == self.expected_rows)


def measure(base_url: str, load: Load, *, pids: Callable[[], list[int]],
            expected_rows: int | None = None, timeout: float = 1800) -> StreamMeasure:
    """GET base_url + load.paths[0] with load.headers, read to the end, watching `pids()`."""
    lines = size = 0
    first = None
    with memory.Watch(pids()) as watch:
        started = time.perf_counter()
        # wrk's User-Agent: a session cookie is bound to the browser that signed in.
        with requests.get(base_url + load.paths[0], headers={"User-Agent": USER_AGENT} | load.headers,
                          stream=True, timeout=(10, timeout)) as answer:
            for chunk in answer.iter_content(CHUNK_BYTES):
                if first is None:
                    first = time.perf_counter() - started
                size += len(chunk)
                lines += chunk.count(b"\n")
            status = answer.status_code
        seconds = time.perf_counter() - started
    rows = max(0, lines - 1)
    busiest = watch.busiest()
    return StreamMeasure(
        status=status, rows=rows, bytes=size, seconds=round(seconds, 3),
        first_byte_s=round(first if first is not None else seconds, 3),
        rows_per_s=round(rows / seconds, 1), mb_per_s=round(size / MB / seconds, 2), expected_rows=expected_rows,
        rss_before_mb=round(busiest.before_kb / 1024, 1) if busiest else None,
        peak_rss_mb=round(busiest.peak_kb / 1024, 1) if busiest else None,
        rss_exact=bool(busiest and busiest.exact), processes=len(watch.usage),
    )


def as_dict(result: StreamMeasure) -> dict:
    """A round as results.json keeps it (with the derived growth and completeness)."""
    return {**result.__dict__, "growth_mb": result.growth_mb, "complete": result.complete}


def combine(rounds: list[dict]) -> dict:
    """Several downloads of the same export: median times and rates, the worst memory, every round kept."""
    medians = {name: round(statistics.median(one[name] for one in rounds), 3)
               for name in ("seconds", "first_byte_s", "rows_per_s", "mb_per_s")}
    worst = max(rounds, key=lambda one: one["growth_mb"] if one["growth_mb"] is not None else float("-inf"))
    return {**medians, "rows": min(one["rows"] for one in rounds), "bytes": max(one["bytes"] for one in rounds),
            "expected_rows": rounds[-1]["expected_rows"], "complete": all(one["complete"] for one in rounds),
            "rss_before_mb": worst["rss_before_mb"], "peak_rss_mb": worst["peak_rss_mb"],
            "growth_mb": worst["growth_mb"], "rss_exact": all(one["rss_exact"] for one in rounds),
            "rounds": [{"seconds": one["seconds"], "rows_per_s": one["rows_per_s"], "growth_mb": one["growth_mb"]}
                       for one in rounds]}
