"""The store timeline of one workflow/subflow: its ``set_state`` events, ordered, replayed
from ``junjo.workflow.state.start``, and checked (telemetry contract §2.3, §2.5, §2.9).

Events are gathered trace-wide by ``junjo.store.id``, not from the owner's own spans: a
subflow's ``post_run_actions`` write to the parent store lands on the subflow span, and an
event may sit on any span current at the time of the write (an LLM span, a user span).

Every problem becomes a reason ``{"code", "message", ...}``; nothing here raises.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from junjo.features.workflows.jsonpatch import PatchError, apply_patch, diff_paths, json_equal
from junjo.features.workflows.trace_index import (
    CONTRACT_VERSION,
    PARENT_STORE_ID,
    WORKFLOW_SLOTS,
    JsonAttributeError,
    SpanNode,
    StoreSlots,
    TraceIndex,
    as_int,
    as_str,
    parse_json,
    sort_key,
)
from junjo.kernel.times import iso_time

EVENT_NAME = "set_state"
EV_STORE_ID = "junjo.store.id"
EV_STORE_NAME = "junjo.store.name"
EV_ACTION = "junjo.store.action"
EV_SEQUENCE = "junjo.store.transition.sequence"
EV_REV_BEFORE = "junjo.store.revision.before"
EV_REV_AFTER = "junjo.store.revision.after"
EV_PATCH = "junjo.state_json_patch"
EV_ID = "id"
LISTED_MISSING = 100  # sequence numbers named one by one in a sequence_gap reason
LISTED_DETAILS = 20


def reason(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


@dataclass(frozen=True)
class _Window:
    """The transition sequences one owner replays: ``first..last`` inclusive.

    Contract 2 counts sequences per run, so a run owns ``1..transition.count``. Contract 3
    counts them per Store (a Store can be shared and outlive a run), so a run owns
    ``(transition.start, transition.end]``, sibling executions' writes on that Store included.
    ``last`` is None when the owner never said where it ended (it did not finish)."""

    first: int
    last: int | None
    shared: bool  # contract 3: the Store's sequences go on before and after this owner

    @classmethod
    def of(cls, attrs: dict[str, Any], slots: StoreSlots) -> _Window:
        start = as_int(attrs.get(slots.transition_start))
        count = as_int(attrs.get(slots.transition_count))
        if start is None:
            return cls(1, count, shared=False)
        end = as_int(attrs.get(slots.transition_end))
        if end is None and count is not None:
            end = start + count
        return cls(start + 1, end, shared=True)

    def holds(self, event: _Event) -> bool:
        """Contract 2 owns every transition of its Store; events without a valid sequence stay
        in too: they are reported, not silently lost."""
        seq = event.sequence
        if not self.shared:
            return True
        return seq is None or (seq >= self.first and (self.last is None or seq <= self.last))


@dataclass
class _Event:
    span: SpanNode
    index: int  # position among the span's events: the tie-breaker of last resort
    attrs: dict[str, Any]
    time_ns: int | None
    dropped_attributes: int

    @property
    def sequence(self) -> int | None:
        value = as_int(self.attrs.get(EV_SEQUENCE))
        return value if value is not None and value >= 1 else None

    def key(self) -> tuple[int, int, str, int]:
        time = self.time_ns if self.time_ns is not None else self.span.start_ns
        return (time, self.span.start_ns, self.span.span_id, self.index)


def _store_events(index: TraceIndex, store_id: str) -> list[_Event]:
    out = []
    for span in index.ordered():
        for position, event in enumerate(span.events()):
            attrs = event.get("attributes")
            if event.get("name") != EVENT_NAME or not isinstance(attrs, dict):
                continue
            if attrs.get(EV_STORE_ID) == store_id:
                time_ns = as_int(event.get("timeUnixNano"))
                dropped = as_int(event.get("droppedAttributesCount")) or 0
                out.append(_Event(span, position, attrs, time_ns, dropped))
    return out


# -- ordering and sequence checks -----------------------------------------------------------


def _order(events: list[_Event], sequenced: bool, reasons: list[dict[str, Any]]) -> list[_Event]:
    """Sequence order (v2), or time order for legacy events that have no sequence."""
    if not sequenced:
        return sorted(events, key=_Event.key)
    valid = sorted(
        (e for e in events if e.sequence is not None), key=lambda e: (e.sequence, *e.key())
    )
    invalid = sorted((e for e in events if e.sequence is None), key=_Event.key)
    if invalid:
        ids = [as_str(e.attrs.get(EV_ID)) for e in invalid]
        reasons.append(
            reason(
                "invalid_sequence",
                f"{len(invalid)} store event(s) lack a valid transition sequence; "
                "they are placed last, in time order",
                event_ids=ids,
            )
        )
    counts = Counter(e.sequence for e in valid)
    duplicates = sorted(seq for seq, n in counts.items() if n > 1 and seq is not None)
    if duplicates:
        reasons.append(
            reason(
                "duplicate_sequence",
                f"transition sequence(s) {_numbers(duplicates)} occur more than once",
                sequences=duplicates[:LISTED_MISSING],
            )
        )
    return valid + invalid


def _numbers(values: list[int]) -> str:
    shown = ", ".join(map(str, values[:10]))
    return shown + (f" and {len(values) - 10} more" if len(values) > 10 else "")


def _gaps(present: list[int], first: int, expected_max: int) -> list[tuple[int, int]]:
    """Missing ranges in first..expected_max given the sorted distinct sequences present."""
    ranges, previous = [], first - 1
    for seq in [*present, expected_max + 1]:
        if seq > previous + 1:
            ranges.append((previous + 1, min(seq - 1, expected_max)))
        previous = max(previous, seq)
    return [(a, b) for a, b in ranges if a <= b]


def _sequence_gap(ordered: list[_Event], window: _Window) -> dict[str, Any] | None:
    present = sorted({e.sequence for e in ordered if e.sequence is not None})
    expected_max = max([*present, window.last or 0])
    ranges = _gaps(present, window.first, expected_max)
    if not ranges:
        return None
    missing: list[int] = []
    for start, end in ranges:
        missing.extend(range(start, min(end, start + LISTED_MISSING) + 1))
        if len(missing) >= LISTED_MISSING:
            break
    total = sum(b - a + 1 for a, b in ranges)
    return reason(
        "sequence_gap",
        f"store transition(s) {_numbers(missing)} are missing ({total} in all)",
        missing=missing[:LISTED_MISSING],
        missing_ranges=[[a, b] for a, b in ranges],
        missing_count=total,
    )


def _revision_problems(
    ordered: list[_Event], owner_attrs: dict[str, Any], slots: StoreSlots, window: _Window
) -> list[str]:
    """Revision bookkeeping that contradicts itself. Gaps are reported elsewhere, so only
    neighbours with consecutive sequences are compared."""
    problems = _window_problems(owner_attrs, slots)
    rev_start = as_int(owner_attrs.get(slots.revision_start)) or 0
    rev_end = as_int(owner_attrs.get(slots.revision_end))
    first = window.first
    valid = [e for e in ordered if e.sequence is not None]
    previous: _Event | None = None
    for event in valid:
        seq = event.sequence
        assert seq is not None  # valid events have one
        before, after = (
            as_int(event.attrs.get(EV_REV_BEFORE)),
            as_int(event.attrs.get(EV_REV_AFTER)),
        )
        if before is None or after is None:
            problems.append(f"transition {seq} has no revision numbers")
        elif after not in (before, before + 1):
            problems.append(f"transition {seq} goes from revision {before} to {after}")
        elif seq == first and before != rev_start:
            problems.append(f"transition {seq} starts at revision {before}, not {rev_start}")
        elif previous is not None and previous.sequence == seq - 1:
            prev_after = as_int(previous.attrs.get(EV_REV_AFTER))
            if prev_after is not None and before != prev_after:
                problems.append(f"transition {seq} starts at revision {before}, not {prev_after}")
        previous = event
    last_seq = (valid[-1].sequence or 0) if valid else first - 1
    if window.last is not None and last_seq > window.last:
        problems.append(f"transition.count is {window.last} but transition {last_seq} exists")
    if rev_end is not None and (window.last is None or last_seq == window.last):
        last_after = as_int(valid[-1].attrs.get(EV_REV_AFTER)) if valid else rev_start
        if last_after is not None and last_after != rev_end:
            problems.append(
                f"revision.end is {rev_end} but the last transition ends at {last_after}"
            )
    return problems


def _window_problems(owner_attrs: dict[str, Any], slots: StoreSlots) -> list[str]:
    """A contract-3 owner's interval must agree with its own transition count."""
    start = as_int(owner_attrs.get(slots.transition_start))
    end = as_int(owner_attrs.get(slots.transition_end))
    count = as_int(owner_attrs.get(slots.transition_count))
    if start is None or end is None:
        return []
    if end < start:
        return [f"transition.end {end} is before transition.start {start}"]
    if count is not None and count != end - start:
        return [
            f"transition.count is {count} but the interval ({start}, {end}] holds {end - start}"
        ]
    return []


