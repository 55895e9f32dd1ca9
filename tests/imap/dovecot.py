"""A real IMAP server for the inbound-mail tests: Debian's dovecot, run from a config of its own in
a temp folder on free ports of 127.0.0.1 (its own base_dir, a passwd-file per test user, maildirs,
a self-signed certificate for IMAPS and STARTTLS, its log in a file). Nothing of the machine's own
dovecot setup is read or changed, so two pytest-xdist workers can each run one.

As root, the master stays root (it must bind and drop privileges) and the mail is owned by the
`dovecot` account (dovecot refuses to serve mail as uid 0). As anyone else, every process runs as
that user, which dovecot allows when the login and internal users are that user too."""
import fcntl
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
IMAP_SERVICE = "/usr/lib/dovecot/imap"  # dovecot-imapd's part (dovecot-core alone serves no IMAP)
START_TIMEOUT_SECONDS = 15


class DovecotMissing(RuntimeError):
    """dovecot is not installed: the IMAP tests cannot run (and must not pass)."""


def installed() -> bool:
    """Whether dovecot and its IMAP service are on this machine."""
    return os.path.exists(DOVECOT) and os.access(IMAP_SERVICE, os.X_OK)


def ensure_installed() -> None:
    """Install Debian's dovecot-imapd when missing (as root, like `make dovecot`), else fail loudly.
    Two xdist workers may both find it missing: a file lock lets one install while the other waits."""
    if installed():
        return
    with open(Path(tempfile.gettempdir()) / "portal-dovecot-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed():
            return
        result = subprocess.run([str(PROJECT_ROOT / "scripts" / "ensure-debian-package"), IMAP_SERVICE,
                                 "dovecot-imapd", "the IMAP tests (tests/imap)"], capture_output=True, text=True)
    if result.returncode != 0 or not installed():
        raise DovecotMissing(result.stderr.strip() or "dovecot-imapd did not install")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Account:
    """One mailbox owner on the server."""

    user: str
    password: str


class Dovecot:
    """One throwaway dovecot: `start()`, `add_account()` per test, `stop()` at the end.

    `capabilities`: when given, the exact CAPABILITY list the server announces after login
    (e.g. without MOVE, to drive a client's COPY + EXPUNGE fallback)."""

    def __init__(self, *, capabilities: str | None = None) -> None:
        ensure_installed()
        self.root = Path(tempfile.mkdtemp(prefix="portal-imap-"))
        self.host = "127.0.0.1"
        self.imap_port = free_port()  # plain IMAP; login only after STARTTLS
        self.imaps_port = free_port()  # IMAP over TLS
        self.cert_file = self.root / "cert.pem"
        self.log_file = self.root / "dovecot.log"
        self._capabilities = capabilities
        self._users_dir = self.root / "users"
        self._process: subprocess.Popen | None = None
        as_root = os.geteuid() == 0
        owner = pwd.getpwnam("dovecot") if as_root else pwd.getpwuid(os.geteuid())
        self._mail_uid, self._mail_gid = owner.pw_uid, owner.pw_gid
        self._service_user = "dovecot" if as_root else owner.pw_name
        self._service_group = grp.getgrgid(owner.pw_gid).gr_name
        self._login_user = "dovenull" if as_root else owner.pw_name

    def start(self) -> "Dovecot":
        """Write the certificate, the users file and the config; run dovecot until both ports answer."""
        self.root.chmod(0o755)  # the mail user (not the owner when root) reaches its maildir
        (self.root / "mail").mkdir()
        os.chown(self.root / "mail", self._mail_uid, self._mail_gid)
        self._users_dir.mkdir()
        self._make_certificate()
        config = self.root / "dovecot.conf"
        config.write_text(self._config(), encoding="utf-8")
        self._process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not (self._answers(self.imap_port) and self._answers(self.imaps_port)):
            if self._process.poll() is not None or time.monotonic() > deadline:
                error = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                self.stop()
                raise RuntimeError(f"dovecot did not start: {error}\n{self.log()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """End dovecot and all its children, and remove its folder."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(10)
        if self._process is not None and self._process.stderr:
            self._process.stderr.close()
        self._process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def add_account(self, user: str | None = None) -> Account:
        """A new user with an empty mailbox (dovecot rereads the passwd-file when it changes)."""
        account = Account(user or f"portal{secrets.token_hex(4)}", secrets.token_urlsafe(12))
        home = self.root / "mail" / account.user
        # One passwd-file per user (the path names %u): dovecot reads a new file at its first login,
        # where a shared file would only be re-read once a second.
        (self._users_dir / account.user).write_text(
            f"{account.user}:{{PLAIN}}{account.password}:{self._mail_uid}:{self._mail_gid}::{home}::\n",
            encoding="utf-8")
        return account

    def log(self) -> str:
        """What dovecot logged so far."""
        return self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate only."""
        return ssl.create_default_context(cafile=str(self.cert_file))

    def _make_certificate(self) -> None:
        key = self.root / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", str(key), "-out", str(self.cert_file)],
                       check=True, capture_output=True)
        key.chmod(0o644)  # read by the login processes after they drop root

    def _config(self) -> str:
        root = self.root
        capability = f"imap_capability = {self._capabilities}\n" if self._capabilities is not None else ""
        return f"""\
# Written by tests/imap/dovecot.py for one test run; nothing outside {root} is read or written.
base_dir = {root}/run
state_dir = {root}/state
instance_name = portal-imap-{root.name}
log_path = {self.log_file}
info_log_path = {self.log_file}
protocols = imap
listen = {self.host}
default_login_user = {self._login_user}
default_internal_user = {self._service_user}
default_internal_group = {self._service_group}
first_valid_uid = {self._mail_uid}
last_valid_uid = {self._mail_uid}
ssl = required
ssl_cert = <{self.cert_file}
ssl_key = <{root}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0  # a refused login answers at once (the tests try some)
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self._users_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self._users_dir}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {self.host}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service pop3-login {{
  chroot =
}}
service submission-login {{
  chroot =
}}
service anvil {{
  chroot =
}}
{capability}"""

    def _answers(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=0.5):
                return True
        except OSError:
            return False
