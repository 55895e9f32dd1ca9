"""Saved list views: a name for a set of the incident list's filters and its sort.

A view is its owner's; an admin may share one, and then everyone sees it (in the navigation and in
`GET /views/`). Filters are kept exactly as the list's query string names them (`GET /incidents/`,
`/ui/incidents/`), so a view opens as a plain link to the list: what it shows is decided when it
is opened, by the list's own rules (`technician=me` is whoever opens it). The interfaces read the
filters first (the API through the list's query schema, the web through the list's parser); the
checks here keep anything else out of the table, whoever calls.

The built-in views ("My queue", "Unassigned", "Breaching soon") are data in this module, never
stored, so changing them changes them for everyone."""
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select

from app.auth.roles import Role
from app.database import write_transaction
from app.exceptions import DomainError, InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.incidents.enums import Category, Priority, Severity, SlaStanding, Status, Urgency
from app.incidents.lifecycle import ACTIVE_STATUSES, TITLE_MAX, is_staff
from app.incidents.queries import DEFAULT_SORT, SORTS
from app.models import SavedView, User, utcnow
from app.unset import UNSET

NAME_MAX = 80
MAX_VIEWS_PER_USER = 50
# The list's repeatable filters and the values each takes (the enums' values, as the query string has them).
REPEATABLE: dict[str, tuple[str, ...]] = {
    "status": tuple(s.value for s in Status),
    "severity": tuple(s.value for s in Severity),
    "category": tuple(c.value for c in Category),
    "priority": tuple(p.value for p in Priority),
    "urgency": tuple(u.value for u in Urgency),
    "sla": tuple(s.value for s in SlaStanding),
}
# The single-valued ones: a technician's id, `me`, `none` or username (whatever its case, as the list's
# filter takes it); a reporter's id or `me`; words.
_PERSON = r"me|[1-9][0-9]{0,17}"
SINGLE: dict[str, re.Pattern] = {
    "technician": re.compile(rf"^(?:{_PERSON}|none|[A-Za-z0-9_.~-]{{3,80}})$"),
    "reporter": re.compile(rf"^(?:{_PERSON})$"),
    "q": re.compile(r"^[^\x00-\x1f\x7f]*$"),
}
FILTER_NAMES = (*REPEATABLE, *SINGLE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ViewConflict(DomainError):
    """The owner already has a view by that name, or as many views as one may keep."""

    status = 409


@dataclass(frozen=True)
class DefaultView:
    """A built-in view: what everyone of a role finds in the navigation before saving any."""

    key: str
    name: str
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str = DEFAULT_SORT


_ACTIVE = [status.value for status in ACTIVE_STATUSES]
_WORKED = [status.value for status in ACTIVE_STATUSES if status != Status.OPEN]
STAFF_DEFAULTS = (
    # What I am working on: P1 first (the list breaks ties by time).
    DefaultView("my-queue", "My queue", {"status": _WORKED, "technician": "me"}, "priority"),
    DefaultView("unassigned", "Unassigned", {"status": [Status.OPEN.value], "technician": "none"}, "-created_at"),
    DefaultView("breaching-soon", "Breaching soon",
                {"sla": [SlaStanding.AT_RISK.value, SlaStanding.BREACHED.value]}, "resolve_due_at"),
)
REPORTER_DEFAULTS = (
    DefaultView("my-queue", "My queue", {"status": _ACTIVE, "reporter": "me"}, "-updated_at"),
)


def defaults_for(actor: User) -> tuple[DefaultView, ...]:
    """The built-in views for this user's role (the staff's need the whole queue; a reporter's, their own)."""
    return STAFF_DEFAULTS if is_staff(actor) else REPORTER_DEFAULTS


def views_for(*, actor: User) -> list[SavedView]:
    """The user's own views and every shared one, by name: one query (the owners come joined)."""
    return list(db.session.scalars(
        select(SavedView).where(or_(SavedView.owner_id == actor.id, SavedView.shared.is_(True)))
        .order_by(func.lower(SavedView.name), SavedView.name, SavedView.id)).unique())


def create(*, actor: User, name: str, filters: dict[str, Any], sort: str = DEFAULT_SORT,
           shared: bool = False) -> SavedView:
    """Save the list's `filters` and `sort` as `name` (trimmed, 1 to 80 characters, unique for this
    owner whatever the case). Only admins share; a user keeps at most MAX_VIEWS_PER_USER views."""
    name = clean_name(name)
    filters = clean_filters(filters)
    sort = clean_sort(sort)
    if shared:
        _check_sharer(actor)
    with write_transaction():  # holds the write lock: the name check and the insert cannot interleave
        owned = _check_name_free(actor, actor.id, name)
        if owned >= MAX_VIEWS_PER_USER:
            raise ViewConflict(f"You have {MAX_VIEWS_PER_USER} saved views, as many as one may keep; "
                               "delete one first.")
        view = SavedView(owner_id=actor.id, name=name, filters=filters, sort=sort, shared=bool(shared),
                         created_at=utcnow())
        db.session.add(view)
    return view


def update(*, actor: User, view_id: int, name: str = UNSET, filters: dict[str, Any] = UNSET,
           sort: str = UNSET, shared: bool = UNSET) -> SavedView:
    """Rename a view, give it other filters or another sort, or (admins) share or unshare it: only
    what is given changes, checked as on creation. Who may: as `delete` (its owner or an admin)."""
    given = {key: value for key, value in (("name", name), ("filters", filters), ("sort", sort),
                                            ("shared", shared)) if value is not UNSET}
    if not given:
        raise InvalidInput.field("name", "Send at least one of name, filters, sort and shared.")
    cleaners = {"name": clean_name, "filters": clean_filters, "sort": clean_sort, "shared": _clean_shared}
    changes = {key: cleaners[key](value) for key, value in given.items()}
    with write_transaction():
        view = _changeable(actor, view_id, "change")
        if "shared" in changes and changes["shared"] != view.shared:
            _check_sharer(actor)
        if "name" in changes and changes["name"].casefold() != view.name.casefold():
            _check_name_free(actor, view.owner_id, changes["name"])
        for key, value in changes.items():
            setattr(view, key, value)
    return view


def delete(*, actor: User, view_id: int) -> str:
    """Delete a view: its owner or an admin; answers its name. Someone else's private view is
    NotFound (no leak of its existence); a shared one they may see but not delete is PermissionDenied."""
    with write_transaction():
        view = _changeable(actor, view_id, "delete")
        name = view.name
        db.session.delete(view)
    return name


def _changeable(actor: User, view_id: int, verb: str) -> SavedView:
    """The view `actor` may change or delete (inside the caller's transaction)."""
    view = db.session.get(SavedView, view_id)
    if view is None or not (view.owner_id == actor.id or view.shared or actor.role == Role.ADMIN):
        raise NotFound(f"View {view_id} was not found.")
    if view.owner_id != actor.id and actor.role != Role.ADMIN:
        raise PermissionDenied(f"Only its owner or an admin may {verb} a shared view.")
    return view


def _check_sharer(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins may share a view with the team.")


def _check_name_free(actor: User, owner_id: int, name: str) -> int:
    """Refuse `name` when the owner has a view by it already, whatever the case; answers how many
    views the owner has (inside the caller's transaction, which holds the write lock)."""
    owned = list(db.session.scalars(select(SavedView.name).where(SavedView.owner_id == owner_id)))
    if any(existing.casefold() == name.casefold() for existing in owned):
        whose = "You already have" if owner_id == actor.id else "Its owner already has"
        raise ViewConflict(f"{whose} a view named \u201c{name}\u201d; pick another name.")
    return len(owned)


def _clean_shared(shared: Any) -> bool:
    if not isinstance(shared, bool):
        raise InvalidInput.field("shared", "Must be true or false.")
    return shared


def clean_name(name: Any) -> str:
    """The name as stored: trimmed; refused empty, too long or holding control characters."""
    if not isinstance(name, str):
        raise InvalidInput.field("name", "Must be text.")
    name = name.strip()
    if not name:
        raise InvalidInput.field("name", "Give the view a name.")
    if len(name) > NAME_MAX:
        raise InvalidInput.field("name", f"Must be at most {NAME_MAX} characters.")
    if _CONTROL.search(name):
        raise InvalidInput.field("name", "Must not hold control characters.")
    return name


def clean_sort(sort: Any) -> str:
    """One of the list's sort keys, `-` first for descending."""
    if not isinstance(sort, str) or sort.removeprefix("-") not in SORTS:
        raise InvalidInput.field("sort", f"Must be one of {', '.join(SORTS)}, each with or without a leading '-'.")
    return sort


def clean_filters(filters: Any) -> dict[str, str | list[str]]:
    """The filters as the list's query string carries them: known names only; a repeatable one a
    list of its allowed values (a single text taken as one), each once; empty ones dropped."""
    if not isinstance(filters, dict):
        raise InvalidInput.field("filters", "Must be an object mapping list filters to values.")
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str | list[str]] = {}
    for key, value in filters.items():
        if key not in FILTER_NAMES:
            errors[f"filters.{key}"[:100]] = [f"Unknown filter; the list's filters are {', '.join(FILTER_NAMES)}."]
        elif key in REPEATABLE:
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values) \
                    or not set(values) <= set(REPEATABLE[key]):
                errors[f"filters.{key}"] = [f"Must be a list of: {', '.join(REPEATABLE[key])}."]
            elif values:
                cleaned[key] = list(dict.fromkeys(values))
        else:
            if isinstance(value, str) and not value.strip():
                continue  # an empty filter is no filter, as in the query string
            if not isinstance(value, str) or len(value) > TITLE_MAX or not SINGLE[key].match(value.strip()):
                errors[f"filters.{key}"] = ["Not a value this filter takes."]
            else:
                cleaned[key] = " ".join(value.split())
    if errors:
        raise InvalidInput(errors)
    return cleaned
