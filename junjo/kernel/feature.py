"""The one contract through which a feature adds to the server and the CLI.

Each folder under ``junjo/features/`` is a feature. Its package ``__init__`` declares
``FEATURE = Feature(...)`` and is its public face: the only names other features may
import from it. ``junjo/features/__init__.py`` lists the features that are loaded; the app
factory (``junjo.server.app``) and the CLI root (``junjo.cli``) collect from that list
alone, the way Datasette registers its built-ins through the same hooks plugins use.

Every hook is a function called when it is needed, so that ``junjo --help`` imports only
the Typer commands it shows: a feature's ``__init__`` imports nothing heavy at import time
(see ``public_face``).
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer
    from starlette.routing import BaseRoute

    from junjo.config import Settings
    from junjo.kernel.migrations import Store
    from junjo.kernel.state import AppState


@dataclass(frozen=True)
class Feature:
    """What one feature adds. Every hook is optional.

    - ``routes()``: its Starlette routes (endpoints declared with ``junjo.server.endpoint``,
      which also gives the OpenAPI document its operations);
    - ``commands(cli)``: adds its Typer commands or groups to the ``junjo`` command;
    - ``lifespan(state)``: a context manager entered when the app starts, in the order of
      ``FEATURES``, and left in reverse when it stops: it opens what the feature's routes
      need and ``state.provide``-s it, and may add ``state.identify_by`` resolvers;
    - ``stores(settings)``: the databases it owns, with their migrations (``junjo migrate``);
    - ``check(settings)``: raises ``junjo.config.ConfigError`` for a setting of its that
      cannot work (``junjo serve`` asks before it binds a port or announces anything).
    """

    name: str
    routes: Callable[[], Sequence[BaseRoute]] | None = None
    commands: Callable[[typer.Typer], None] | None = None
    lifespan: Callable[[AppState], AbstractContextManager[None]] | None = None
    stores: Callable[[Settings], Sequence[Store]] | None = None
    check: Callable[[Settings], None] | None = None


def public_face(package: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports a feature's public names on first use.

    The names are the ones its ``__init__`` imports under ``if TYPE_CHECKING:`` (so they are
    written once, where readers and mypy see them). Importing the package stays free: only
    the module that holds a name is imported, when the name is first asked for.
    """
    sources: dict[str, tuple[str, str]] = {}

    def load(name: str) -> Any:
        if not sources:
            sources.update(_type_checking_imports(package))
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, original = sources[name]
        value = getattr(importlib.import_module(module), original)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    return load


def _type_checking_imports(package: str) -> dict[str, tuple[str, str]]:
    """``{name: (module, name there)}`` of every ``from module import name [as name]``
    under ``if TYPE_CHECKING:``."""
    init = Path(sys.modules[package].__file__ or "")
    names: dict[str, tuple[str, str]] = {}
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        names[alias.asname or alias.name] = (statement.module, alias.name)
    return names
