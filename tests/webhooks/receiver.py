"""A real HTTP receiver for webhook tests: ThreadingHTTPServer on a loopback address, in a thread.

It records every request (path, headers, body), checks each signature the way a real receiver
would, with the reference implementation (`standardwebhooks.Webhook(secret).verify`), and answers
as told: a status code (200, 500, 301 with a Location, 410...), a hang past the sender's timeout,
or a connection closed without an answer."""
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    """One request as it arrived, with the secrets whose signature verified it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verified_by: list[str] = field(default_factory=list)
    verify_errors: list[str] = field(default_factory=list)

    @property
    def json(self) -> dict:
        """The body, parsed."""
        return json.loads(self.body)

    @property
    def signatures(self) -> list[str]:
        """The `v1,...` entries of the webhook-signature header."""
        return self.headers.get("webhook-signature", "").split()


class Receiver:
    """One server; `answer(...)`, `hang(...)` and `close_connections()` set how it answers next."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[Received] = []
        self._secrets: list[str] = []
        self._mode: tuple = ("status", 200, None)
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhook-receiver", daemon=True)

    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Where to point an endpoint (path /hook)."""
        return f"http://{self.host}:{self.port}/hook"

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def trust(self, secret: str) -> None:
        """Verify every later request with this secret too (one endpoint's current or old secret)."""
        self._secrets.append(secret)

    def answer(self, status: int, location: str | None = None) -> None:
        """Answer every later request with this status (and Location, for a redirect)."""
        self._mode = ("status", status, location)

    def hang(self, seconds: float) -> None:
        """Read each later request, then answer nothing for `seconds` (or until stopped)."""
        self._mode = ("hang", seconds, None)

    def close_connections(self) -> None:
        """Read each later request, then close the connection without an answer."""
        self._mode = ("close", None, None)

    def _record(self, received: Received) -> None:
        for secret in self._secrets:
            try:
                Webhook(secret).verify(received.body, received.headers)
                received.verified_by.append(secret)
            except WebhookVerificationError as exc:
                received.verify_errors.append(str(exc))
        with self._lock:
            self.received.append(received)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 -- the name http.server calls
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver._record(Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                mode, value, location = receiver._mode
                if mode == "close":
                    self.close_connection = True
                    return
                if mode == "hang":
                    receiver._release.wait(value)
                    self.close_connection = True
                    return
                self.send_response(value)
                if location:
                    self.send_header("Location", location)
                answer = b"ok" if 200 <= value < 300 else f"answer {value}".encode()
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args) -> None:  # noqa: A002 -- quiet test output
                return

        return Handler
