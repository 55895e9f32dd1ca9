"""The HTML portal."""
from flask import Blueprint

from app.models import MAX_ID

bp = Blueprint("web", __name__)
# An id in a URL: anything wider than a database integer is a 404, not an overflow in the driver.
ID = f"int(max={MAX_ID})"

from app.web import account, actions, incidents, routes, users  # noqa: E402,F401  (views register on bp)
