"""Rich renderings of trace JSON for the terminal (the REST API's shapes in, text out)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

BAR_WIDTH = 24


def duration(ns: int | None) -> str:
    if ns is None:
        return "-"
    if ns < 1_000_000:
        return f"{ns / 1000:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.1f}ms"
    return f"{ns / 1_000_000_000:.2f}s"


def local_time(ns: int | None) -> str:
    """HH:MM:SS for today, else the date too (local time)."""
    if not ns:
        return "-"
    moment = datetime.fromtimestamp(ns / 1e9).astimezone()
    if moment.date() == datetime.now().astimezone().date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


SHORT_ID = 12  # `junjo traces show` accepts any unique prefix


def _status(summary: dict[str, Any]) -> Text:
    if summary["status"] == "error":
        return Text(f"✗ {summary['error_count']}", style="red")
    return Text("✓", style="green")


def trace_line(summary: dict[str, Any]) -> Text:
    """One line per trace, for `junjo traces tail`."""
    line = Text()
    line.append(local_time(summary["start_time_ns"]), style="dim")
    line.append(f"  {summary['trace_id']}  ")
    line.append(summary["service_name"], style="cyan")
    line.append(f"  {summary['root_name']}  {duration(summary['duration_ns'])}  ")
    line.append(f"{summary['span_count']} spans  ")
    if summary["llm_call_count"]:
        line.append(f"{summary['llm_call_count']} LLM  ", style="magenta")
    line.append_text(_status(summary))
    return line


def traces_table(traces: list[dict[str, Any]]) -> Table:
    table = Table("started", "trace", "service", "root", "took", "spans", "LLM", "tokens", "ok")
    for summary in traces:
        tokens = summary["tokens"]["total"]
        table.add_row(
            local_time(summary["start_time_ns"]),
            summary["trace_id"][:SHORT_ID],
            summary["service_name"],
            summary["root_name"],
            duration(summary["duration_ns"]),
            str(summary["span_count"]),
            str(summary["llm_call_count"] or ""),
            str(tokens) if tokens is not None else "",
            _status(summary),
        )
    return table


def services_table(services: list[dict[str, Any]]) -> Table:
    table = Table("service", "traces", "spans", "error rate", "last seen")
    for service in services:
        table.add_row(
            service["service_name"],
            str(service["trace_count"]),
            str(service["span_count"]),
            f"{service['error_rate'] * 100:.1f}%",
            local_time(service["last_seen_ns"]),
        )
    return table


def span_tree(detail: dict[str, Any]) -> Tree:
    """The span tree with durations, status, a waterfall bar, LLM model/tokens, errors."""
    spans = detail["spans"]
    summary = detail["summary"]
    start, total = summary["start_time_ns"], max(summary["duration_ns"], 1)
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    ids = {span["span_id"] for span in spans}
    for span in sorted(spans, key=lambda s: (s["start_time_ns"], s["span_id"])):
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        by_parent.setdefault(parent, []).append(span)
    label = Text(f"trace {summary['trace_id']}  {summary['service_name']}  ")
    label.append(f"{duration(summary['duration_ns'])}  {summary['span_count']} spans  ")
    label.append_text(_status(summary))
    tree = Tree(label)

    def add(node: Tree, parent: str | None) -> None:
        for span in by_parent.get(parent, []):
            child = node.add(_span_label(span, start, total))
            add(child, span["span_id"])

    add(tree, None)
    return tree


def _span_label(span: dict[str, Any], start: int, total: int) -> Group | Text:
    line = Text()
    line.append(_bar(span["start_time_ns"] - start, span["duration_ns"], total), style="blue")
    line.append(f" {span['name']}", style="bold red" if span["is_error"] else "bold")
    if span.get("junjo_span_type"):
        line.append(f" [{span['junjo_span_type']}]", style="cyan")
    line.append(f"  {duration(span['duration_ns'])}")
    if span["is_llm"]:
        model = span.get("llm_model_name") or "LLM"
        tokens = span.get("llm_total_tokens")
        line.append(f"  {model}" + (f" {tokens} tokens" if tokens is not None else ""), "magenta")
    errors = _exception_messages(span)
    if not errors:
        return line
    return Group(line, *(Text(f"    ✗ {message}", style="red") for message in errors))


def _bar(offset: int, length: int, total: int) -> str:
    begin = min(BAR_WIDTH - 1, int(offset / total * BAR_WIDTH))
    width = max(1, round(length / total * BAR_WIDTH))
    width = min(width, BAR_WIDTH - begin)
    return "·" * begin + "█" * width + "·" * (BAR_WIDTH - begin - width)


def _exception_messages(span: dict[str, Any]) -> list[str]:
    messages = []
    for event in span["events_json"]:
        if event.get("name") == "exception":
            attrs = event.get("attributes", {})
            messages.append(
                f"{attrs.get('exception.type', 'error')}: {attrs.get('exception.message', '')}"
            )
    if not messages and span["status_code"] == "2" and span["status_message"]:
        messages.append(span["status_message"])
    return messages


def transitions(execution: dict[str, Any]) -> Group:
    """Each store transition of a workflow run as a diff, then the integrity verdict."""
    parts: list[Any] = []
    owner = execution.get("span", {})
    kind = "agent" if owner.get("span_type") == "agent" else "workflow"
    parts.append(Text(f"{kind} {owner.get('name', '?')} ({owner.get('span_id', '?')})", "bold"))
    for transition in execution.get("transitions", []):
        number = transition.get("sequence") or transition.get("position")  # legacy: no sequence
        header = Text(f"  #{number} ", style="bold")
        header.append(f"{transition.get('node_name') or '?'}", style="cyan")
        if transition.get("action"):
            header.append(f"  {transition['action']}")
        parts.append(header)
        for op in transition.get("patch") or []:
            parts.append(_diff_line(op, transition.get("state_before")))
    integrity = execution.get("integrity", {})
    verdict = integrity.get("verdict", "unknown")
    parts.append(
        Text(f"  integrity: {verdict}", style="green" if verdict == "complete" else "yellow")
    )
    for reason in integrity.get("reasons", []):
        parts.append(Text(f"    - {reason.get('code')}: {reason.get('message')}", style="yellow"))
    return Group(*parts)


def _diff_line(op: dict[str, Any], before: Any) -> Text:
    kind, path = op.get("op"), op.get("path", "")
    value = _short(op.get("value"))
    if kind == "add":
        return Text(f"    + {path} = {value}", style="green")
    if kind == "remove":
        return Text(f"    - {path}", style="red")
    if kind == "replace":
        return Text(f"    ~ {path}: {_short(_pointer(before, path))} → {value}", style="yellow")
    return Text(f"    {kind} {path} {op.get('from', '')}")


def _pointer(doc: Any, path: str) -> Any:
    """The value a replace overwrote, or None when the state before is not known."""
    from junjo.features.workflows import PatchError, parse_pointer, resolve

    try:
        return resolve(doc, parse_pointer(path))
    except PatchError:
        return None


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
