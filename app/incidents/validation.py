"""Field rules for incident text and choices, shared by the service, the forms and the schemas."""
import re
from typing import Any

from app.exceptions import InvalidInput
from app.incidents.enums import Category, Severity, Urgency
from app.incidents.lifecycle import DESCRIPTION_MAX, TEXT_MAX, TITLE_MAX

# Control characters other than tab, newline and carriage return are never legitimate text.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalise_newlines(text: str) -> str:
    r"""Every line ending as "\n": "\r\n" (browsers, mail) and a lone "\r" (old Mac text)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def clean_text(value: Any, *, field: str, max_length: int, errors: dict[str, list[str]],
               single_line: bool = False) -> str | None:
    r"""Strip and check one required text field; record problems in `errors`. Line endings become
    "\n" here, once, so text typed in a browser (which sends "\r\n"), sent to the API or mailed in is
    stored alike and compares, searches and counts the same whichever door it came through."""
    if not isinstance(value, str):
        errors.setdefault(field, []).append("Must be a string.")
        return None
    text = normalise_newlines(value).strip()
    if single_line:
        text = " ".join(text.split())
    if not text:
        errors.setdefault(field, []).append("Must not be empty.")
    elif len(text) > max_length:
        errors.setdefault(field, []).append(f"Must be at most {max_length} characters.")
    elif _CONTROL_CHARS.search(text):
        errors.setdefault(field, []).append("Must not contain control characters.")
    return text


def parse_choice(enum_cls, value: Any, *, field: str, errors: dict[str, list[str]]):
    """An enum member from a member or its value, case-insensitively."""
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in enum_cls)
        errors.setdefault(field, []).append(f"Must be one of: {choices}.")
        return None


def validate_details(fields: dict[str, Any]) -> dict[str, Any]:
    """Check any of title / description / severity / urgency / category; raise InvalidInput listing all.
    (`priority` is none of them: it follows from severity and urgency, no one writes it.)"""
    errors: dict[str, list[str]] = {}
    unknown = set(fields) - {"title", "description", "severity", "urgency", "category"}
    for name in sorted(unknown):
        errors[name] = ["Unknown field."]
    clean: dict[str, Any] = {}
    if "title" in fields:
        clean["title"] = clean_text(fields["title"], field="title", max_length=TITLE_MAX,
                                    errors=errors, single_line=True)
    if "description" in fields:
        clean["description"] = clean_text(fields["description"], field="description",
                                          max_length=DESCRIPTION_MAX, errors=errors)
    if "severity" in fields:
        clean["severity"] = parse_choice(Severity, fields["severity"], field="severity", errors=errors)
    if "urgency" in fields:
        clean["urgency"] = parse_choice(Urgency, fields["urgency"], field="urgency", errors=errors)
    if "category" in fields:
        clean["category"] = parse_choice(Category, fields["category"], field="category", errors=errors)
    if errors:
        raise InvalidInput(errors)
    return clean


def validate_note(value: Any, *, field: str) -> str:
    """A required free-text note: comment body, resolution notes, reopen reason."""
    errors: dict[str, list[str]] = {}
    text = clean_text("" if value is None else value, field=field, max_length=TEXT_MAX, errors=errors)
    if errors:
        raise InvalidInput(errors)
    return text