# -- payloads --------------------------------------------------------------------------------


def read_payload(attrs: dict[str, Any], key: str) -> tuple[Any, str | None]:
    """(value, None) for a usable ``full`` payload slot, else (None, why not)."""
    raw = attrs.get(key)
    if raw is None:
        return None, f"{key} is absent"
    mode = attrs.get(f"{key}.mode")
    if mode is not None and mode != "full":
        return None, f"{key} has payload mode {mode!r}, not 'full'"
    try:
        return parse_json(raw), None
    except JsonAttributeError as exc:
        return None, f"{key} is {exc}"


def _patch(event: _Event) -> tuple[list[Any] | None, str | None]:
    value, problem = read_payload(event.attrs, EV_PATCH)
    if problem is not None:
        return None, problem
    if value == {}:  # legacy SDKs (≤ 0.62) wrote "{}" for a no-op write
        return [], None
    if not isinstance(value, list):
        return None, f"{EV_PATCH} is not a JSON array"
    return value, None


# -- the timeline ----------------------------------------------------------------------------


def _transition(event: _Event, position: int, index: TraceIndex) -> dict[str, Any]:
    node_span = index.nearest_graph_span(event.span)
    return {
        "position": position,
        "sequence": event.sequence,
        "event_id": as_str(event.attrs.get(EV_ID)),
        "span_id": event.span.span_id,
        "span_name": event.span.name,
        "node_span_id": node_span.span_id if node_span else None,
        "node_name": node_span.name if node_span else None,
        "node_id": None,
        "time_ns": event.time_ns,
        "time": iso_time(event.time_ns),
        "store_id": as_str(event.attrs.get(EV_STORE_ID)),
        "store_name": as_str(event.attrs.get(EV_STORE_NAME)),
        "action": as_str(event.attrs.get(EV_ACTION)),
        "revision_before": as_int(event.attrs.get(EV_REV_BEFORE)),
        "revision_after": as_int(event.attrs.get(EV_REV_AFTER)),
        "patch": None,
        "patch_error": None,
        "state_before": None,
        "state_after": None,
        "state_reliable": False,
    }


