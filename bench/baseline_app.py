"""The ceiling of this stack on this machine: Flask answering a small constant JSON, no database,
no auth. `make bench` serves it with the portal's own gunicorn settings and divides by it."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def ping():
    """A small constant JSON answer, about the size of a health check."""
    return {"status": "ok", "service": "baseline"}
