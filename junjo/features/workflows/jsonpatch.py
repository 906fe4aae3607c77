"""RFC 6902 JSON Patch (and RFC 6901 JSON Pointer) over plain JSON values.

The junjo SDK writes every store change as ``jsonpatch.make_patch(before, after)``: only
``add``, ``remove``, ``replace`` and ``move``, with RFC 6901 escaping. We implement all six RFC
operations ourselves. The non-RFC ``append`` op that newer ``jsonpatch`` builds offer is
rejected: the SDK never emits it.

``apply_patch`` never mutates its inputs. It copies only the containers on the path of each
operation (path copying), so the states before and after a transition share every untouched
subtree: replaying hundreds of transitions stays cheap.
"""

from __future__ import annotations

import re
from typing import Any

JsonValue = Any  # dict | list | str | int | float | bool | None
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


class PatchError(ValueError):
    """A patch or operation that cannot be applied. ``op_index`` is the 0-based failing op."""

    def __init__(self, message: str, op_index: int | None = None) -> None:
        where = f"operation {op_index}: " if op_index is not None else ""
        super().__init__(where + message)
        self.op_index = op_index


# -- pointers ---------------------------------------------------------------------------


def parse_pointer(pointer: Any) -> list[str]:
    """``"/a~1b/0"`` → ``["a/b", "0"]``; ``""`` is the whole document."""
    if not isinstance(pointer, str):
        raise PatchError(f"a JSON pointer must be a string, not {type(pointer).__name__}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer {pointer!r} must start with '/'")
    if re.search(r"~(?![01])", pointer):
        raise PatchError(f"JSON pointer {pointer!r} has an invalid '~' escape")
    # Order matters (RFC 6901 §4): "~01" is "~1" literally, not "/".
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def format_pointer(tokens: list[str]) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


