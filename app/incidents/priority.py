"""The ONE home of the priority matrix (SPEC "Priority and SLA"): severity x urgency -> P1..P4.

Pure: the service stores the answer on every create and edit, the migration and the bulk loader
write the same table as SQL (`sql_case`), and the tests check each cell against SPEC's table."""
from app.incidents.enums import Priority, Severity, Urgency

MATRIX: dict[tuple[Severity, Urgency], Priority] = {
    (Severity.CRITICAL, Urgency.HIGH): Priority.P1,
    (Severity.CRITICAL, Urgency.MEDIUM): Priority.P1,
    (Severity.CRITICAL, Urgency.LOW): Priority.P2,
    (Severity.HIGH, Urgency.HIGH): Priority.P1,
    (Severity.HIGH, Urgency.MEDIUM): Priority.P2,
    (Severity.HIGH, Urgency.LOW): Priority.P3,
    (Severity.MEDIUM, Urgency.HIGH): Priority.P2,
    (Severity.MEDIUM, Urgency.MEDIUM): Priority.P3,
    (Severity.MEDIUM, Urgency.LOW): Priority.P4,
    (Severity.LOW, Urgency.HIGH): Priority.P3,
    (Severity.LOW, Urgency.MEDIUM): Priority.P4,
    (Severity.LOW, Urgency.LOW): Priority.P4,
}


def priority_of(severity: Severity, urgency: Urgency) -> Priority:
    """The priority an incident of this severity and urgency has."""
    return MATRIX[Severity(severity), Urgency(urgency)]


def sql_case(severity_rank: str, urgency: str) -> str:
    """The matrix as a SQL CASE over a severity rank column (1-4, as incidents store it) and an
    urgency column or literal, for set-based writes (the migration copies its output)."""
    cells = " ".join(
        f"WHEN {severity_rank} = {severity.rank} AND {urgency} = '{urg.value}' THEN '{priority.value}'"
        for (severity, urg), priority in MATRIX.items()
    )
    return f"CASE {cells} END"
