"""The people a load or crash run needs, made in the database before the server starts, with a
bearer token each (so the clients spend no time hashing passwords)."""
from dataclasses import dataclass, field

from app import create_app
from app.auth.roles import Role
from app.auth.service import issue_token
from app.extensions import db
from tests import factories


@dataclass
class People:
    """Tokens by role, in a stable order, and how many admins get every 'created' mail."""

    admins: list[str] = field(default_factory=list)
    reporters: list[str] = field(default_factory=list)
    technicians: list[str] = field(default_factory=list)
    technician_ids: list[int] = field(default_factory=list)


def seed(database_url: str, *, admins: int = 2, reporters: int = 4, technicians: int = 2) -> People:
    """Users and one long-lived token each; the app's engine is closed before the server starts."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    people = People()
    with app.app_context():
        for role, number, tokens in ((Role.ADMIN, admins, people.admins), (Role.REPORTER, reporters, people.reporters),
                                     (Role.TECHNICIAN, technicians, people.technicians)):
            for n in range(number):
                user = factories.make_user(role, username=f"load_{role.value}{n}")
                tokens.append(issue_token(user=user, name="load")[1])
                if role == Role.TECHNICIAN:
                    people.technician_ids.append(user.id)
        db.session.remove()
        db.engine.dispose()
    return people


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
