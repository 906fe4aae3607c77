"""Domain errors, and the one table that says what each means to every adapter.

Services raise these; the HTTP door, the OTLP doors (HTTP and gRPC) and the CLI turn them
into a status code, a gRPC status and an exit code through ``outcome``, so no service
knows about any of them and no adapter re-words a service's error.
"""

from __future__ import annotations

from dataclasses import dataclass


class JunjoError(Exception):
    """Base class; ``str(error)`` is a message safe to show to the caller."""


class InvalidInput(JunjoError):
    """The caller sent a value that breaks a rule."""


class Malformed(JunjoError):
    """The request cannot be parsed at all (bad JSON, protobuf or gzip)."""


class TooLarge(JunjoError):
    """The request (or what it decompresses to) is bigger than this server takes."""


class UnsupportedMediaType(JunjoError):
    """A Content-Type or Content-Encoding this server does not read."""


class TimedOut(JunjoError):
    """The request did not arrive at the minimum pace; its connection is closed."""


class BadRequest(JunjoError):
    """The request cannot be done in the current state."""


class Unauthenticated(JunjoError):
    """No valid credential: no session, an unknown key, or none at all."""


class PermissionDenied(JunjoError):
    """The caller is known but may not do this."""


class NotFound(JunjoError):
    pass


class Conflict(JunjoError):
    """The thing already exists, or the change would break an invariant."""


class Unreachable(JunjoError):
    """A server this command needs cannot be reached, or refused its credentials."""


class UpstreamTimeout(JunjoError):
    """A server this request relies on (an LLM provider) did not answer in time."""


class RetryLater(JunjoError):
    """Not now: the caller may retry after ``retry_after`` seconds (``Retry-After``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    """The caller (or all callers together) must slow down."""


class TooManyAttempts(TooManyRequests):
    """This caller tried signing in too often."""


class Busy(RetryLater):
    """The server is at a limit it keeps to protect itself (memory, disk, shutting down)."""


@dataclass(frozen=True)
class Outcome:
    http: int
    grpc: str  # a grpc.StatusCode name; its number is also the google.rpc.Code
    exit: int  # 1 refused or not found, 2 bad arguments, 3 unreachable or auth failed


EXIT_ERROR, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3

OUTCOMES: dict[type[JunjoError], Outcome] = {
    InvalidInput: Outcome(422, "INVALID_ARGUMENT", EXIT_USAGE),
    Malformed: Outcome(400, "INVALID_ARGUMENT", EXIT_USAGE),
    TooLarge: Outcome(413, "INVALID_ARGUMENT", EXIT_USAGE),
    UnsupportedMediaType: Outcome(415, "INVALID_ARGUMENT", EXIT_USAGE),
    TimedOut: Outcome(408, "DEADLINE_EXCEEDED", EXIT_ERROR),
    BadRequest: Outcome(400, "FAILED_PRECONDITION", EXIT_ERROR),
    Unauthenticated: Outcome(401, "UNAUTHENTICATED", EXIT_UNREACHABLE),
    PermissionDenied: Outcome(403, "PERMISSION_DENIED", EXIT_ERROR),
    NotFound: Outcome(404, "NOT_FOUND", EXIT_ERROR),
    Conflict: Outcome(409, "FAILED_PRECONDITION", EXIT_ERROR),
    Unreachable: Outcome(502, "UNAVAILABLE", EXIT_UNREACHABLE),
    UpstreamTimeout: Outcome(504, "DEADLINE_EXCEEDED", EXIT_UNREACHABLE),
    TooManyRequests: Outcome(429, "RESOURCE_EXHAUSTED", EXIT_ERROR),
    Busy: Outcome(503, "UNAVAILABLE", EXIT_ERROR),
    # Any other failure: 503, which OTLP clients retry (they drop a 500's data).
    JunjoError: Outcome(503, "UNAVAILABLE", EXIT_ERROR),
}

GRPC_CODES = {
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}


def outcome(error: JunjoError) -> Outcome:
    """The row of the error's most specific class in ``OUTCOMES``."""
    return next(OUTCOMES[kind] for kind in type(error).__mro__ if kind in OUTCOMES)
