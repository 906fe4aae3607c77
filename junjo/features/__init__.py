"""The features this server is made of, in the order their lifespans start.

Each entry is a feature package whose ``__init__`` declares ``FEATURE`` (see
``junjo.kernel.feature``). Removing a feature is removing its folder and its line here
(and the lines of the features that use it: ``docs/architecture.md`` shows which).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from junjo.kernel.feature import Feature

FEATURES = (
    "junjo.features.meta",
    "junjo.features.users",
    "junjo.features.auth",
    "junjo.features.api_keys",
    "junjo.features.spans",
    "junjo.features.workflows",
    "junjo.features.ingest",
    "junjo.features.maintenance",
    "junjo.features.traces",
    "junjo.features.llm_cost",
    "junjo.features.playground",
    "junjo.features.doctor",
    # Last: its catch-all route (the web UI's app shell) comes after every other route.
    "junjo.features.web",
)


def load(names: Sequence[str] = FEATURES) -> list[Feature]:
    """The ``FEATURE`` of each named package, in order (importing only its ``__init__``)."""
    return [importlib.import_module(name).FEATURE for name in names]
