"""The JSON API (Flask-RESTful)."""
from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import health  # noqa: E402,F401
