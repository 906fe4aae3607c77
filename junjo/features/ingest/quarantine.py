"""What the indexer set aside, and putting it back.

A quarantine entry is a WAL batch that does not decode, or the spans of a batch that could
not be converted or stored (re-packed as an export request of their own, with their resource
and scope). Nothing else of their batch is held back. Entries live in the WAL file
(``wal.db``), not in DuckDB: a span set aside for needing more memory than DuckDB has would
not fit there either. They are listed by the ingest status and ``junjo quarantine list``;
replaying one moves its request back into the WAL as a new batch, in one transaction, so it
is indexed like a new export (after an upgrade that fixes the cause, or with a different
``max_attribute_value_kb``). Spans it holds that are already stored are skipped as re-sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from junjo.kernel.errors import InvalidInput, NotFound
from junjo.kernel.principal import Principal
from junjo.kernel.wal import WriteAheadLog

MAX_LISTED = 1000


def list_entries(wal: WriteAheadLog, actor: Principal, limit: int = 20) -> dict[str, Any]:
    """The newest ``limit`` entries (without their payloads) and what is kept in all."""
    actor.require_read()
    if not 0 <= limit <= MAX_LISTED:
        raise InvalidInput(f"limit: must be between 0 and {MAX_LISTED}")
    entries, total_entries, total_spans = wal.quarantined(limit)
    return {"pending_entries": total_entries, "pending_spans": total_spans, "entries": entries}


class Replayable(Protocol):
    """What replaying needs of the WAL (a data dir without one replays nothing)."""

    def quarantined_ids(self, ids: Sequence[int]) -> set[int]: ...
    def replay(self, ids: Sequence[int] | None) -> list[tuple[int, int]]: ...


def replay(
    wal: Replayable,
    actor: Principal,
    ids: Sequence[int] | None,
    *,
    wake: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Move the entries ``ids`` (None: all of them) back into the WAL to be indexed."""
    actor.require_admin()
    if ids is not None:
        if not 0 < len(ids) <= MAX_LISTED or not all(_is_id(i) for i in ids):
            raise InvalidInput(f"ids: must be a list of 1 to {MAX_LISTED} entry ids")
        missing = sorted(set(ids) - wal.quarantined_ids(ids))
        if missing:
            raise NotFound(f"no quarantine entry {', '.join(map(str, missing))}")
    moved = wal.replay(ids)
    if moved:
        wake()
    return {"replayed": [entry_id for entry_id, _ in moved], "spans": sum(n for _, n in moved)}


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 63