def _in_sequence(ordered: list[_Event], sequenced: bool, first: int) -> list[bool]:
    """Per event: does it directly follow the previous one (no gap, duplicate, bad number)?"""
    if not sequenced:
        return [True] * len(ordered)
    out, expected = [], first
    for event in ordered:
        out.append(event.sequence == expected)
        if event.sequence is not None:
            expected = event.sequence + 1
    return out


def _replay(
    ordered: list[_Event],
    transitions: list[dict[str, Any]],
    state_start: Any,
    can_replay: bool,
    sequenced: bool,
    first: int,
    reasons: list[dict[str, Any]],
) -> Any:
    """Fill patches and states; return the replayed final state (None if no start).

    After a failed patch or a missing sequence the replay goes on from the last known state,
    so later states are best effort: ``state_reliable`` turns False from there on."""
    state, reliable = state_start, can_replay
    in_sequence = _in_sequence(ordered, sequenced, first)
    for event, out, follows in zip(ordered, transitions, in_sequence, strict=True):
        reliable = reliable and follows
        patch, problem = _patch(event)
        out["patch"] = patch
        if problem is None and can_replay:
            try:
                after = apply_patch(state, patch)
            except PatchError as exc:
                problem = str(exc)
            else:
                out.update(state_before=state, state_after=after)
                state = after
        if problem is not None:
            reliable = False
            out["patch_error"] = problem
            out["state_before"] = state if can_replay else None
            reasons.append(_patch_reason(out, problem))
        out["state_reliable"] = reliable
    return state if can_replay else None


def _patch_reason(transition: dict[str, Any], problem: str) -> dict[str, Any]:
    label = transition["sequence"] or f"#{transition['position']}"
    return reason(
        "patch_error",
        f"transition {label} ({transition['action']}) cannot be applied: {problem}",
        sequence=transition["sequence"],
        position=transition["position"],
        event_id=transition["event_id"],
        span_id=transition["span_id"],
        error=problem,
    )


def _state_reasons(
    attrs: dict[str, Any], slots: StoreSlots, reasons: list[dict[str, Any]]
) -> tuple[Any, Any, bool]:
    start, start_problem = read_payload(attrs, slots.state_start)
    end, end_problem = read_payload(attrs, slots.state_end)
    if start_problem:
        reasons.append(reason("missing_state_start", f"cannot replay: {start_problem}"))
    if end_problem:
        reasons.append(reason("missing_state_end", f"cannot verify the replay: {end_problem}"))
    return start, end, start_problem is None


