"""The HTML portal."""
from flask import Blueprint

bp = Blueprint("web", __name__)

from app.web import (  # noqa: E402,F401  (views register on bp)
    account,
    actions,
    attachments,
    badges,
    bulk,
    dashboard,
    incidents,
    reports,
    rows,
    saved_views,
    sla_policies,
    text,
    users,
    watchers,
    webhooks,
)
