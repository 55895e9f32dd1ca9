"""The HTML portal."""
from flask import Blueprint

bp = Blueprint("web", __name__)

from app.web import routes  # noqa: E402,F401  (routes register themselves on bp)
