"""Workflow execution: pure domain logic over the spans of one trace (no HTTP, DB or
terminal): the run's graph, its store transitions replayed into states, integrity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    from junjo.features.workflows.changes import (
        transition_changes as transition_changes,
    )
    from junjo.features.workflows.compare import (
        compare_runs as compare_runs,
    )
    from junjo.features.workflows.execution import (
        build_workflow_execution as build_workflow_execution,
    )
    from junjo.features.workflows.jsonpatch import (
        PatchError as PatchError,
    )
    from junjo.features.workflows.jsonpatch import (
        parse_pointer as parse_pointer,
    )
    from junjo.features.workflows.jsonpatch import (
        resolve as resolve,
    )
    from junjo.features.workflows.run import (
        RunView as RunView,
    )

__getattr__ = public_face(__name__)

FEATURE = Feature("workflows")
