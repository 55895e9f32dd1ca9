"""The HTML portal."""
from flask import Blueprint

bp = Blueprint("web", __name__)

from app.web import account, actions, dashboard, incidents, sla_policies, users  # noqa: E402,F401  (views register on bp)
