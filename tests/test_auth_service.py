"""Account rules that protect the portal from locking itself out."""
import pytest

from app.auth.roles import Role
from app.auth.service import create_user, update_user
from app.exceptions import InvalidInput, TransitionNotAllowed
from app.extensions import db
from tests import factories


@pytest.mark.parametrize("change", [{"active": False}, {"role": "technician"}])
def test_the_last_active_admin_cannot_be_removed(people, change):
    """Demoting or deactivating the only admin is refused (409) and changes nothing."""
    with pytest.raises(TransitionNotAllowed, match="last active admin"):
        update_user(user=people["admin"], **change)
    db.session.expire_all()
    assert people["admin"].active and people["admin"].role == Role.ADMIN


def test_an_admin_can_step_down_once_another_admin_exists(people):
    """With a second active admin, the first may be demoted."""
    factories.make_user(Role.ADMIN)
    update_user(user=people["admin"], role="reporter")
    assert people["admin"].role == Role.REPORTER


def test_an_inactive_admin_does_not_count(people):
    """A deactivated admin cannot keep the portal administrable."""
    factories.make_user(Role.ADMIN, active=False)
    with pytest.raises(TransitionNotAllowed):
        update_user(user=people["admin"], active=False)


@pytest.mark.parametrize(("field", "value"), [("username", "carol\n"), ("email", "carol@example.com\n"),
                                              ("email", "a@b.co\nBcc: x@evil.test")])
def test_a_trailing_newline_never_passes_for_a_name_or_address(app, field, value):
    """`$` would match before a final newline; a newline in a mail header is an injection."""
    args = {"username": "carol", "password": "long-enough", "role": "reporter", "email": "c@example.com",
            field: value}
    with pytest.raises(InvalidInput) as error:
        create_user(**args)
    assert field in error.value.errors
