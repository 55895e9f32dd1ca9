"""`python -m bench.compare <other checkout> [size]`: what one computed request costs in another
checkout of the portal and in this one, on copies of the same benchmark dataset (1M by default,
built by `make bench`), one after the other in the same minute: mean milliseconds over
BENCH_PER_REQUEST requests (40) through Flask's test client in one thread, production config, with
`Cache-Control: no-cache`, and the Python calls cProfile counts per request. Prints a markdown table.

The dataset is built by this checkout's migrations; when the other checkout's migrations end
earlier, its copy is first downgraded to its last revision (this checkout's `flask db downgrade`),
so each tree runs on its own schema and indexes. E.g. `git worktree add /tmp/before <commit>` (it
uses this checkout's virtualenv)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from bench import datasets

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = int(os.environ.get("BENCH_PER_REQUEST", "40"))
# (title, client, path); `{cursor}` is the cursor after the middle page of the list.
ROWS = [
    ("API list, page 1", "api", "/incidents/"),
    ("API list by cursor (the middle of the list)", "api", "/incidents/?cursor={cursor}"),
    ("API filter status=open&severity=high", "api", "/incidents/?status=open&severity=high"),
    ("API detail", "api", "/incidents/{middle_id}"),
    ("API search q=db-123", "api", "/incidents/?q=db-123"),
    ("API search q=payroll rejects logins", "api", "/incidents/?q=payroll%20rejects%20logins"),
    ("HTML list", "browser", "/ui/incidents/"),
    ("HTML incident page", "browser", "/ui/incidents/{middle_id}"),
    ("HTML dashboard (admin)", "browser", "/"),
    ("API reports/summary (30 days)", "api", "/reports/summary"),
    ("API reports/summary?group_by=priority", "api", "/reports/summary?group_by=priority"),
    ("API reports/daily (30 days)", "api", "/reports/daily"),
]

# Run inside the measured checkout: its `bench.per_request` builds the clients.
_MEASURE = """
import cProfile, json, pstats, sys, time
from bench import per_request
database, requests = sys.argv[1], int(sys.argv[2])
rows = json.loads(sys.argv[3])
api, browser, auth = per_request._client(database)
fresh = {"Cache-Control": "no-cache"}
first = api.get("/incidents/", headers=auth | fresh).get_json()
middle = max(2, -(-first["total"] // first["per_page"]) // 2)
cursor = api.get(f"/incidents/?page={middle - 1}", headers=auth | fresh).get_json()["next"]
middle_id = first["total"] // 2  # ids run 1..total
out = {}
for title, who, path in rows:
    client, headers = (api, auth | fresh) if who == "api" else (browser, fresh)
    path = path.format(cursor=cursor, middle_id=middle_id)
    for _ in range(5):
        assert client.get(path, headers=headers).status_code == 200, path
    started = time.perf_counter()
    for _ in range(requests):
        client.get(path, headers=headers)
    ms = (time.perf_counter() - started) / requests * 1000
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(10):
        client.get(path, headers=headers)
    profile.disable()
    out[title] = [ms, round(pstats.Stats(profile).total_calls / 10)]
print(json.dumps(out))
"""


def measure(checkout: Path, database: Path) -> dict[str, list[float]]:
    env = os.environ | {"PYTHONPATH": str(checkout)}
    env.setdefault("SECRET_KEY", os.urandom(32).hex())
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(database), str(REQUESTS), json.dumps(ROWS)],
                          cwd=checkout, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"measuring {checkout} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def head_revision(checkout: Path) -> str:
    """The last migration of a checkout (the files are numbered: 0013_report_indexes.py is 0013)."""
    return max(path.name.split("_", 1)[0] for path in (checkout / "migrations" / "versions").glob("[0-9]*_*.py"))


def as_of(checkout: Path, database: Path) -> None:
    """Bring a dataset copy down to the checkout's last migration when this one's goes further."""
    revision = head_revision(checkout)
    if revision != head_revision(ROOT):
        subprocess.run([*datasets.FLASK, "db", "downgrade", revision], cwd=ROOT, env=datasets.cli_env(database),
                       check=True, capture_output=True)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m bench.compare <other checkout> [size]")
    other = Path(sys.argv[1]).resolve()
    size = datasets.parse_size(sys.argv[2] if len(sys.argv) > 2 else "1M")
    pristine = datasets.ensure(size)
    figures = {}
    for name, checkout in (("before", other), ("after", ROOT)):
        copy = datasets.working_copy(pristine)
        try:
            as_of(checkout, copy)
            figures[name] = measure(checkout, copy)
        finally:
            datasets.discard(copy)
    label = datasets.label(size)
    print(f"| Request at {label} | {other.name} ms | this ms | {other.name} calls | this calls |")
    print("|---|---|---|---|---|")
    for title, _, _ in ROWS:
        (ms_before, calls_before), (ms_after, calls_after) = figures["before"][title], figures["after"][title]
        print(f"| {title} | {ms_before:.2f} | {ms_after:.2f} | {calls_before:,} | {calls_after:,} |")


if __name__ == "__main__":
    main()
