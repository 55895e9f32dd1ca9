"""Coarse page gates by role; the fine rules live in `app.incidents.lifecycle`."""
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from app.auth.roles import Role


def role_required(*roles: Role):
    """Log in first; then 403 unless the user has one of `roles`."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator
