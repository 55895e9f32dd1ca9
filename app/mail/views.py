"""Admin pages for the outbox: failed messages, retry."""
from flask import Blueprint

bp = Blueprint("outbox", __name__, url_prefix="/ui/outbox")
