"""A minimal webhook receiver for trying the portal's webhooks: it verifies each delivery with the
Standard Webhooks reference library and logs one line (README, "Outgoing webhooks").

    WEBHOOK_SECRET=whsec_... .venv/bin/python scripts/webhook_receiver.py   # listens on 127.0.0.1:8765

A forged, altered or stale delivery is refused with 400 (the portal records it and retries)."""
import json
import logging
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO)
HOOK = Webhook(os.environ["WEBHOOK_SECRET"])


class Receiver(BaseHTTPRequestHandler):
    """POST: verify, log, answer 204 (or 400 when the signature does not hold)."""

    def do_POST(self) -> None:  # noqa: N802 -- http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            event = HOOK.verify(body, dict(self.headers))
        except WebhookVerificationError as exc:
            logging.warning("refused %s: %s", self.headers.get("webhook-id"), exc)
            self.send_response(400)
            self.end_headers()
            return
        incident = event["data"]["incident"]
        logging.info("verified %s %s %s %s", self.headers["webhook-id"], event["type"], incident["reference"],
                     json.dumps(incident["title"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        """Quiet: one line per delivery is logged above."""


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8765"))), Receiver).serve_forever()
