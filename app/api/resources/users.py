"""/users/ and /users/<id>: accounts (admins; technicians may list the technicians)."""
from flask_restful import Resource

from app.api.operations import operation
from app.api.schemas import UserCreateSchema, UserListSchema, UserSchema, UserUpdateSchema, shared
from app.auth import service as accounts
from app.auth.roles import Role
from app.incidents.references import absolute_url
from app.incidents.service import technicians


class UserList(Resource):
    """Every account."""

    tag = "users"

    @operation("List users", returns=UserListSchema, roles=(Role.ADMIN, Role.TECHNICIAN),
               description="Admins get every user, deactivated ones included, by username; technicians get "
                           "the active technicians (the people an incident can be assigned to).")
    def get(self, actor):
        """Everyone for admins; active technicians for technicians."""
        users = accounts.list_users() if actor.role == Role.ADMIN else technicians()
        return shared(UserListSchema).dump({"items": users})

    @operation("Create a user", body=UserCreateSchema, status=201, returns=UserSchema, roles=(Role.ADMIN,),
               headers={"Location": "The new user's URL."})
    def post(self, actor, body):
        """A new active account."""
        user = accounts.create_user(**body)
        return shared(UserSchema).dump(user), 201, {"Location": absolute_url("api.user", user_id=user.id)}


class User(Resource):
    """One account."""

    tag = "users"

    @operation("Get a user", returns=UserSchema, roles=(Role.ADMIN,))
    def get(self, user_id, actor):
        """One account by id."""
        return shared(UserSchema).dump(accounts.get_user(user_id))

    @operation("Change a user", body=UserUpdateSchema, returns=UserSchema, roles=(Role.ADMIN,), errors=(404, 409),
               description="Change the role, name or email, or deactivate (`active: false`): a deactivated "
                           "user cannot log in and their tokens stop working. Users are never deleted. "
                           "Demoting or deactivating the last active admin is refused (409). Deactivating "
                           "a technician, or giving them another role, while they hold active incidents "
                           "(assigned or in progress) is refused (409, the problem's `incidents` lists them) "
                           "unless the body says where they go: `reassign_to` (another active technician; "
                           "an in-progress incident goes back to `assigned`) or `unassign: true` (back to "
                           "`open`). Each incident moved gets a timeline event and mail. Not both (422); "
                           "only with `active: false` or a `role` that takes a technician off duty (422). "
                           "`reset_2fa: true` turns the user's two-factor sign-in off and deletes their recovery "
                           "codes (a lost phone); a role in REQUIRE_2FA_ROLES sets it up again at next sign-in.")
    def patch(self, user_id, actor, body):
        """Role, name, email, active flag or a 2FA reset; a leaving technician's incidents handed over."""
        user = accounts.get_user(user_id)
        return shared(UserSchema).dump(accounts.update_user(user=user, actor=actor, **body))