def _loss_reasons(
    index: TraceIndex, owner: SpanNode, events: list[_Event], reasons: list[dict[str, Any]]
) -> None:
    """Evidence the exporter dropped: events over the per-span limit (128 by default) on any
    span that may have written this store, attributes on the owner or on a store event."""
    spans = {owner.span_id: owner}
    spans.update((s.span_id, s) for s in index.descendants(owner))
    spans.update((e.span.span_id, e.span) for e in events)
    lossy = [s for s in sorted(spans.values(), key=sort_key) if s.dropped("dropped_events_count")]
    if lossy:
        total = sum(s.dropped("dropped_events_count") for s in lossy)
        reasons.append(
            reason(
                "dropped_events",
                f"{total} span event(s) were dropped by the exporter on {len(lossy)} span(s); "
                "store transitions may be among them",
                spans=[
                    {
                        "span_id": s.span_id,
                        "name": s.name,
                        "dropped_events_count": s.dropped("dropped_events_count"),
                    }
                    for s in lossy
                ],
                dropped_count=total,
            )
        )
    event_losses = [e for e in events if e.dropped_attributes]
    if owner.dropped("dropped_attributes_count") or event_losses:
        reasons.append(
            reason(
                "dropped_attributes",
                "attributes were dropped on the owner span or on store events",
                owner_dropped_count=owner.dropped("dropped_attributes_count"),
                event_ids=[as_str(e.attrs.get(EV_ID)) for e in event_losses],
            )
        )


def _sdk_reasons(attrs: dict[str, Any], slots: StoreSlots, reasons: list[dict[str, Any]]) -> None:
    if attrs.get(slots.reconstructable) in (False, "false"):
        reasons.append(
            reason(
                "sdk_not_reconstructable",
                "the SDK itself reported that this store cannot be reconstructed "
                f"({slots.reconstructable}=false)",
            )
        )


def store_timeline(
    index: TraceIndex, owner: SpanNode, include_states: bool = True
) -> dict[str, Any]:
    """``{"store": {...}, "transitions": [...], "reasons": [...]}`` for ``owner``'s store (a
    workflow's or subflow's, or an Agent's application Store)."""
    attrs = owner.attrs
    slots = owner.store_slots or WORKFLOW_SLOTS
    reasons: list[dict[str, Any]] = []
    store_id = as_str(attrs.get(slots.store_id))
    start, end, can_replay = _state_reasons(attrs, slots, reasons)
    events = _store_events(index, store_id) if store_id else []
    if store_id is None:
        reasons.append(reason("missing_store_id", f"the span has no {slots.store_id}"))
    # v2 owners and events carry sequences; legacy ones (≤ 0.62) are ordered by time.
    sequenced = attrs.get(CONTRACT_VERSION) is not None or any(
        EV_SEQUENCE in e.attrs for e in events
    )
    window = _Window.of(attrs, slots)
    # Other runs' writes to a shared Store are not this owner's to replay.
    events = [e for e in events if window.holds(e)]
    ordered = _order(events, sequenced, reasons)
    if sequenced:
        gap = _sequence_gap(ordered, window)
        reasons.extend([gap] if gap else [])
        problems = _revision_problems(ordered, attrs, slots, window)
        if problems:
            message = "store revisions do not add up: " + "; ".join(problems[:3])
            reasons.append(reason("revision_mismatch", message, details=problems[:LISTED_DETAILS]))
    transitions = [_transition(e, i, index) for i, e in enumerate(ordered, start=1)]
    final = _replay(ordered, transitions, start, can_replay, sequenced, window.first, reasons)
    if can_replay and end is not None and not json_equal(final, end):
        paths = diff_paths(final, end)
        reasons.append(
            reason(
                "replay_mismatch",
                f"replaying the transitions does not give {slots.state_end} (differs at "
                f"{', '.join(paths[:5]) or 'the root'})",
                paths=paths,
            )
        )
    _loss_reasons(index, owner, events, reasons)
    _sdk_reasons(attrs, slots, reasons)
    if not include_states:
        for transition in transitions:
            transition.update(state_before=None, state_after=None)
    names = sorted({t["store_name"] for t in transitions if t["store_name"]})
    store = {
        "id": store_id,
        "name": names[0] if len(names) == 1 else None,
        "parent_store_id": as_str(attrs.get(PARENT_STORE_ID)),
        "ordering": "sequence" if sequenced else "time",
        "state_start": start,
        "state_end": end,
        "replayed_state_end": final,
        "revision_start": as_int(attrs.get(slots.revision_start)),
        "revision_end": as_int(attrs.get(slots.revision_end)),
        "transition_count": as_int(attrs.get(slots.transition_count)),
        "transition_start": as_int(attrs.get(slots.transition_start)),
        "transition_end": as_int(attrs.get(slots.transition_end)),
        "reconstructable": attrs.get(slots.reconstructable)
        if isinstance(attrs.get(slots.reconstructable), bool)
        else None,
    }
    return {"store": store, "transitions": transitions, "reasons": reasons}