def _array_index(token: str, array: list[Any], *, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(array)
    if not _ARRAY_INDEX.fullmatch(token):
        raise PatchError(f"{token!r} is not an array index")
    index = int(token)
    limit = len(array) if allow_end else len(array) - 1
    if index > limit:
        raise PatchError(f"array index {index} is out of range (length {len(array)})")
    return index


def resolve(doc: JsonValue, tokens: list[str]) -> JsonValue:
    """The value at ``tokens``; PatchError if it does not exist."""
    value = doc
    for depth, token in enumerate(tokens):
        if isinstance(value, dict):
            if token not in value:
                raise PatchError(f"{format_pointer(tokens[: depth + 1])} does not exist")
            value = value[token]
        elif isinstance(value, list):
            value = value[_array_index(token, value, allow_end=False)]
        else:
            raise PatchError(f"{format_pointer(tokens[:depth])} is not an object or array")
    return value


# -- JSON equality and copies -----------------------------------------------------------


def json_equal(a: JsonValue, b: JsonValue) -> bool:
    """Equality as JSON means it (RFC 6902 §4.6): ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_equal, a, b))
    if isinstance(a, int | float):
        return isinstance(b, int | float) and a == b
    return type(a) is type(b) and a == b


def json_copy(value: JsonValue) -> JsonValue:
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def diff_paths(a: JsonValue, b: JsonValue, limit: int = 20) -> list[str]:
    """JSON pointers where ``a`` and ``b`` differ (deepest differing containers), at most
    ``limit`` of them: enough to tell a reader where a replay went wrong."""
    out: list[str] = []
    _diff(a, b, [], out, limit)
    return out


def _diff(a: JsonValue, b: JsonValue, path: list[str], out: list[str], limit: int) -> None:
    if len(out) >= limit or json_equal(a, b):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            if key not in a or key not in b:
                out.append(format_pointer([*path, key]))
            else:
                _diff(a[key], b[key], [*path, key], out, limit)
            if len(out) >= limit:
                return
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, [*path, str(index)], out, limit)
    else:
        out.append(format_pointer(path))


# -- applying ---------------------------------------------------------------------------


class _Doc:
    """The document being patched. Containers copied during this apply are "owned" and may be
    mutated in place; anything else (the input doc, values taken from the patch) is copied
    on first write, which is how the inputs stay untouched."""

    def __init__(self, root: JsonValue) -> None:
        self.root = root
        self._owned: dict[int, Any] = {}  # id → object; holding it keeps the id unique

    def _own(self, container: Any) -> Any:
        if id(container) in self._owned:
            return container
        fresh = dict(container) if isinstance(container, dict) else list(container)
        self._owned[id(fresh)] = fresh
        return fresh

    def parent_for_write(self, tokens: list[str]) -> Any:
        """The (owned) container holding the last token, copying the path from the root."""
        if not isinstance(self.root, dict | list):
            raise PatchError("the document root is not an object or array")
        self.root = self._own(self.root)
        container = self.root
        for depth, token in enumerate(tokens[:-1]):
            if isinstance(container, dict):
                if token not in container:
                    raise PatchError(f"{format_pointer(tokens[: depth + 1])} does not exist")
                key: Any = token
            else:
                key = _array_index(token, container, allow_end=False)
            child = container[key]
            if not isinstance(child, dict | list):
                raise PatchError(f"{format_pointer(tokens[: depth + 1])} is not a container")
            child = self._own(child)
            container[key] = child
            container = child
        return container

    def add(self, tokens: list[str], value: JsonValue) -> None:
        if not tokens:
            self.root = value
            return
        parent = self.parent_for_write(tokens)
        if isinstance(parent, dict):
            parent[tokens[-1]] = value
        else:
            parent.insert(_array_index(tokens[-1], parent, allow_end=True), value)

    def remove(self, tokens: list[str]) -> JsonValue:
        if not tokens:
            raise PatchError("cannot remove the whole document")
        parent = self.parent_for_write(tokens)
        if isinstance(parent, dict):
            if tokens[-1] not in parent:
                raise PatchError(f"{format_pointer(tokens)} does not exist")
            return parent.pop(tokens[-1])
        return parent.pop(_array_index(tokens[-1], parent, allow_end=False))

    def replace(self, tokens: list[str], value: JsonValue) -> None:
        if not tokens:
            self.root = value
            return
        parent = self.parent_for_write(tokens)
        if isinstance(parent, dict):
            if tokens[-1] not in parent:
                raise PatchError(f"{format_pointer(tokens)} does not exist")
            parent[tokens[-1]] = value
        else:
            parent[_array_index(tokens[-1], parent, allow_end=False)] = value


def _member(op: dict[str, Any], name: str) -> Any:
    if name not in op:
        raise PatchError(f"{op.get('op')!r} needs a {name!r} member")
    return op[name]


def _apply_op(doc: _Doc, op: Any) -> None:
    if not isinstance(op, dict):
        raise PatchError("an operation must be a JSON object")
    kind = op.get("op")
    if kind not in _OPS:
        raise PatchError(f"unknown op {kind!r}")
    path = parse_pointer(_member(op, "path"))
    if kind == "add":
        doc.add(path, _member(op, "value"))
    elif kind == "remove":
        doc.remove(path)
    elif kind == "replace":
        value = _member(op, "value")
        resolve(doc.root, path)  # RFC 6902 §4.3: the target must exist
        doc.replace(path, value)
    elif kind == "test":
        if not json_equal(resolve(doc.root, path), _member(op, "value")):
            raise PatchError(f"test failed at {format_pointer(path)}")
    else:
        source = parse_pointer(_member(op, "from"))
        if kind == "move":
            if source == path:
                resolve(doc.root, source)  # a no-op, but the location must exist
                return
            if path[: len(source)] == source:
                raise PatchError("cannot move a value into one of its own children")
            doc.add(path, doc.remove(source))
        else:
            # A copy is a distinct value (§4.5): later ops must not change both places.
            doc.add(path, json_copy(resolve(doc.root, source)))


def apply_patch(doc: JsonValue, patch_ops: Any) -> JsonValue:
    """Apply an RFC 6902 patch (a list of operations) and return the new document.

    Atomic (§5): on the first failing op a ``PatchError`` is raised and nothing is returned.
    ``doc`` and ``patch_ops`` are never mutated; the result may share unchanged subtrees with
    both, so treat it as read-only or ``json_copy`` it before changing it.
    """
    if not isinstance(patch_ops, list):
        raise PatchError("a patch must be a JSON array of operations")
    state = _Doc(doc)
    for index, op in enumerate(patch_ops):
        try:
            _apply_op(state, op)
        except PatchError as exc:
            raise PatchError(str(exc), op_index=index) from None
    return state.root
