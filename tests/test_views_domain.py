"""app.incidents.saved_views: who sees which views, what a name and filters may be, who may share
and delete, and the built-in views."""
import pytest

from app.exceptions import InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.incidents import saved_views
from app.incidents.saved_views import MAX_VIEWS_PER_USER, ViewConflict
from app.models import SavedView


def names(user) -> list[str]:
    db.session.rollback()
    return [view.name for view in saved_views.views_for(actor=user)]


def test_own_and_shared_views_by_name(people):
    """Each sees their own and the shared ones, by name whatever the case; never another's private one."""
    saved_views.create(actor=people["tech"], name="zeta", filters={"status": ["open"]})
    saved_views.create(actor=people["tech"], name="Alpha", filters={})
    saved_views.create(actor=people["admin"], name="Team P1s", filters={"priority": ["P1"]}, shared=True)
    saved_views.create(actor=people["admin"], name="admin only", filters={})

    assert names(people["tech"]) == ["Alpha", "Team P1s", "zeta"]
    assert names(people["admin"]) == ["admin only", "Team P1s"]
    assert names(people["tech_other"]) == ["Team P1s"]
    assert names(people["reporter"]) == ["Team P1s"]


def test_create_stores_the_query_string_form(people):
    """Trimmed name; repeatable filters as lists (a single text taken as one, each value once); empty
    ones dropped; q's spaces folded; the sort kept."""
    view = saved_views.create(actor=people["tech"], name="  Mine  ", sort="-priority", filters={
        "status": ["assigned", "in_progress", "assigned"], "severity": "high", "category": [],
        "technician": "me", "q": "  disk   full ", "reporter": ""})
    db.session.expire_all()
    stored = db.session.get(SavedView, view.id)
    assert (stored.name, stored.sort, stored.shared, stored.owner_id) == ("Mine", "-priority", False, people["tech"].id)
    assert stored.filters == {"status": ["assigned", "in_progress"], "severity": ["high"], "technician": "me",
                              "q": "disk full"}


@pytest.mark.parametrize("name, message", [
    ("", "Give the view a name."), ("   ", "Give the view a name."), ("x" * 81, "Must be at most 80 characters."),
    ("a\nb", "Must not hold control characters."), (None, "Must be text."), (12, "Must be text.")])
def test_bad_names_are_refused(people, name, message):
    with pytest.raises(InvalidInput) as refused:
        saved_views.create(actor=people["tech"], name=name, filters={})
    assert refused.value.errors == {"name": [message]}
    assert names(people["tech"]) == []


def test_eighty_characters_after_trimming_is_fine(people):
    saved_views.create(actor=people["tech"], name=" " + "é" * 80 + " ", filters={})
    assert names(people["tech"]) == ["é" * 80]


@pytest.mark.parametrize("filters, field", [
    ({"colour": ["red"]}, "filters.colour"), ({"page": "2"}, "filters.page"), ({"sort": "priority"}, "filters.sort"),
    ({"status": ["nope"]}, "filters.status"), ({"status": [1]}, "filters.status"),
    ({"status": {"a": 1}}, "filters.status"),
    ({"severity": None}, "filters.severity"), ({"technician": 5}, "filters.technician"),
    ({"technician": "<script>"}, "filters.technician"), ({"reporter": "none"}, "filters.reporter"),
    ({"q": "a\x00b"}, "filters.q"), ({"q": "x" * 201}, "filters.q"), ({"q": ["a"]}, "filters.q")])
def test_bad_filters_are_refused_naming_the_filter(people, filters, field):
    with pytest.raises(InvalidInput) as refused:
        saved_views.create(actor=people["tech"], name="v", filters=filters)
    assert list(refused.value.errors) == [field]
    assert names(people["tech"]) == []


@pytest.mark.parametrize("filters", [[], "status=open", None, 3])
def test_filters_must_be_an_object(people, filters):
    with pytest.raises(InvalidInput) as refused:
        saved_views.create(actor=people["tech"], name="v", filters=filters)
    assert list(refused.value.errors) == ["filters"]


