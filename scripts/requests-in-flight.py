"""Requests caught by a shutdown: `requests-in-flight.py BASE_URL TOKEN N` sends N incident
creations (POST /incidents/), each on its own connection with its body cut in two. Once every
server thread holds one half-received request it prints `ready`; 2 s later it sends the rest,
then prints each answer (`201 <id> <title>`). scripts/image-test.sh sends SIGTERM on `ready`: a
graceful stop answers all N, and a 201 means the incident was kept. Exit 1 if any answer is not
201 or the connection broke. Standard library only, so any Python 3 runs it."""
import json
import socket
import sys
import time
from urllib.parse import urlsplit

SETTLE_SECONDS = 0.5  # for every worker to accept its connection and start reading the request
PAUSE_SECONDS = 2.0  # between `ready` and the rest of each body: the SIGTERM lands meanwhile


def main(base_url: str, token: str, count: int) -> int:
    """Send, pause, finish, report; 0 when every request was answered 201."""
    url = urlsplit(base_url)
    sent = []
    for number in range(1, count + 1):
        title = f"In flight at shutdown {number} ({int(time.time())})"
        body = json.dumps({"title": title, "description": "Sent while the portal was stopping.",
                           "severity": "low", "category": "other"}).encode()
        head = (f"POST /incidents/ HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        connection = socket.create_connection((url.hostname, url.port), timeout=30)
        connection.sendall(head.encode() + body[: len(body) // 2])
        sent.append((connection, title, body[len(body) // 2:]))
    time.sleep(SETTLE_SECONDS)
    print("ready", flush=True)
    time.sleep(PAUSE_SECONDS)
    failures = 0
    for connection, title, rest in sent:
        try:
            connection.sendall(rest)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        except OSError as exc:
            print(f"broken {title}: {exc}", flush=True)
            failures += 1
            continue
        finally:
            connection.close()
        head, _, payload = answer.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1].decode() if head else "none"
        incident_id = json.loads(payload).get("id") if status == "201" else "-"
        print(f"{status} {incident_id} {title}", flush=True)
        failures += status != "201"
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
