"""Configuration read from the environment (and `.env`), one class per deployment shape."""
import os
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key"


def _bool(name: str, default: bool = False) -> bool:
    """Read a yes/no setting the way people write it in `.env` files."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def default_database_url() -> str:
    """The embedded default: a SQLite file under `instance/`."""
    return f"sqlite:///{BASE_DIR / 'instance' / 'portal.db'}"


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY") or DEFAULT_SECRET_KEY
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or default_database_url()
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # How long a write waits for the database's write lock (SQLite's busy timeout, PostgreSQL's
    # lock_timeout) before answering 503 with Retry-After: a held lock must not hang every worker.
    WRITE_LOCK_TIMEOUT_SECONDS = _float("WRITE_LOCK_TIMEOUT_SECONDS", 5.0)

    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER") or "incidents@localhost"
    MAIL_TIMEOUT_SECONDS = _int("MAIL_TIMEOUT_SECONDS", 10)
    OUTBOX_MAX_ATTEMPTS = _int("OUTBOX_MAX_ATTEMPTS", 6)
    OUTBOX_BACKOFF_SECONDS = _int("OUTBOX_BACKOFF_SECONDS", 30)
    OUTBOX_POLL_SECONDS = _int("OUTBOX_POLL_SECONDS", 5)
    # A sender's claim on the mail it is sending is a lease it renews every third of this while it
    # works; a sender that dies stops renewing, and another takes the mail over when it lapses.
    OUTBOX_LEASE_SECONDS = _int("OUTBOX_LEASE_SECONDS", 30)
    # The in-process sender; deployments that run `flask outbox worker` apart switch it off.
    OUTBOX_BACKGROUND_SENDER = _bool("OUTBOX_BACKGROUND_SENDER", True)

    # Inbound mail (app/mail/inbound; SPEC "Inbound mail"): `flask mail receive` reads one message on
    # stdin; `flask mail poll` and, when IMAP_HOST is set, the background loop every IMAP_POLL_SECONDS
    # read IMAP_FOLDER and move what they handled to IMAP_DONE_FOLDER. IMAP_SECURITY is "tls"
    # (IMAP4_SSL, port 993) or "starttls" (port 143); IMAP_CA_FILE trusts a private CA (a self-signed
    # test server). Messages larger than INBOUND_MAX_BYTES are logged and skipped.
    IMAP_HOST = os.environ.get("IMAP_HOST", "").strip() or None
    IMAP_SECURITY = (os.environ.get("IMAP_SECURITY", "").strip().lower() or "tls")
    IMAP_PORT = _int("IMAP_PORT", 143 if IMAP_SECURITY == "starttls" else 993)
    IMAP_USER = os.environ.get("IMAP_USER") or None
    IMAP_PASSWORD = os.environ.get("IMAP_PASSWORD") or None
    IMAP_FOLDER = os.environ.get("IMAP_FOLDER", "").strip() or "INBOX"
    IMAP_DONE_FOLDER = os.environ.get("IMAP_DONE_FOLDER", "").strip() or "Processed"
    IMAP_POLL_SECONDS = _int("IMAP_POLL_SECONDS", 60)
    IMAP_CA_FILE = os.environ.get("IMAP_CA_FILE", "").strip() or None
    IMAP_TIMEOUT_SECONDS = _int("IMAP_TIMEOUT_SECONDS", 30)
    INBOUND_MAX_BYTES = _int("INBOUND_MAX_BYTES", 25 * 1024 * 1024)

    # Outgoing webhooks (app/webhooks; SPEC "Outgoing webhooks"): each POST waits at most
    # WEBHOOK_TIMEOUT_SECONDS; endpoints on loopback, private, link-local or metadata addresses are
    # refused unless WEBHOOK_ALLOW_PRIVATE (tests, trusted networks); the background loop looks for
    # due deliveries every WEBHOOK_POLL_SECONDS (and at once after a commit that queued some).
    WEBHOOK_TIMEOUT_SECONDS = _float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
    WEBHOOK_ALLOW_PRIVATE = _bool("WEBHOOK_ALLOW_PRIVATE")
    WEBHOOK_POLL_SECONDS = _int("WEBHOOK_POLL_SECONDS", 5)

    # Where mail links point. Unset: this machine, on the port `flask run` serves (FLASK_RUN_PORT,
    # which `make run PORT=...` sets), so links follow a portal moved off 5000.
    APP_BASE_URL = (os.environ.get("APP_BASE_URL")
                    or f"http://127.0.0.1:{os.environ.get('FLASK_RUN_PORT') or 5000}").rstrip("/")
    # How many proxies in front (nginx, a load balancer) set X-Forwarded-For / -Proto. 0: none,
    # the headers are ignored, so a client cannot pick the address the rate limits count.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    # The host names the portal answers to (comma-separated; `.example.com` takes its subdomains);
    # a request naming another Host gets 400. Unset: APP_BASE_URL's host and the loopback names
    # (app/security.py), so a reverse proxy must pass the public Host through.
    TRUSTED_HOSTS = [name.strip() for name in os.environ.get("TRUSTED_HOSTS", "").split(",") if name.strip()] or None

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or "memory://"
    # Several instances share counters through Redis (redis://host:6379/0); while it is down each
    # process counts on its own rather than failing every rate-limited request.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN") or "10 per minute"
    RATELIMIT_TOKENS = os.environ.get("RATELIMIT_TOKENS") or "10 per minute"  # POST /auth/tokens
    RATELIMIT_HEADERS_ENABLED = True
    # Wrong passwords per (username, client address) before that client waits (429, Retry-After):
    # 30 s, doubling with each further failure up to LOGIN_THROTTLE_MAX_SECONDS. One address failing
    # across any usernames waits after LOGIN_THROTTLE_ADDRESS_FAILURES (app/auth/throttle.py).
    LOGIN_THROTTLE_FAILURES = _int("LOGIN_THROTTLE_FAILURES", 5)
    LOGIN_THROTTLE_ADDRESS_FAILURES = _int("LOGIN_THROTTLE_ADDRESS_FAILURES", 50)
    LOGIN_THROTTLE_MAX_SECONDS = _int("LOGIN_THROTTLE_MAX_SECONDS", 900)
    # Roles that must sign in with a second factor (TOTP), comma-separated, e.g. "admin": such a user
    # sets it up before any other page opens, and cannot turn it off. Empty: it is each user's choice.
    REQUIRE_2FA_ROLES = [role.strip().lower() for role in os.environ.get("REQUIRE_2FA_ROLES", "").split(",")
                         if role.strip()]
    API_TOKEN_TTL_DAYS = _int("API_TOKEN_TTL_DAYS", 30)
    PASSWORD_MIN_LENGTH = _int("PASSWORD_MIN_LENGTH", 8)
    # Password reset by mail: how long a link works, how often one address may be sent one, how
    # many /forgot requests one client address may make, and how long /forgot takes to answer at
    # least (longer than writing a mail, so its time does not tell whether the account exists).
    PASSWORD_RESET_MAX_AGE_SECONDS = _int("PASSWORD_RESET_MAX_AGE_SECONDS", 3600)
    PASSWORD_RESET_MAIL_INTERVAL_SECONDS = _int("PASSWORD_RESET_MAIL_INTERVAL_SECONDS", 300)
    RATELIMIT_FORGOT = os.environ.get("RATELIMIT_FORGOT") or "5 per minute"
    PASSWORD_RESET_ANSWER_SECONDS = _float("PASSWORD_RESET_ANSWER_SECONDS", 0.1)

    # The "business" SLA calendar (app/incidents/calendar.py; SPEC "Priority and SLA"): an IANA time
    # zone; weekly windows in its local wall-clock time, comma-separated groups like "Mon-Fri 09:00-17:00"
    # or "Sat 10:00-14:00" (a window ends by 24:00; a night shift is two groups); and local ISO dates
    # with no business hours, comma-separated. A bad value stops start-up, naming it
    # (app/__init__.py check_sla_calendar).
    SLA_TIMEZONE = os.environ.get("SLA_TIMEZONE", "").strip() or "UTC"
    SLA_BUSINESS_HOURS = os.environ.get("SLA_BUSINESS_HOURS", "").strip() or "Mon-Fri 09:00-17:00"
    SLA_HOLIDAYS = os.environ.get("SLA_HOLIDAYS", "").strip()
    # How often the loop that delivers the outbox also gives the SLA warnings due (app/mail/sender.py,
    # app/incidents/sla_warnings.py); 0 turns that off, for deployments that run `flask sla check` from cron.
    SLA_CHECK_SECONDS = _int("SLA_CHECK_SECONDS", 30)
    # A warning or breach found more than this long after it fell due goes on the timeline without
    # mail: after an upgrade or an import, old overdue incidents would otherwise mail every admin.
    SLA_NOTICE_MAX_DELAY_SECONDS = _int("SLA_NOTICE_MAX_DELAY_SECONDS", 86_400)

    # API answers to repeated GETs and the dashboard's body are reused until the next commit to the
    # database, and for at most this long (app/caching.py; SQLite only). 0 turns both off.
    RESPONSE_CACHE_SECONDS = _float("RESPONSE_CACHE_SECONDS", 1.0)

    MAX_CONTENT_LENGTH = 1024 * 1024
    # Attachments (app/incidents/attachments.py): the largest file taken (413 above it), and where the
    # files live (default: attachments/ in the instance folder; point it at a volume in containers).
    # Only the upload routes read bodies past MAX_CONTENT_LENGTH, up to this per file plus the form.
    ATTACHMENT_MAX_BYTES = _int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
    ATTACHMENT_DIR = os.environ.get("ATTACHMENT_DIR", "").strip() or None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # "Keep me logged in" is a signed cookie the server cannot revoke: two weeks, not Flask-Login's year.
    REMEMBER_COOKIE_DURATION = timedelta(days=_int("REMEMBER_COOKIE_DAYS", 14))
    WTF_CSRF_TIME_LIMIT = None
    BOOTSTRAP_SERVE_LOCAL = True

    TESTING = False
    DEBUG = False


class DevelopmentConfig(Config):
    """`make run`: local development on the embedded SQLite file."""

    DEBUG = False


class TestingConfig(Config):
    """The test suite: each test app points DATABASE_URL at its own file."""

    TESTING = True
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = True
    OUTBOX_BACKGROUND_SENDER = False
    MAIL_SERVER = None
    SECRET_KEY = "test-secret-key"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    # Off by default so each test sees every request computed; tests/test_caching.py turns it on.
    RESPONSE_CACHE_SECONDS = 0


class ProductionConfig(Config):
    """Behind gunicorn: refuses to start with the default secret key."""

    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE

    @classmethod
    def validate(cls) -> None:
        """Refuse insecure settings before the app serves anything."""
        if cls.SECRET_KEY == DEFAULT_SECRET_KEY or len(cls.SECRET_KEY) < 16:
            raise RuntimeError(
                "SECRET_KEY is unset or the insecure default; set a long random SECRET_KEY "
                "(python -c 'import secrets; print(secrets.token_hex(32))')"
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None) -> type[Config]:
    """The config class named by APP_ENV (default: development)."""
    key = (name or os.environ.get("APP_ENV") or "development").strip().lower()
    if key not in CONFIGS:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {key!r}")
    return CONFIGS[key]
