"""Who a user is to the portal. Data only: what each role may do is `app.incidents.lifecycle`'s."""
from enum import StrEnum


class Role(StrEnum):
    REPORTER = "reporter"
    TECHNICIAN = "technician"
    ADMIN = "admin"
