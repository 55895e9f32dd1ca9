"""The `field` macro's ARIA attributes: present with a real value, or absent (never the text "None")."""
import re

from tests.web_helpers import html, login

PAGES = ["/ui/incidents/new", "/ui/account", "/ui/users/"]


def test_no_form_control_carries_aria_attributes_spelled_none(client, people):
    """WTForms writes a None attribute as the word None: `aria-invalid="None"` is not valid ARIA."""
    login(client, people["admin"])
    for path in PAGES:
        page = html(client.get(path))
        assert re.search(r'aria-[a-z]+="None"', page) is None, path
        assert "aria-invalid" not in page, path  # no field is invalid on a fresh form


def test_an_invalid_field_is_marked_and_tied_to_its_message(client, people):
    """After a refused submission the field says aria-invalid="true" and points at its error text."""
    login(client, people["reporter"])
    page = html(client.post("/ui/incidents/new", data={"title": "", "description": "d"}))
    control = re.search(r'<input[^>]*id="title"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in control
    described = re.search(r'aria-describedby="([^"]+)"', control).group(1)
    assert 'id="title-error"' in page and "title-error" in described.split()
