"""Saved views in the portal: the navigation's "Views" menu, and saving, renaming, updating or deleting
one from the list.

The menu's data is the template global `views_nav`, read once per request (one query, the owners
joined) however often a page asks. Saving re-reads the list's query through the list's own parser,
so only filters the list understands are stored; the rules are app.incidents.saved_views'. The
forms' fields are read as sent (CSRFProtect has checked the token; the domain checks the rest):
`view-name`, `view-shared`, the list's own filter names and `sort`; `next` for a rename or a delete."""
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import flash, g, redirect, request, url_for
from flask_login import current_user, login_required

from app.auth.roles import Role
from app.exceptions import DomainError, InvalidInput, PermissionDenied
from app.incidents import saved_views
from app.web import bp
from app.web.listing import ListQuery, parse_list_query


@dataclass(frozen=True)
class ViewLink:
    """One entry of the menu: where it leads and whether it is the list shown now."""

    name: str
    url: str
    current: bool = False
    view_id: int | None = None  # None for a built-in view
    shared: bool = False
    owner: str | None = None  # who shared it, for someone else's shared view
    changeable: bool = False  # renamed, given the list shown, or deleted by the current user


@dataclass(frozen=True)
class ViewsNav:
    """The current user's views, grouped as the menu shows them."""

    defaults: list[ViewLink] = field(default_factory=list)
    mine: list[ViewLink] = field(default_factory=list)
    team: list[ViewLink] = field(default_factory=list)  # shared by someone else

    @property
    def current(self) -> ViewLink | None:
        return next((link for link in (*self.defaults, *self.mine, *self.team) if link.current), None)


def _key(filters: dict, sort: str) -> tuple:
    """What makes two lists the same list: the filters (order of repeated values aside) and the sort."""
    return tuple(sorted((name, tuple(sorted(value)) if isinstance(value, list) else value)
                        for name, value in filters.items())), sort


@bp.app_template_global("views_nav")
def views_nav(shown: ListQuery | None = None) -> ViewsNav:
    """The menu's entries for the current user, built once per request; `shown` is the list the page
    shows (the list page passes its query), whose entry is marked current."""
    # Kept with the request it was built for: an app context can outlive one request (the tests hold one).
    built = g.get("views_nav")
    if built is None or built[0] is not request._get_current_object():
        built = g.views_nav = (request._get_current_object(), _build_nav(shown))
    return built[1]


def _build_nav(query: ListQuery | None) -> ViewsNav:
    shown = _key(query.args, query.sort) if query is not None else None
    marked = False

    def link(name: str, filters: dict, sort: str, **more) -> ViewLink:
        nonlocal marked
        current = not marked and shown == _key(filters, sort)  # aria-current on one entry only
        marked = marked or current
        return ViewLink(name=name, url=url_for("web.incidents", **filters, sort=sort), current=current, **more)

    nav = ViewsNav()
    for default in saved_views.defaults_for(current_user):
        nav.defaults.append(link(default.name, default.filters, default.sort))
    admin = current_user.role == Role.ADMIN
    for view in saved_views.views_for(actor=current_user):
        own = view.owner_id == current_user.id
        entry = link(view.name, view.filters, view.sort, view_id=view.id, shared=view.shared,
                     owner=None if own else view.owner.name, changeable=own or admin)
        (nav.mine if own else nav.team).append(entry)
    return nav


def _back_to_list(target: str | None = None):
    """To `target` when it is the list (with any query), else the list itself."""
    home = url_for("web.incidents")
    if target and (target == home or target.startswith(home + "?")) \
            and not any(ord(char) < 32 or ord(char) == 127 for char in target) \
            and "\\" not in target and not urlsplit(target).netloc:
        return redirect(target)
    return redirect(home)


@bp.post("/ui/views/")
@login_required
def save_view():
    """Save what the list shows (its filters and sort, read again by the list's parser) under a name."""
    query = parse_list_query(request.form, current_user)
    try:
        view = saved_views.create(actor=current_user, name=request.form.get("view-name", ""), filters=query.args,
                                  sort=query.sort, shared="view-shared" in request.form)
    except DomainError as exc:
        flash(f"The view was not saved: {_message(exc)}", "danger")
        return _back_to_list(url_for("web.incidents", **query.url_args(page=None)))
    flash(f"Saved the view \u201c{view.name}\u201d{' and shared it with the team' if view.shared else ''}. "
          "It is in the Views menu.", "success")
    return _back_to_list(url_for("web.incidents", **view.filters, sort=view.sort))


@bp.post("/ui/views/<id:view_id>/rename")
@login_required
def rename_view(view_id: int):
    """Give a view another name (its owner, or an admin), then back to the list."""
    try:
        view = saved_views.update(actor=current_user, view_id=view_id, name=request.form.get("view-name", ""))
    except DomainError as exc:
        flash(f"The view was not renamed: {_message(exc)}", "danger")
    else:
        flash(f"Renamed the view to \u201c{view.name}\u201d.", "success")
    return _back_to_list(request.form.get("next"))


@bp.post("/ui/views/<id:view_id>/replace")
@login_required
def replace_view(view_id: int):
    """Give a view the list as shown (its filters and sort, read again by the list's parser), then
    open it."""
    query = parse_list_query(request.form, current_user)
    try:
        view = saved_views.update(actor=current_user, view_id=view_id, filters=query.args, sort=query.sort)
    except DomainError as exc:
        flash(f"The view was not changed: {_message(exc)}", "danger")
        return _back_to_list(url_for("web.incidents", **query.url_args(page=None)))
    flash(f"The view \u201c{view.name}\u201d now shows this list.", "success")
    return _back_to_list(url_for("web.incidents", **view.filters, sort=view.sort))


def _message(exc: DomainError) -> str:
    """What went wrong, for a flash: a field's messages, or the error's own."""
    return " ".join(exc.errors.get("name", [exc.message])) if isinstance(exc, InvalidInput) else exc.message


@bp.post("/ui/views/<id:view_id>/delete")
@login_required
def delete_view(view_id: int):
    """Delete a view (its owner, or an admin), then back to the list."""
    try:
        name = saved_views.delete(actor=current_user, view_id=view_id)
    except PermissionDenied as exc:
        flash(exc.message, "danger")
    else:
        flash(f"Deleted the view \u201c{name}\u201d.", "success")
    return _back_to_list(request.form.get("next"))
