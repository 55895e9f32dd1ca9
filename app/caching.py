"""Answers that cannot go stale: kept until anything is committed to the database, and never longer
than RESPONSE_CACHE_SECONDS.

SQLite tells us when anything was committed: `PRAGMA data_version`, asked on a connection that never
writes, changes whenever any other connection, in any process, commits (a few microseconds to ask).
Every cached answer is stored with the version read *before* it was computed, so an answer computed
across a commit is stale the moment it is stored and is never served. No write path has to remember
to invalidate anything: a commit is the invalidation.

One extension, `response_cache`, keeps two things per app: the API's answers, replayed by a WSGI
layer (`ReplayLayer`) to GETs repeated with the same bearer token and headers, and page fragments
(the dashboard's body) per user, through `response_cache.fragment`. Both are off on PostgreSQL (no
such version there; see docs/performance.md)."""
import hashlib
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from flask import Flask, current_app, render_template, request
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.engine import make_url

MAX_ENTRIES = 512
# An API page of 25 incidents is about 15 KB; bigger answers are computed each time, so one token
# holder can pin at most MAX_ENTRIES x 64 KB (32 MB) per process.
MAX_BODY_BYTES = 64 * 1024
# Request directives that ask for an answer computed now (RFC 9111 5.2.1).
_FRESH_PLEASE = ("no-cache", "no-store", "max-age=0")


class CommitCounter:
    """SQLite's data_version for one database file, read on a private connection that never writes."""

    def __init__(self, path: str):
        self._path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._connections = 0

    def current(self) -> tuple[int, int, int] | None:
        """(process, connection, version): equal twice only if nothing was committed in between.
        None when the file cannot be read: then nothing is cached, and the app answers (and
        reports) the problem."""
        with self._lock:
            try:
                if self._connection is None or self._pid != os.getpid():
                    # After a fork (or an error) a new connection numbers its versions afresh, so
                    # the process and which connection this is are part of the version.
                    self._connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
                    self._pid = os.getpid()
                    self._connections += 1
                version = self._connection.execute("PRAGMA data_version").fetchone()[0]
                return self._pid, self._connections, version
            except sqlite3.Error:
                self._connection = None
                return None

    @classmethod
    def for_app(cls, app: Flask) -> "CommitCounter | None":
        """One for the app's SQLite file; None for PostgreSQL, an in-memory database, or a `uri=true`
        URL (whose file name is the driver's to parse)."""
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or "uri" in url.query:
            return None
        return cls(os.path.join(app.instance_path, url.database))


