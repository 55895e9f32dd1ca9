"""The HTML portal."""
from flask import Blueprint

bp = Blueprint("web", __name__)
# An id in a URL: anything wider than a database integer is a 404, not an overflow in the driver.
# The id columns are INTEGER, which is 32 bits on PostgreSQL ("integer out of range" above 2**31 - 1).
ID = f"int(max={2**31 - 1})"

from app.web import account, actions, incidents, routes, users  # noqa: E402,F401  (views register on bp)
