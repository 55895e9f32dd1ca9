"""A page of a list read as plain rows: the incidents' columns with their reporter and technician.

Lists only read what they show, so their rows need none of the ORM's bookkeeping (the identity map,
change tracking, a state per object): building the 25 objects of a page through it was a third of
a computed list's time. A `ListedIncident` carries every column of `incidents` under the model's
names, `reference`, and the two people as `Person` (id, username, name), which is all the API's
writer, the list's and the dashboard's templates, the SLA view and the cursors read. Nothing
written goes through it: the services take the ORM's `Incident`, read by `queries.get_incident`."""
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, select

from app.extensions import db
from app.incidents import references
from app.models import Incident, User

_INCIDENTS = Incident.__table__
_REPORTER = User.__table__.alias("reporter")
_TECHNICIAN = User.__table__.alias("technician")
COLUMNS = tuple(column.name for column in _INCIDENTS.c)
_PEOPLE = (_REPORTER.c.id, _REPORTER.c.username, _REPORTER.c.name,
           _TECHNICIAN.c.id, _TECHNICIAN.c.username, _TECHNICIAN.c.name)


class Person(NamedTuple):
    """Someone named on a listed incident."""

    id: int
    username: str
    name: str


class ListedIncident:
    """One incident of a page, read-only (see the module's docstring)."""

    __slots__ = (*COLUMNS, "reporter", "technician")

    def __init__(self, row: Row | tuple):
        values = iter(row)
        for name in COLUMNS:
            object.__setattr__(self, name, next(values))
        reporter_id, reporter_username, reporter_name, *technician = values
        object.__setattr__(self, "reporter", Person(reporter_id, reporter_username, reporter_name))
        object.__setattr__(self, "technician", Person(*technician) if technician[0] is not None else None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a listed incident is read-only ({name})")

    @property
    def reference(self) -> str:
        return references.reference(self.id)

    def __repr__(self) -> str:
        return f"<ListedIncident {self.reference} {self.status.value}>"


def rows() -> Select:
    """SELECT every column of the incidents with their reporter and technician (add WHERE and ORDER BY)."""
    joined = (_INCIDENTS.join(_REPORTER, _REPORTER.c.id == _INCIDENTS.c.reporter_id)
              .outerjoin(_TECHNICIAN, _TECHNICIAN.c.id == _INCIDENTS.c.technician_id))
    return select(*_INCIDENTS.c, *_PEOPLE).select_from(joined)


def read(query: Select) -> list[ListedIncident]:
    """The rows of `rows()`, filtered and ordered, as listed incidents."""
    return [ListedIncident(row) for row in db.session.execute(query)]
