"""How the portal shows a domain refusal: messages next to fields, or a flash and a redirect."""
from flask import flash
from flask_wtf import FlaskForm

from app.exceptions import DomainError, InvalidInput, VersionConflict

STALE_PAGE = ("{ref} was changed by someone else while you were looking at it. "
              "Here is the current version; please try again.")


def show_field_errors(form: FlaskForm, exc: InvalidInput) -> None:
    """Put each domain message next to its field; a field the form lacks gets a flash."""
    for name, messages in exc.errors.items():
        field = form._fields.get(name)
        if field is None:
            for message in messages:
                flash(f"{name.replace('_', ' ').capitalize()}: {message}", "danger")
        else:
            field.errors = [*field.errors, *messages]


def flash_refusal(exc: DomainError, *, reference: str | None = None) -> None:
    """A refused action as a danger flash, in words a person can act on."""
    if isinstance(exc, VersionConflict) and reference:
        flash(STALE_PAGE.format(ref=reference), "danger")
    else:
        flash(exc.message, "danger")
