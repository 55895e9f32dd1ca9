"""The incident list's query string: parsed into filters, and kept so every link preserves it.

Unknown or malformed values are dropped rather than refused, so an old bookmark still opens, and
each one is named in a warning on the page (the API answers 422 to the same query string: the page
must not pretend to filter by something it dropped). The parameters are named as `GET /incidents/`
names them, so the list's CSV export takes the same query string."""
import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from werkzeug.datastructures import MultiDict

from app.incidents.enums import Category, Priority, Severity, SlaStanding, Status, Urgency
from app.incidents.lifecycle import TITLE_MAX
from app.incidents.queries import DEFAULT_PER_PAGE, DEFAULT_SORT, SORTS, IncidentFilters, Page
from app.models import MAX_ID, User
from app.web.detail import SlaReading

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
    ignored: list[str] = field(default_factory=list)
    """One sentence per query argument that was dropped: "Ignored status=bogus: not a status"."""

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

    def sort_link_args(self, key: str, first: str = "") -> dict:
        """The arguments of a column heading's link: the other way round when the list is already
        sorted by `key`, otherwise the column's first direction (`first`: "" ascending, "-"
        descending, as severity reads best highest first); back to the first page."""
        flipped = key if self.sort.startswith("-") else f"-{key}"
        return self.url_args(sort=flipped if self.sort.lstrip("-") == key else f"{first}{key}", page=None)

    def export_args(self) -> dict:
        """The CSV export's arguments for what the list shows: its filters and sort, no paging
        (every row). Named as GET /incidents/ names them, so either door of the export reads them."""
        return self.url_args(page=None, per_page=None)


def _enum_values(enum_cls, raw: list[str], name: str, noun: str, ignored: list[str]) -> list:
    """The members named in `raw`; a value that names none is noted in `ignored` (an empty one, as a
    form's unticked choice may send, is not worth a word)."""
    members = []
    for text in raw:
        try:
            parse = getattr(enum_cls, "parse", None)
            # As the API reads them: any case, words joined by a space, '_' or '-' ("At risk").
            member = parse(text) if parse else enum_cls("_".join(text.strip().lower().replace("-", " ").split()))
        except ValueError:
            if text.strip():
                ignored.append(_ignored(name, text, f"not {noun}"))
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


def _ignored(name: str, value: str, why: str) -> str:
    """The warning for one dropped argument; a long value is cut, as the page only names it."""
    value = " ".join(value.split())
    return f"Ignored {name}={value if len(value) <= 40 else value[:39] + '…'}: {why}."


def _paging_ignored(args: MultiDict) -> list[str]:
    ignored = []
    page, per_page = (args.get("page") or "").strip(), (args.get("per_page") or "").strip()
    if page and not page.isdigit():
        ignored.append(_ignored("page", page, "not a page number"))
    if per_page and not (per_page.isdigit() and len(per_page) <= MAX_ID_DIGITS and int(per_page) in PER_PAGE_CHOICES):
        ignored.append(_ignored("per_page", per_page, f"not one of {', '.join(map(str, PER_PAGE_CHOICES))}"))
    return ignored


def parse_list_query(args: MultiDict, user: User) -> ListQuery:
    """Read status/severity/category/priority/urgency/sla (repeatable), technician, reporter (`me`), q,
    sort, page, per_page; what cannot be read is left out and named in `ignored`."""
    ignored: list[str] = []
    statuses = _enum_values(Status, args.getlist("status"), "status", "a status", ignored)
    severities = _enum_values(Severity, args.getlist("severity"), "severity", "a severity", ignored)
    categories = _enum_values(Category, args.getlist("category"), "category", "a category", ignored)
    priorities = _enum_values(Priority, args.getlist("priority"), "priority", "a priority (P1 to P4)", ignored)
    urgencies = _enum_values(Urgency, args.getlist("urgency"), "urgency", "an urgency", ignored)
    standings = _enum_values(SlaStanding, args.getlist("sla"), "sla", "an SLA standing", ignored)
    technician, technician_id, unassigned = _technician(args.get("technician"), user)
    if technician is None and (args.get("technician") or "").strip():
        ignored.append(_ignored("technician", args["technician"], "not a technician"))
    # The page offers "reported by me" only; other reporters are found with the text search.
    raw_reporter = (args.get("reporter") or "").strip()
    reporter = ME if raw_reporter.lower() == ME else None
    if raw_reporter and reporter is None:
        ignored.append(_ignored("reporter", raw_reporter, "only “me” is understood"))
    q = " ".join((args.get("q") or "").split())[:TITLE_MAX]
    sort = args.get("sort") or DEFAULT_SORT
    if sort.lstrip("-") not in SORTS:
        ignored.append(_ignored("sort", sort, "not a column to sort by"))
        sort = DEFAULT_SORT
    ignored.extend(_paging_ignored(args))
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
        ignored=ignored,
    )


def list_etag(query: ListQuery, page: Page, user: User, readings: dict[int, SlaReading]) -> str:
    """A tag over what the list's results show: the query, the rows (id, version, last change, the
    names shown and the SLA time-left words, which change with the clock and not with the row), the
    total and who is looking. Equal tags mean the results would look the same, so the live list is
    answered 304 and nothing is rendered or sent. `readings`: each row's `sla_reading` by id, the
    ones the rows then show."""
    parts = [str(user.id), user.role.value, repr(sorted(query.url_args().items())), str(page.total)]
    for incident in page.items:
        reading = readings[incident.id]
        parts.append(f"{incident.id}:{incident.version}:{_stamp(incident.updated_at)}:"
                     f"{incident.technician.name if incident.technician else ''}:{incident.reporter.name}:"
                     f"{reading.resolve.text}:{reading.response.text if reading.awaiting_response else ''}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _stamp(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""
