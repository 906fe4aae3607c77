"""Where WAL batches become rows: the native converter (``native.py``, a C extension) when it
is built, else ``convert.py``; both on the indexer thread.

The native walker releases the GIL while it walks, so conversion overlaps the writer thread
and the request threads with no second process (a worker process converting in Python cost
memory, pickling and an orphan to watch for). A request the walker declines, or one large
enough to need values truncated, goes to ``convert.py``, the specification: the result is
the same rows either way.

The ``converter`` setting forces a path: ``python`` for comparison and debugging, ``native``
to refuse to start without the extension (a benchmark of the native path must not silently
measure the other one).
"""

from __future__ import annotations

import logging
from typing import Literal, get_args

from junjo.features.spans import native
from junjo.features.spans.convert import DEFAULT_MAX_VALUE_BYTES, ConvertedBatch, convert_request
from junjo.kernel.wal import WalBatch

log = logging.getLogger("junjo.indexer")

# One WAL batch on its way to the store: converted rows, or the reason it is quarantined.
Unit = tuple[WalBatch, ConvertedBatch | None, str | None]
Choice = Literal["auto", "native", "python"]
CHOICES: tuple[str, ...] = get_args(Choice)


class NativeUnavailable(RuntimeError):
    """``converter = "native"`` was asked for and the C extension cannot be used."""


def uses_native(choice: str) -> bool:
    """Whether the ``converter`` setting ``choice`` runs the native path here."""
    if choice not in CHOICES:
        raise ValueError(f"converter {choice!r}: use one of {', '.join(CHOICES)}")
    if choice == "native" and not native.available():
        raise NativeUnavailable(
            f"setting 'converter' is 'native' but {native.describe()}; reinstall junjo-server"
            ' where a C compiler is found, or set converter = "auto"'
        )
    return choice != "python" and native.available()


def describe_converter(choice: str) -> str:
    """Which path the setting ``choice`` runs, and why python if so (log, ``junjo doctor``)."""
    if choice == "python":
        return 'python (setting converter = "python")'
    return native.describe()


def convert_payload(
    payload: bytes,
    *,
    use_native: bool,
    seq: int = 0,
    api_key_id: str | None = None,
    received_at_ns: int | None = None,
    indexed_at_ns: int | None = None,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> ConvertedBatch:
    """One request's batch by the chosen path; raises if it does not decode."""
    if use_native:
        batch = native.convert_native(
            payload,
            seq=seq,
            api_key_id=api_key_id,
            received_at_ns=received_at_ns,
            indexed_at_ns=indexed_at_ns,
            max_value_bytes=max_value_bytes,
        )
        if batch is not None:
            return batch
    return convert_request(
        payload,
        seq=seq,
        api_key_id=api_key_id,
        received_at_ns=received_at_ns,
        indexed_at_ns=indexed_at_ns,
        max_value_bytes=max_value_bytes,
    )


class Converter:
    def __init__(
        self, *, choice: str = "auto", max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
    ) -> None:
        self.native = uses_native(choice)
        self.description = describe_converter(choice)
        self._max_value_bytes = max_value_bytes

    def convert(self, batches: list[WalBatch], now: int) -> list[Unit]:
        units: list[Unit] = []
        for batch in batches:
            try:
                converted = convert_payload(
                    batch.payload,
                    use_native=self.native,
                    seq=batch.seq,
                    api_key_id=batch.api_key_id,
                    received_at_ns=batch.received_at_ns,
                    indexed_at_ns=now,
                    max_value_bytes=self._max_value_bytes,
                )
            except Exception as exc:  # undecodable: kept aside, the rest indexed
                error = f"convert: {type(exc).__name__}: {exc}"
                log.warning("quarantining WAL batch %d: %s", batch.seq, error)
                units.append((batch, None, error))
            else:
                units.append((batch, converted, None))
        return units
