"""Domain errors raised by the services; each blueprint maps them to its own kind of response."""


class DomainError(Exception):
    """Base of every refusal the domain can give."""

    status = 400
    retry_after: int | None = None  # seconds; answered as a Retry-After header when set
    # More members of its problem+json body, e.g. the incidents a refusal is about (plain JSON values).
    extra: dict | None = None

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing does not exist, or this user may not know that it does."""

    status = 404


class PermissionDenied(DomainError):
    """This user's role (or relation to the incident) never allows the action."""

    status = 403


class TransitionNotAllowed(DomainError):
    """The action is refused in the incident's current state."""

    status = 409


class VersionConflict(DomainError):
    """The caller edited a stale copy of the incident."""

    status = 412


class InvalidInput(DomainError):
    """One or more fields are missing or wrong; `errors` maps field -> messages."""

    status = 422

    def __init__(self, errors: dict[str, list[str]], message: str = "The input is not valid."):
        super().__init__(message)
        self.errors = errors

    @classmethod
    def field(cls, name: str, message: str) -> "InvalidInput":
        """A single-field error."""
        return cls({name: [message]})


class ConcurrentUpdate(TransitionNotAllowed):
    """Someone else changed the row between our read and our write."""


class TooManyAttempts(DomainError):
    """This client has failed too often; it may try again after `retry_after` seconds."""

    status = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class Unavailable(DomainError):
    """The service cannot take this now (e.g. the database is busy); try again shortly."""

    status = 503

    def __init__(self, message: str, *, retry_after: int = 2):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class PayloadTooLarge(DomainError):
    """A file (or a request) over the size the portal takes."""

    status = 413
