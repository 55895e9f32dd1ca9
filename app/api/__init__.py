"""The JSON API (Flask-RESTful): every resource is listed in `routes.py`."""
from flask import Blueprint

from app.extensions import csrf

bp = Blueprint("api", __name__, template_folder="templates")
# The API never reads cookies, so a cross-site form cannot act through it: no CSRF token needed.
csrf.exempt(bp)

from app.api import browser, docs, routes  # noqa: E402,F401  (they register themselves on bp)
