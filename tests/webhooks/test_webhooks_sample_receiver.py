"""The README's sample receiver (scripts/webhook_receiver.py), run as the README says: it verifies a
real delivery with the reference library and logs the line the README shows, and refuses (400) a
delivery signed with another secret, which the portal then records as a failed attempt."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from app.webhooks import endpoints
from tests import factories

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "webhook_receiver.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(secret: str, port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, str(SCRIPT)], env={**os.environ, "WEBHOOK_SECRET": secret,
                                                                   "PORT": str(port)},
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the sample receiver did not listen: {process.stderr.read()}")


def _log_of(process: subprocess.Popen) -> str:
    process.terminate()
    return process.communicate(timeout=10)[1]


def test_the_sample_receiver_verifies_a_real_delivery_and_refuses_a_forged_one(app, admin, reporter, drain,
                                                                                deliveries):
    port = _free_port()
    endpoint, secret = endpoints.create_endpoint(actor=admin, url=f"http://127.0.0.1:{port}/portal", events=["*"])
    process = _start(secret, port)
    try:
        incident = factories.make_incident(reporter, title="Printer on floor 2 jams")
        assert drain().delivered == 1
    finally:
        log = _log_of(process)
    [row] = deliveries(endpoint.id)
    assert f'verified {row.webhook_id} incident.created INC-{incident.id} "Printer on floor 2 jams"' in log
    assert row.last_status_code == 204

    _other, _ = endpoints.rotate_secret(actor=admin, endpoint_id=endpoint.id)
    process = _start("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB", port)  # trusts neither secret
    try:
        factories.make_incident(reporter, title="Forged")
        result = drain()
    finally:
        log = _log_of(process)
    assert result.delivered == 0 and result.retrying == 1
    assert "refused msg_" in log and "verified" not in log
    assert deliveries(endpoint.id)[-1].last_status_code == 400
