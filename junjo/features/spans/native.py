"""The native converter: the C extension ``_native`` (``native/otlp_walk.c`` walks the OTLP
wire format, ``native/module.c`` exposes it) producing the same rows as ``convert.py``, as
columns DuckDB scans through the Arrow C stream interface, at a fraction of the CPU.

It is optional: ``pip install`` builds it where a C compiler is found, and without it (or when
it declines a request) ``convert.py`` does the work. ``convert.py`` stays the specification:
the walker DECLINES whatever it does not reproduce exactly (malformed or unusual bytes), and
requests larger than ``max_value_bytes``, which may hold values convert.py truncates, never
reach it."""

from __future__ import annotations

from junjo.features.spans.convert import ConvertedBatch, repack_failed
from junjo.features.spans.schema import SPAN_COLUMNS
from junjo.otlp_proto.trace_service_pb2 import ExportTraceServiceRequest

try:
    from junjo.features.spans import _native
    from junjo.features.spans._native import NativeSpans
except ImportError as exc:  # not built: no compiler at install time
    _module = None
    _why = f"the C extension is not built: {exc}"
else:
    # The column list is written once, in schema.py: a module built from other sources
    # (a stale build) must not write rows in the wrong columns.
    _module = _native if _native.COLUMNS == SPAN_COLUMNS else None
    _why = "the C extension's columns differ from schema.SPAN_COLUMNS (a stale build)"

__all__ = ["NativeSpans", "available", "convert_native", "describe"]


def available() -> bool:
    return _module is not None


def describe() -> str:
    """Which converter runs, for the log and ``junjo doctor``."""
    return "native (C extension)" if _module is not None else f"python ({_why})"


def convert_native(
    payload: bytes,
    *,
    seq: int,
    api_key_id: str | None,
    received_at_ns: int | None,
    indexed_at_ns: int | None,
    max_value_bytes: int,
) -> ConvertedBatch | None:
    """The batch ``convert_request`` would make, as columns; None when convert.py must
    decide (no extension, a request that may need truncating, or one the walker declined)."""
    if _module is None or len(payload) > max_value_bytes:
        return None
    spans = _module.convert(payload, seq, api_key_id, received_at_ns, indexed_at_ns)
    if spans is None:
        return None
    failed = None
    if spans.failed:  # rare: decode it again to hand those spans back, as convert.py does
        request = ExportTraceServiceRequest.FromString(payload)
        failed = repack_failed(request, dict(spans.failed))
    return ConvertedBatch(seq, [], failed=failed, native=spans)