class VersionedCache:
    """Values kept with the commit version they were computed at; least recently used evicted first."""

    def __init__(self, counter: CommitCounter, seconds: float, max_entries: int = MAX_ENTRIES):
        self.counter = counter
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[tuple[int, int, int], float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: tuple[int, int, int]):
        """The value stored under `key` at this version and less than `seconds` ago, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at_version, stored_at, value = entry
            if stored_at_version != version or time.monotonic() - stored_at >= self.seconds:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, version: tuple[int, int, int], value) -> None:
        """Keep `value` as computed at `version`; evict the least recently used beyond max_entries."""
        with self._lock:
            self._entries[key] = (version, time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], object], *, reuse: bool = True,
                       keep: bool = True):
        """The cached value (if `reuse`), or compute() now, kept (if `keep`) under the version read
        before computing."""
        version = self.counter.current()
        if version is None:
            return compute()
        value = self.get(key, version) if reuse else None
        if value is None:
            value = compute()
            if keep:
                self.put(key, version, value)
        return value


def client_allows(cache_control: str | None, pragma: str | None = None) -> tuple[bool, bool]:
    """(reuse, keep): may a kept answer be reused for this request, may its answer be kept.
    A browser's reload sends max-age=0 and a hard reload no-cache: the answer is computed now and
    kept for the next request; no-store: computed now and not kept (RFC 9111 5.2.1)."""
    asked = f"{cache_control or ''} {pragma or ''}".lower()
    keep = "no-store" not in asked
    return keep and not any(directive in asked for directive in _FRESH_PLEASE), keep


# Part of no key: a request asking for a fresh answer stores it for the same request without them.
_NOT_IN_KEY = frozenset({"HTTP_CACHE_CONTROL", "HTTP_PRAGMA"})


def _request_key(environ: dict) -> str | None:
    """A digest of everything in the request that can shape the answer, or None when it must not
    be cached: only body-less GETs with a bearer token and no cookie. Every header is part of the
    key, so two requests share an answer only if they are the same request from the same token."""
    if environ.get("REQUEST_METHOD") != "GET" or "HTTP_COOKIE" in environ:
        return None
    if not environ.get("HTTP_AUTHORIZATION", "").startswith("Bearer "):
        return None
    if environ.get("CONTENT_LENGTH") not in (None, "", "0") or "HTTP_TRANSFER_ENCODING" in environ:
        return None
    parts = [environ.get(name, "") for name in ("wsgi.url_scheme", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING")]
    parts += sorted(f"{name}={value}" for name, value in environ.items()
                    if name.startswith("HTTP_") and name not in _NOT_IN_KEY)
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _storable(status: str, headers: list[tuple[str, str]], body: bytes) -> bool:
    """A plain 200 meant for anyone holding the request's token: no cookie set. The answer's
    Cache-Control speaks to the caches between us and the client (every answer to a token says
    no-store, app/security.py); this cache is the server's own, keyed by the token, and replays
    that header with the rest."""
    if not status.startswith("200 ") or len(body) > MAX_BODY_BYTES:
        return False
    return all(name.lower() != "set-cookie" for name, _ in headers)


def _small(headers: list[tuple[str, str]]) -> bool:
    """The answer says its length, and it is one the cache may keep. A streamed answer (a CSV
    export of a million rows) has no Content-Length: reading it whole here would hold it in memory."""
    length = next((value for name, value in headers if name.lower() == "content-length"), None)
    return length is not None and length.isdigit() and int(length) <= MAX_BODY_BYTES


class ReplayLayer:
    """WSGI layer: replays the app's answer to a GET repeated with the same token and headers, until
    anything is committed (or RESPONSE_CACHE_SECONDS pass). Revoking a token, deactivating a user or
    changing a role is a commit too, so a cached answer never outlives the right to see it; a token
    that merely expires can be answered from the cache for at most those seconds."""

    def __init__(self, wsgi_app, cache: VersionedCache):
        self.wsgi_app = wsgi_app
        self.cache = cache

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        key = _request_key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        version = self.cache.counter.current()
        if version is None:
            return self.wsgi_app(environ, start_response)
        reuse, keep = client_allows(environ.get("HTTP_CACHE_CONTROL"), environ.get("HTTP_PRAGMA"))
        cached = self.cache.get(key, version) if reuse else None
        if cached is not None:
            status, headers, body = cached
            start_response(status, list(headers))
            return [body]
        answer: dict = {}

        def capture(status, headers, exc_info=None):
            answer.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        chunks = self.wsgi_app(environ, capture)
        if not _small(answer.get("headers", [])):
            return chunks  # streamed (no Content-Length) or too big to keep: passed through, never buffered
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        if keep and _storable(answer["status"], answer["headers"], body):
            self.cache.put(key, version, (answer["status"], tuple(answer["headers"]), body))
        return [body]


class _Mount:
    """Holds the replay layer's place in the WSGI stack until the first request, then puts the layer
    on top of the stack as it stands by then and passes every request on down.

    This is what makes `init_app` order-free: any layer wrapped around `app.wsgi_app` after it (by
    an extension set up later in create_app) ends up inside the replay layer, so a replayed answer
    skips every other layer whatever order the extensions were set up in."""

    def __init__(self, app: Flask, cache: VersionedCache):
        self.app = app
        self.cache = cache
        self.below = app.wsgi_app
        self._lock = threading.Lock()
        self._mounted = False

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        """Mount the layer on the first request; pass every request on to the layer below."""
        with self._lock:
            from_the_top = self.app.wsgi_app is self
            if not self._mounted:
                self.app.wsgi_app = ReplayLayer(self.app.wsgi_app, self.cache)
                self._mounted = True
        if from_the_top:
            # Nothing was wrapped around us, so this first request can go through the layer just
            # mounted (which calls us again). Entered from inside other layers, it would pass them
            # twice that way, so it goes on down without the cache: one uncached answer per app.
            return self.app.wsgi_app(environ, start_response)
        return self.below(environ, start_response)


@dataclass
class Caches:
    """One app's two caches, on one commit counter."""

    answers: VersionedCache
    fragments: VersionedCache


class ResponseCache:
    """The extension: created unbound as `response_cache`, attached by `init_app`; its caches live
    in `app.extensions["response_cache"]`."""

    def init_app(self, app: Flask) -> None:
        """Both caches, when the database is a SQLite file and RESPONSE_CACHE_SECONDS > 0."""
        seconds = app.config["RESPONSE_CACHE_SECONDS"]
        counter = CommitCounter.for_app(app) if seconds > 0 else None
        if counter is None:
            return
        caches = Caches(answers=VersionedCache(counter, seconds), fragments=VersionedCache(counter, seconds))
        app.extensions["response_cache"] = caches
        app.wsgi_app = _Mount(app, caches.answers)

    def fragment(self, template: str, context: Callable[[], dict]) -> Markup:
        """`template` rendered with context() at most once per commit and per RESPONSE_CACHE_SECONDS
        for the signed-in user; rendered every time when caching is off. The fragment may depend
        only on the data and the user: its key is the template, the user and the URL prefix its
        links are built with."""
        def render() -> str:
            return render_template(template, **context())

        caches: Caches | None = current_app.extensions.get("response_cache")
        if caches is None:
            html = render()
        else:
            reuse, keep = client_allows(request.headers.get("Cache-Control"), request.headers.get("Pragma"))
            key = (template, current_user.get_id(), request.script_root)
            html = caches.fragments.get_or_compute(key, render, reuse=reuse, keep=keep)
        return Markup(html)  # noqa: S704 -- Jinja's output, escaped by autoescaping when rendered


response_cache = ResponseCache()
