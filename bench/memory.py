"""The resident memory of server processes while one request runs, read from Linux's /proc.

A process's peak resident set (`VmHWM`) is reset to its current size by writing 5 to
/proc/<pid>/clear_refs (Linux 4.0+, allowed for one's own processes), so after a request the peak
says exactly how high the process went during it, however briefly. Where the reset is refused,
`VmRSS` is sampled every few milliseconds instead (a short spike between samples can be missed)."""
import threading
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers, for its master)."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone since the listing
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def status_kb(pid: int, name: str) -> int | None:
    """A `Vm…` line of /proc/<pid>/status in kB; None once the process is gone."""
    try:
        lines = (PROC / str(pid) / "status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return None


def reset_peak(pid: int) -> bool:
    """Make VmHWM start again from the current size; False where Linux refuses."""
    try:
        (PROC / str(pid) / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class Usage:
    """One process over one request, in kB."""

    pid: int
    before_kb: int
    peak_kb: int
    exact: bool  # the peak is VmHWM after a reset (else the largest VmRSS sample)

    @property
    def growth_kb(self) -> int:
        return self.peak_kb - self.before_kb


@dataclass
class Watch:
    """Watches processes while a block runs: `with Watch(pids) as watch: ...`, then `watch.usage`."""

    pids: list[int]
    every: float = 0.02
    usage: dict[int, Usage] = field(default_factory=dict)

    def __enter__(self) -> "Watch":
        self._before = {pid: status_kb(pid, "VmRSS") for pid in self.pids}
        self._exact = {pid: reset_peak(pid) for pid in self.pids}
        self._sampled = {pid: kb or 0 for pid, kb in self._before.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            for pid in self.pids:
                self._sampled[pid] = max(self._sampled[pid], status_kb(pid, "VmRSS") or 0)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        for pid in self.pids:
            before = self._before[pid]
            if before is None:  # gone before the block began
                continue
            peak = self._sampled[pid]
            high = status_kb(pid, "VmHWM") if self._exact[pid] else None
            if high is not None:
                peak = max(peak, high)
            self.usage[pid] = Usage(pid, before, peak, exact=high is not None)

    def busiest(self) -> Usage | None:
        """The process that grew the most: the one that served the request."""
        return max(self.usage.values(), key=lambda usage: usage.growth_kb, default=None)

