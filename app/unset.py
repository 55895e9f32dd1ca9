"""`UNSET`: the default of a keyword a partial change leaves alone (`None` and `{}` being values one may
send), shared by every service that changes only what it is given."""
from typing import Any

UNSET: Any = object()
