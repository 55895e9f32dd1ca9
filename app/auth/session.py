"""Flask-Login wiring: how a session cookie becomes a user."""
from app.extensions import db, login_manager
from app.models import User

login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user a session belongs to; deactivated users are logged out by Flask-Login."""
    if not user_id.isdigit():
        return None
    return db.session.get(User, int(user_id))
