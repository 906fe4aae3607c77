"""Domain errors. Services raise these; the HTTP and CLI adapters turn them into
status codes and exit codes, so no service module knows about either."""


class JunjoError(Exception):
    """Base class; ``str(error)`` is a message safe to show to the caller."""


class InvalidInput(JunjoError):
    """The caller sent a value that breaks a rule (HTTP 422)."""


class BadRequest(JunjoError):
    """The request cannot be done in the current state (HTTP 400)."""


class NotFound(JunjoError):
    """HTTP 404."""


class Conflict(JunjoError):
    """HTTP 409: the thing already exists, or the change would break an invariant."""


class PermissionDenied(JunjoError):
    """HTTP 403: the caller is known but may not do this."""


class RetryLater(JunjoError):
    """Not now: the caller may retry after ``retry_after`` seconds (HTTP ``Retry-After``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyAttempts(RetryLater):
    """HTTP 429: this caller tried too often."""


class Busy(RetryLater):
    """HTTP 503: the server is at a limit it keeps to protect itself (memory, say)."""
