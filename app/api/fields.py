"""Marshmallow fields the API needs beyond the stock ones: lenient choices, strict types, UTC times,
objects computed from the whole row."""
import re
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from marshmallow import fields, missing, validate

from app.auth.emails import EMAIL_MAX, is_email
from app.times import utc_text

# Anything that may end up in a database text column: no control characters (PostgreSQL refuses NUL).
NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"


class Pattern(validate.Regexp):
    """A regex validator with JSON Schema's meaning: the whole value must match, no trailing newline."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise validate.ValidationError(self._format_error(value))
        return value


def choice_pattern(enum_cls: type[StrEnum]) -> str:
    """A regex for the enum's values in any case, with a space, '_' or '-' between words."""
    def word(text: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)

    spellings = ("[ _-]".join(word(part) for part in member.value.split("_")) for member in enum_cls)
    return "^(?:" + "|".join(spellings) + ")$"


class Choice(fields.String):
    """An enum value sent as text: `"In Progress"`, `"in_progress"` and `"IN-PROGRESS"` all read as
    `in_progress`. The OpenAPI document carries the same pattern the field checks."""

    default_error_messages = {"choice": "Must be one of: {choices}."}

    def __init__(self, enum_cls: type[StrEnum], **kwargs):
        self.enum = enum_cls
        self.choices = ", ".join(member.value for member in enum_cls)
        self.regex = re.compile(choice_pattern(enum_cls))
        metadata = {"pattern": self.regex.pattern, "example": next(iter(enum_cls)).value,
                    "description": f"One of {self.choices} (any case; words joined by a space, '_' or '-')."}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.regex.fullmatch(text) is None:
            raise self.make_error("choice", choices=self.choices)
        parse = getattr(self.enum, "parse", None)
        return parse(text) if parse else self.enum("_".join(re.split("[ _-]", text.lower())))


class Integer(fields.Integer):
    """An integer as JSON Schema counts them: 3 and 3.0 yes; true, "3" and 3.5 no."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """JSON true or false, nothing else (no 1, "yes" or "on")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class UTCDateTime(fields.DateTime):
    """Output-only time: ISO 8601 in UTC with a `Z`, to the second."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return utc_text(value)


class Computed(fields.Nested):
    """Output-only: a nested object computed from the whole object being written (`compute(obj)`),
    not read from one of its attributes. The document shows the nested schema as usual."""

    def __init__(self, nested, *, compute: Callable[[Any], Any], **kwargs):
        super().__init__(nested, dump_only=True, **kwargs)
        self.compute = compute

    def get_value(self, obj, attr, accessor=None, default=missing):
        return self.compute(obj)


class EventChanges(fields.Dict):
    """An event's `changes`: `{field: [old, new]}`, or for the portal's SLA notices
    `{"clock", "due_at"}`, whose time is written like every other time of the API."""

    TIMES = ("due_at",)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return {key: utc_text(datetime.fromisoformat(item)) if key in self.TIMES and isinstance(item, str) else item
                for key, item in value.items()}


class EmailAddress(fields.String):
    """An e-mail address, checked by `app.auth.emails` (length first, then its syntax); the
    document says `format: email` and the length limit."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update(format="email")
        super().__init__(validate=[validate.Length(max=EMAIL_MAX), self._check], **kwargs)

    @staticmethod
    def _check(value: str) -> None:
        if not is_email(value):
            raise validate.ValidationError("Must be a valid email address.")
