"""`@operation`: what a resource method takes and answers, enforced and documented in one place.

The wrapper authenticates (401), applies the coarse role gate (403), reads the query and the body
through their schemas (400/413/415/422), then calls the method with `actor`, `query`, `body`.
`openapi.py` reads the same `Operation` to write the document, so the two cannot disagree."""
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps

from marshmallow import Schema

from app.api import payload
from app.api.auth import authenticate
from app.auth.roles import Role
from app.exceptions import PermissionDenied


@dataclass(frozen=True)
class Operation:
    """One method of one resource, as the OpenAPI document describes it."""

    summary: str
    description: str = ""
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    form: type[Schema] | None = None  # a multipart/form-data body the method reads itself (an upload)
    status: int = 200
    returns: type[Schema] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    errors: frozenset[int] = frozenset()
    roles: frozenset[Role] | None = None
    public: bool = False
    media_type: str | tuple[str, ...] = "application/json"  # what a success answers (text/csv for the CSVs;
    # several for a download whose type is the file's)

    @property
    def media_types(self) -> tuple[str, ...]:
        return self.media_type if isinstance(self.media_type, tuple) else (self.media_type,)

    @property
    def error_statuses(self) -> list[int]:
        """Every error status this operation can answer, from what it reads plus its own."""
        statuses = {500, *self.errors}
        if not self.public:
            statuses.update({401, 429})  # 429: HTTP Basic from a client held back for wrong passwords
        if self.roles is not None:
            statuses.add(403)
        if self.query is not None:
            statuses.add(422)
        if self.body is not None or self.form is not None:
            statuses.update({400, 413, 415, 422})
        return sorted(statuses)


def operation(summary: str, *, description: str = "", query: type[Schema] | None = None,
              body: type[Schema] | None = None, form: type[Schema] | None = None, status: int = 200,
              returns: type[Schema] | None = None,
              headers: dict[str, str] | None = None, errors: Iterable[int] = (),
              roles: Iterable[Role] | None = None, public: bool = False,
              media_type: str | tuple[str, ...] = "application/json") -> Callable:
    """Declare a resource method: its inputs, its answer and who may call it."""
    spec = Operation(summary=summary, description=description, query=query, body=body, form=form, status=status,
                     returns=returns, headers=headers or {}, errors=frozenset(errors),
                     roles=frozenset(roles) if roles is not None else None, public=public,
                     media_type=media_type)

    def decorate(method: Callable) -> Callable:
        @wraps(method)
        def run(resource, *args, **kwargs):
            if not spec.public:
                actor = authenticate().user
                if spec.roles is not None and actor.role not in spec.roles:
                    allowed = " or ".join(sorted(role.value for role in spec.roles))
                    raise PermissionDenied(f"This needs the {allowed} role.")
                kwargs["actor"] = actor
            if spec.query is not None:
                kwargs["query"] = payload.query(spec.query)
            if spec.body is not None:
                kwargs["body"] = payload.body(spec.body)
            return method(resource, *args, **kwargs)

        run.operation = spec
        return run

    return decorate
