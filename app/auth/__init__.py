"""Authentication: browser sessions (Flask-Login), API credentials, role gates for pages."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes, session  # noqa: E402,F401  (routes register themselves on bp)
