"""`python -m bench.per_request`: what one request costs, without concurrency or a network.

The same reads `make bench` drives, through Flask's test client in one thread, production config,
on working copies of the benchmark datasets (built by `make bench` first): the mean time of
BENCH_PER_REQUEST requests (200) per row, computed (`Cache-Control: no-cache`) and as a repeated
request (from the caches), beside the baseline app, and the Python function calls a computed
request makes (counted by cProfile: the same at 1k and 1M means the same work, whatever the noise).
Prints a markdown table."""
import cProfile
import json
import os
import pstats
import secrets
import subprocess
import sys
import time
from collections.abc import Callable

from bench import datasets, scenarios
from bench.baseline_app import app as baseline

REQUESTS = int(os.environ.get("BENCH_PER_REQUEST", "200"))
SIZES = ("1k", "1M")
FRESH = {"Cache-Control": "no-cache"}


def _mean_ms(request: Callable[[int], object]) -> float:
    for n in range(20):  # warm up: compiled statements, templates, the page cache
        request(n)
    started = time.perf_counter()
    for n in range(REQUESTS):
        request(n)
    return (time.perf_counter() - started) / REQUESTS * 1000


def _calls(request: Callable[[int], object], n: int = 20) -> int:
    """Python function calls per request: a cost no neighbour's noise can move."""
    profile = cProfile.Profile()
    profile.enable()
    for i in range(n):
        request(i)
    profile.disable()
    return round(pstats.Stats(profile).total_calls / n)


def _client(database):
    """A production-config test client on `database`, with an admin token and an admin session."""
    from app import create_app

    app = create_app("production", SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}", SESSION_COOKIE_SECURE=False,
                     OUTBOX_BACKGROUND_SENDER=False, MAIL_SERVER=None)
    api, client = app.test_client(), app.test_client()  # the API client carries no cookie
    token = api.post("/auth/tokens", json={"username": scenarios.ADMIN, "password": scenarios.PASSWORD,
                                              "name": "per-request"}).get_json()["token"]
    form = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": scenarios.ADMIN, "password": scenarios.PASSWORD,
                                "csrf_token": scenarios.csrf_token(form)})
    return api, client, {"Authorization": f"Bearer {token}"}


def _rows(database) -> dict[str, tuple[float, float, int]]:
    """(computed ms, repeated ms, Python calls per computed request) per request kind."""
    api, browser, bearer = _client(database)
    ids = scenarios.database_facts(database)["detail_ids"]
    kinds: dict[str, tuple[object, Callable[[int], str], dict]] = {
        "API list, page 1": (api, lambda n: "/incidents/", bearer),
        "API filter status=open&severity=high": (api, lambda n: "/incidents/?status=open&severity=high", bearer),
        "API search q=<host name>": (api, lambda n: f"/incidents/?q={scenarios.SEARCH_TERMS[n % 4]}", bearer),
        "API detail (500 ids in turn)": (api, lambda n: f"/incidents/{ids[n % len(ids)]}", bearer),
        "HTML dashboard (admin)": (browser, lambda n: "/", {}),
    }
    rows = {}
    for title, (client, path, headers) in kinds.items():
        computed = _getter(client, path, headers | FRESH)
        rows[title] = (_mean_ms(computed), _mean_ms(_getter(client, lambda n, path=path: path(0), headers)),
                       _calls(computed))
    return rows


def _getter(client, path: Callable[[int], str], headers: dict) -> Callable[[int], object]:
    return lambda n: client.get(path(n), headers=headers)


def _measure_in_a_fresh_process(size: str) -> dict[str, list[float]]:
    """One size per process, so neither app's objects (or garbage) weigh on the other's figures."""
    done = subprocess.run([sys.executable, "-m", "bench.per_request", size], capture_output=True, text=True,
                          check=True, env=os.environ | {"SECRET_KEY": secrets.token_hex(32)})
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1:  # the child: one size, printed as JSON
        copy = datasets.working_copy(datasets.ensure(datasets.parse_size(sys.argv[1])))
        try:
            print(json.dumps(_rows(copy)))
        finally:
            datasets.discard(copy)
        return
    measured = {size: _measure_in_a_fresh_process(size) for size in SIZES}
    base = baseline.test_client()
    baseline_ms = _mean_ms(lambda n: base.get("/"))
    print("| Request | " + " | ".join(f"computed {size} | repeated {size}" for size in SIZES)
          + " | " + " | ".join(f"Python calls {size}" for size in SIZES) + " |")
    print("|---|" + "---|---|" * len(SIZES) + "---|" * len(SIZES))
    for title in measured[SIZES[0]]:
        cells = [f"{measured[size][title][0]:.2f} ms | {measured[size][title][1]:.2f} ms" for size in SIZES]
        cells += [f"{measured[size][title][2]:,}" for size in SIZES]
        print(f"| {title} | " + " | ".join(cells) + " |")
    print(f"| Baseline (constant JSON) | {baseline_ms:.2f} ms |" + " |" * (3 * len(SIZES) - 1))


if __name__ == "__main__":
    main()
