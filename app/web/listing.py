"""The incident list's query string: parsed into filters, and kept so every link preserves it.

Unknown or malformed values are dropped rather than refused, so an old bookmark still opens. The
parameters are named as `GET /incidents/` names them, so the list's CSV export takes the same
query string."""
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from app.incidents.enums import Category, Priority, Severity, SlaStanding, Status, Urgency
from app.incidents.lifecycle import TITLE_MAX
from app.incidents.queries import DEFAULT_PER_PAGE, DEFAULT_SORT, SORTS, IncidentFilters
from app.models import MAX_ID, User

PER_PAGE_CHOICES = (10, 25, 50, 100)
SORT_CHOICES = [
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("-updated_at", "Recently updated"),
    ("updated_at", "Least recently updated"),
    ("-severity", "Severity, highest first"),
    ("severity", "Severity, lowest first"),
    ("priority", "Priority, P1 first"),
    ("-priority", "Priority, P4 first"),
    ("resolve_due_at", "Resolve due, soonest first"),
    ("-resolve_due_at", "Resolve due, latest first"),
]


@dataclass(frozen=True)
class Option:
    """A filter checkbox: the value sent, the words shown."""

    value: str
    label: str


SLA_OPTIONS = [Option(SlaStanding.BREACHED.value, "Breached"), Option(SlaStanding.AT_RISK.value, "At risk (past 80 %)"),
               Option(SlaStanding.OK.value, "On track")]
ME, NOBODY = "me", "none"
MAX_PAGE = 1_000_000
MAX_ID_DIGITS = 18  # fits a 64-bit database integer


@dataclass
class ListQuery:
    """What the list shows, and the cleaned query arguments that ask for it."""

    filters: IncidentFilters
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    args: dict[str, str | list[str]] = field(default_factory=dict)

    def url_args(self, **changes) -> dict:
        """The query arguments with `changes` applied (a None value removes the argument)."""
        merged = {**self.args, "sort": self.sort, "per_page": self.per_page, "page": self.page, **changes}
        defaults = {"sort": DEFAULT_SORT, "per_page": DEFAULT_PER_PAGE, "page": 1}
        return {key: value for key, value in merged.items()
                if value not in (None, "", []) and defaults.get(key) != value}

    @property
    def filtered(self) -> bool:
        """True when any filter narrows the list."""
        return bool(self.args)

    def sort_link_args(self, key: str) -> dict:
        """The arguments of a column heading's link: sort by `key` ascending, or descending when the
        list is already sorted by it ascending; back to the first page."""
        return self.url_args(sort=f"-{key}" if self.sort == key else key, page=None)

    def export_args(self) -> dict:
        """The CSV export's arguments for what the list shows: its filters and sort, no paging
        (every row). Named as GET /incidents/ names them, so either door of the export reads them."""
        return self.url_args(page=None, per_page=None)


def _enum_values(enum_cls, raw: list[str]) -> list:
    members = []
    for text in raw:
        try:
            parse = getattr(enum_cls, "parse", None)
            # As the API reads them: any case, words joined by a space, '_' or '-' ("At risk").
            member = parse(text) if parse else enum_cls("_".join(text.strip().lower().replace("-", " ").split()))
        except ValueError:
            continue
        if member not in members:
            members.append(member)
    return members


def _technician(raw: str | None, user: User) -> tuple[str | None, int | None, bool]:
    """`me`, `none` (unassigned), a user id or a username (whatever its case, as the API takes it)
    -> (cleaned value, technician id, unassigned?); (None, None, False) for a value that names nobody,
    which the caller reports as ignored."""
    from app.auth.service import id_named  # the one username lookup, shared with the API's filter

    typed = (raw or "").strip()
    value = typed.lower()
    if value == ME:
        return ME, user.id, False
    if value == NOBODY:
        return NOBODY, None, True
    if value.isdigit():  # an id, never a username (as in the API)
        fits = len(value) <= MAX_ID_DIGITS and int(value) <= MAX_ID
        return (value, int(value), False) if fits else (None, None, False)
    found = id_named(typed)
    return (typed, found, False) if found is not None else (None, None, False)


def _int(raw: str | None, default: int, maximum: int) -> int:
    return min(int(raw), maximum) if raw and raw.isdigit() and len(raw) <= MAX_ID_DIGITS else default


def parse_list_query(args: MultiDict, user: User) -> ListQuery:
    """Read status/severity/category/priority/urgency/sla (repeatable), technician, reporter (`me`), q,
    sort, page, per_page."""
    statuses = _enum_values(Status, args.getlist("status"))
    severities = _enum_values(Severity, args.getlist("severity"))
    categories = _enum_values(Category, args.getlist("category"))
    priorities = _enum_values(Priority, args.getlist("priority"))
    urgencies = _enum_values(Urgency, args.getlist("urgency"))
    standings = _enum_values(SlaStanding, args.getlist("sla"))
    technician, technician_id, unassigned = _technician(args.get("technician"), user)
    # The page offers "reported by me" only; other reporters are found with the text search.
    reporter = ME if (args.get("reporter") or "").strip().lower() == ME else None
    q = " ".join((args.get("q") or "").split())[:TITLE_MAX]
    sort = args.get("sort", DEFAULT_SORT)
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    per_page = _int(args.get("per_page"), DEFAULT_PER_PAGE, max(PER_PAGE_CHOICES))
    if per_page not in PER_PAGE_CHOICES:
        per_page = DEFAULT_PER_PAGE
    cleaned = {
        "status": [s.value for s in statuses],
        "severity": [s.value for s in severities],
        "category": [c.value for c in categories],
        "priority": [p.value for p in priorities],
        "urgency": [u.value for u in urgencies],
        "sla": [s.value for s in standings],
        "technician": technician,
        "reporter": reporter,
        "q": q,
    }
    return ListQuery(
        filters=IncidentFilters(status=statuses, severity=severities, category=categories, priority=priorities,
                                urgency=urgencies, sla=standings,
                                technician_id=technician_id, unassigned=unassigned,
                                reporter_id=user.id if reporter else None, q=q or None),
        sort=sort,
        page=max(1, _int(args.get("page"), 1, MAX_PAGE)),
        per_page=per_page,
        args={key: value for key, value in cleaned.items() if value},
    )
