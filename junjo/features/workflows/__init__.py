"""Workflow execution: pure domain logic over the spans of one trace (no HTTP, DB or terminal).

Public API:

* ``execution.build_workflow_execution(trace_spans, span_id, *, include_states=True)``
* ``execution.list_workflow_runs(trace_spans)`` and ``execution.owner_span_id(trace_spans, id)``
* ``graph.normalize_graph(attributes)`` and ``graph.graph_to_mermaid(graph, executed)``
* ``jsonpatch.apply_patch(doc, patch_ops)`` (RFC 6902) and ``jsonpatch.PatchError``
"""