@pytest.mark.parametrize("sort", ["title", "--priority", "", None, "+priority", "priority "])
def test_bad_sorts_are_refused(people, sort):
    with pytest.raises(InvalidInput) as refused:
        saved_views.create(actor=people["tech"], name="v", filters={}, sort=sort)
    assert list(refused.value.errors) == ["sort"]


def test_a_technician_username_is_a_filter_value(people):
    view = saved_views.create(actor=people["admin"], name="Tech's", filters={"technician": "techother"})
    assert view.filters == {"technician": "techother"}


def test_a_name_is_unique_per_owner_whatever_the_case(people):
    saved_views.create(actor=people["tech"], name="Network", filters={})
    with pytest.raises(ViewConflict) as refused:
        saved_views.create(actor=people["tech"], name=" network ", filters={"status": ["open"]})
    assert refused.value.status == 409
    assert "already have a view named" in refused.value.message
    saved_views.create(actor=people["tech_other"], name="Network", filters={})  # another owner: fine
    assert names(people["tech"]) == ["Network"]


def test_a_user_keeps_at_most_the_limit(people):
    for n in range(MAX_VIEWS_PER_USER):
        db.session.add(SavedView(owner_id=people["reporter"].id, name=f"v{n}", filters={}, sort="-created_at"))
    db.session.commit()
    with pytest.raises(ViewConflict) as refused:
        saved_views.create(actor=people["reporter"], name="one more", filters={})
    assert "delete one first" in refused.value.message
    assert len(names(people["reporter"])) == MAX_VIEWS_PER_USER


@pytest.mark.parametrize("role", ["tech", "reporter"])
def test_only_admins_share(people, role):
    with pytest.raises(PermissionDenied):
        saved_views.create(actor=people[role], name="for all", filters={}, shared=True)
    assert names(people[role]) == []


def test_delete_own_and_an_admin_deletes_any(people):
    mine = saved_views.create(actor=people["tech"], name="mine", filters={})
    private = saved_views.create(actor=people["tech"], name="private", filters={})
    assert saved_views.delete(actor=people["tech"], view_id=mine.id) == "mine"
    assert saved_views.delete(actor=people["admin"], view_id=private.id) == "private"
    assert names(people["tech"]) == []


def test_others_cannot_delete_and_private_views_stay_hidden(people):
    private = saved_views.create(actor=people["tech"], name="private", filters={})
    shared = saved_views.create(actor=people["admin"], name="shared", filters={}, shared=True)
    for role in ("tech_other", "reporter"):
        with pytest.raises(NotFound):
            saved_views.delete(actor=people[role], view_id=private.id)
        with pytest.raises(PermissionDenied):
            saved_views.delete(actor=people[role], view_id=shared.id)
    with pytest.raises(NotFound):
        saved_views.delete(actor=people["tech"], view_id=999_999)
    assert names(people["tech"]) == ["private", "shared"]


def test_the_built_in_views(people):
    """Staff: My queue (theirs, being worked, P1 first), Unassigned (open, nobody), Breaching soon (at risk or
    breached, soonest due first). A reporter: My queue, their own still active, by last update."""
    staff = {view.name: (view.filters, view.sort) for view in saved_views.defaults_for(people["tech"])}
    assert staff == {
        "My queue": ({"status": ["assigned", "in_progress", "on_hold"], "technician": "me"}, "priority"),
        "Unassigned": ({"status": ["open"], "technician": "none"}, "-created_at"),
        "Breaching soon": ({"sla": ["at_risk", "breached"]}, "resolve_due_at"),
    }
    assert saved_views.defaults_for(people["admin"]) == saved_views.defaults_for(people["tech"])
    reporter = saved_views.defaults_for(people["reporter"])
    assert [(v.name, v.filters, v.sort) for v in reporter] == [
        ("My queue", {"status": ["open", "assigned", "in_progress", "on_hold"], "reporter": "me"}, "-updated_at")]
    for view in (*saved_views.STAFF_DEFAULTS, *saved_views.REPORTER_DEFAULTS):  # each is a view one could save
        assert saved_views.clean_filters(view.filters) == view.filters and saved_views.clean_sort(view.sort)
