"""How a caller presents an API key: the one parser of credentials, for every door
(the REST door, OTLP/HTTP and OTLP/gRPC), so they cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable

API_KEY_HEADER = "x-junjo-api-key"


def presented_key(header: Callable[[str], str | None]) -> str | None:
    """``x-junjo-api-key`` as the Junjo SDK sends it, else ``Authorization: Bearer KEY``.

    ``header(name)`` reads a lower-case header (or gRPC metadata) name. Surrounding
    spaces are not part of a key. None when neither is present.
    """
    raw = header(API_KEY_HEADER)
    if raw is not None:
        return raw.strip()
    scheme, _, token = (header("authorization") or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None
