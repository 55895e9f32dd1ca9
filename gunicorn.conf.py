"""gunicorn settings for the container and any other box: `gunicorn -c gunicorn.conf.py run:app`.

Every knob comes from the environment, so one image serves a small box and a bigger one alike.
"""
import gc
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:5000")
# One process per core, two threads each: threads absorb a slow client, and more of them only
# contend for the GIL. make bench at 1M on 2 cores, connections closed after each answer (below),
# two interleaved rounds of 2x1 / 2x2 / 2x4: computed list 270, 288 / 300, 279 / 298, 299 req/s,
# computed detail 722, 721 / 865, 725 / 852, 841 (2026-12-03). Earlier runs that found 2x1 fastest
# had kept-alive connections, whose luck in landing on one process outweighed the threads.
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 2)
worker_class = "gthread"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# No keep-alive: one connection per request. A kept-alive connection stays with the process that
# accepted it, and which idle process accepts a burst of connections is the scheduler's luck: wrk's
# 16 connections (or a proxy's pool of upstream connections) all landed on one process in about
# half the runs, which served them on one core while the other idled (the bare app: 1,715 against
# 4,122 requests/s; the portal's computed list: 130 against 300). New connections go to whichever
# process is free to accept, so the load follows the free cores (the bare app: 3,092-3,259 requests/s
# in four runs, both processes' CPU time within 2 % of each other). SO_REUSEPORT spreads kept-alive
# connections too, but a recycled process drops the connections queued at its own socket.
keepalive = _int("GUNICORN_KEEPALIVE", 0)
# Recycle workers now and then so a slow leak can never take the service down.
max_requests = _int("GUNICORN_MAX_REQUESTS", 10000)
# A jitter as large as the limit spreads the restarts: with 10% the workers recycled within a
# second of each other and nothing served for ~2 s (p99 x5 in the benchmark).
max_requests_jitter = max_requests
# Each worker builds its own app (and database pool) after the fork: nothing is shared by accident.
preload_app = False
# Which peers may set X-Forwarded-Proto; the app's TRUSTED_PROXIES decides about X-Forwarded-For.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# The heartbeat file lives in memory; a disk-backed /tmp in a container can stall workers.
# (gunicorn creates it with mkstemp, so a shared folder is safe here.)
SHARED_MEMORY = "/dev/shm"  # noqa: S108
worker_tmp_dir = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None
# No runtime control socket: instances are managed by restarting them, and several gunicorns on
# one host would otherwise fight over the same default socket path.
control_socket_disable = True


def post_worker_init(worker) -> None:
    """Hide what the app built at start-up from the garbage collector: a full collection then walks
    only what requests create (with the app's ~110,000 objects in view, one took ~60 ms here)."""
    gc.freeze()
    # A young-generation collection every 50,000 new objects instead of every 700: an export builds
    # ~20 objects per row, all short-lived, and walking them 25,000 times a million rows cost
    # 2-4 % of its rate (issue 19: 93,176 / 94,966 -> 96,836 / 99,450 rows/s in interleaved runs;
    # list, detail and the HTML list unchanged; worker RSS ~93 -> ~105 MB).
    gc.set_threshold(50_000, 20, 20)
