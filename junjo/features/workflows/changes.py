"""What one store transition changed, path by path: the values before and after each change,
read from the server's replayed states. Shared by the web UI's Changes tab (through the run
route) and ``junjo traces show --state``, so both say the same thing."""

from __future__ import annotations

from typing import Any

from junjo.features.workflows.jsonpatch import PatchError, parse_pointer, resolve

_MISSING = object()


def value_at(doc: Any, path: str) -> Any:
    """The value at a JSON pointer, or ``_MISSING`` (unknown state, or no such path)."""
    if doc is None and path:
        return _MISSING
    try:
        return resolve(doc, parse_pointer(path))
    except PatchError:
        return _MISSING


def _changed_list(path: str, after: Any) -> str | None:
    """The list an op on one of its items changes (``/words`` for ``/words/3`` or
    ``/words/-``), if the state after the transition has it."""
    parent, _, last = path.rpartition("/")
    if not parent or not (last.isdigit() or last == "-"):
        return None
    return parent if isinstance(value_at(after, parent), list) else None


def _change(kind: str, path: str, before: Any, after: Any, **extra: Any) -> dict[str, Any]:
    out = {"kind": kind, "path": path, **extra}
    if before is not _MISSING:
        out["before"] = before
    if after is not _MISSING:
        out["after"] = after
    return out


def transition_changes(transition: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{kind: add|remove|replace|move|copy|test, path, before?, after?, from?}]``.

    The ops a JSON patch spends on the items of one list (``add /words/0``, ``add
    /words/1``, ...) are one change of the list, with the whole list before and after.
    ``before``/``after`` are left out when the state is not known (a failed replay) or the
    path does not exist on that side."""
    before, after = transition.get("state_before"), transition.get("state_after")
    out: list[dict[str, Any]] = []
    run_list: str | None = None  # the list the ops just listed changed
    for op in transition.get("patch") or []:
        if not isinstance(op, dict):
            continue
        kind, path = str(op.get("op")), str(op.get("path", ""))
        in_list = _changed_list(path, after)
        if in_list is not None:
            if in_list != run_list:
                old = value_at(before, in_list)
                out.append(
                    _change(
                        "add" if old is _MISSING else "replace",
                        in_list,
                        old,
                        value_at(after, in_list),
                    )
                )
            run_list = in_list
            continue
        run_list = None
        # What an add or replace wrote is the op's value, whatever the replay made of it.
        new = op.get("value", _MISSING) if kind in ("add", "replace") else value_at(after, path)
        extra = {"from": op["from"]} if "from" in op else {}
        out.append(_change(kind, path, value_at(before, path), new, **extra))
    return out
