"""Query-string values, checked the same way by every door: a parameter that is present
must have a valid value (``limit=`` or ``errors=`` is a 422, not "use the default": leave
the parameter out for that)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from junjo.kernel.errors import InvalidInput

_INTEGER = re.compile(r"-?[0-9]+")


def query_value(params: Mapping[str, str], name: str) -> str | None:
    """The parameter's value; None when absent. Present but empty is an error."""
    value = params.get(name)
    if value == "":
        raise InvalidInput(f"{name}: must not be empty (leave the parameter out instead)")
    return value


def parse_bool(value: str | None, name: str) -> bool:
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise InvalidInput(f"{name}: must be true or false")


def parse_int(value: str | None, name: str, default: int) -> int:
    # Not bare int(): it also takes " 5", "1_000" and non-ASCII digits.
    if value is None:
        return default
    if not _INTEGER.fullmatch(value):
        raise InvalidInput(f"{name}: must be an integer")
    return int(value)


def bool_param(params: Mapping[str, str], name: str) -> bool:
    return parse_bool(query_value(params, name), name)


def int_param(params: Mapping[str, str], name: str, default: int) -> int:
    return parse_int(query_value(params, name), name, default)
