"""Rich renderings of trace JSON for the terminal (the REST API's shapes in, text out)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from junjo.cli_support import FittedTable

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
    line.append("  ").append_text(_root(summary))
    line.append(f"  {duration(summary['duration_ns'])}  ")
    line.append(f"{summary['span_count']} spans  ")
    if summary["llm_call_count"]:
        line.append(f"{summary['llm_call_count']} LLM  ", style="magenta")
    line.append_text(_status(summary))
    return line


def traces_table(traces: list[dict[str, Any]]) -> FittedTable:
    """The traces, newest first. The trace id is shown whole, at any terminal width: it is
    what `junjo traces show` takes (root and service wrap; counts go first when narrow)."""
    rows = []
    for summary in traces:
        tokens = summary["tokens"]["total"]
        rows.append(
            (
                local_time(summary["start_time_ns"]),
                summary["trace_id"],
                summary["service_name"],
                _root(summary),
                duration(summary["duration_ns"]),
                str(summary["span_count"]),
                str(summary["llm_call_count"] or ""),
                str(tokens) if tokens is not None else "",
                _status(summary),
            )
        )
    return FittedTable(
        ("started", "trace", "service", "root", "took", "spans", "LLM", "tokens", "ok"),
        rows,
        ids=("trace",),
        wraps=("service", "root"),
        drop=("tokens", "spans", "LLM", "started", "service", "took"),
    )


ROOT_MISSING = "(root missing)"


def _root(summary: dict[str, Any]) -> Text:
    """The root span's name; a trace whose root never arrived shows its earliest span's
    name, marked."""
    if summary.get("root_is_complete", True):
        return Text(summary["root_name"])
    return Text(f"{summary['root_name']} ").append(ROOT_MISSING, style="yellow")


def services_table(services: list[dict[str, Any]]) -> Table:
    table = Table("service", "traces", "spans", "error rate", "LLM calls", "tokens", "last seen")
    for service in services:
        tokens = service.get("total_tokens")
        table.add_row(
            service["service_name"],
            str(service["trace_count"]),
            str(service["span_count"]),
            f"{service['error_rate'] * 100:.1f}%",
            str(service.get("llm_call_count", 0)),
            str(tokens) if tokens is not None else "",
            local_time(service["last_seen_ns"]),
        )
    return table


MESSAGE_CHARS = 160  # of each LLM message, on one line, unless --full


def span_tree(detail: dict[str, Any], *, full: bool = False) -> Tree | Group:
    """The span tree with durations, status, a waterfall bar, errors, and each LLM call's
    model, tokens and messages (each cut to one line of ``MESSAGE_CHARS``; ``full``: whole)."""
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
    if not summary.get("root_is_complete", True):
        label.append(f"  {ROOT_MISSING}", "yellow")
    tree = Tree(label)
    cut = False

    def add(node: Tree, parent: str | None) -> None:
        nonlocal cut
        for span in by_parent.get(parent, []):
            messages = _messages(span, full) if span["is_llm"] else []
            cut = cut or any(was_cut for _, was_cut in messages)
            child = node.add(_span_label(span, start, total, [line for line, _ in messages]))
            add(child, span["span_id"])

    add(tree, None)
    if not cut:
        return tree
    return Group(tree, Text("LLM messages are cut to one line: --full shows them whole", "dim"))


def _span_label(span: dict[str, Any], start: int, total: int, messages: list[Text]) -> Group | Text:
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
    errors = [Text(f"    ✗ {message}", style="red") for message in _exception_messages(span)]
    if not errors and not messages:
        return line
    return Group(line, *messages, *errors)


def _messages(span: dict[str, Any], full: bool) -> list[tuple[Text, bool]]:
    """Each message of an LLM call as a line (``→`` marks what the model answered), and
    whether it was cut."""
    from junjo.features.traces.llm_messages import llm_messages

    out = []
    for message in llm_messages(span):
        text, was_cut = message.text, False
        if not full:
            text = " ".join(text.split())
            was_cut = len(text) > MESSAGE_CHARS
            text = text[: MESSAGE_CHARS - 1] + "…" if was_cut else text
        line = Text("    → " if message.output else "    ", style="dim")
        if not full:  # one line, whatever the terminal's width
            line.no_wrap, line.overflow = True, "ellipsis"
        line.append(f"{message.role}: ", style="bold magenta" if message.output else "bold")
        line.append(text)
        out.append((line, was_cut))
    return out


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
    """Each store transition of a workflow or subflow run as a diff, then the integrity
    verdict."""
    parts: list[Any] = []
    owner = execution.get("span", {})
    kind = owner.get("span_type") or "workflow"  # workflow, subflow or agent
    parts.append(Text(f"{kind} {owner.get('name', '?')} ({owner.get('span_id', '?')})", "bold"))
    for transition in execution.get("transitions", []):
        number = transition.get("sequence") or transition.get("position")  # legacy: no sequence
        header = Text(f"  #{number} ", style="bold")
        header.append(f"{transition.get('node_name') or '?'}", style="cyan")
        if transition.get("action"):
            header.append(f"  {transition['action']}")
        parts.append(header)
        parts.extend(_diff_lines(transition))
    integrity = execution.get("integrity", {})
    verdict = integrity.get("verdict", "unknown")
    parts.append(
        Text(f"  integrity: {verdict}", style="green" if verdict == "complete" else "yellow")
    )
    for reason in integrity.get("reasons", []):
        parts.append(Text(f"    - {reason.get('code')}: {reason.get('message')}", style="yellow"))
    return Group(*parts)


def _diff_lines(transition: dict[str, Any]) -> list[Text]:
    """One line per change (``transition_changes``, the web UI's Changes tab too): the ops a
    JSON patch spends on the items of one list are one change of the whole list."""
    from junjo.features.workflows import transition_changes

    return [_change_line(change) for change in transition_changes(transition)]


def _change_line(change: dict[str, Any]) -> Text:
    kind, path = change["kind"], change["path"]
    after = _short(change.get("after"))
    if kind == "add":
        return Text(f"    + {path} = {after}", style="green")
    if kind == "remove":
        return Text(f"    - {path}", style="red")
    if kind == "replace":
        return Text(f"    ~ {path}: {_short(change.get('before'))} → {after}", style="yellow")
    return Text(f"    {kind} {path} {change.get('from', '')}")


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
