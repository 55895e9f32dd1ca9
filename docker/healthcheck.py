"""The image's HEALTHCHECK: exit 0 when this container's gunicorn answers GET /health/ready with 200,
that is when the database accepts writes (GET /health only proves it answers reads)."""
import os
import sys
import urllib.request

port = os.environ.get("GUNICORN_BIND", "0.0.0.0:5000").rsplit(":", 1)[1]
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=4) as response:  # noqa: S310
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:  # refused, timed out, or an HTTP error status such as 503
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)
