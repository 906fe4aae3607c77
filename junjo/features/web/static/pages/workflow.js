// The workflow debugger: one run of a workflow, subflow or agent as its graph (what ran,
// failed, was cancelled, how often), its spans, and its state stepped change by change.
// Everything shown is the server's (GET /api/v1/traces/{t}/workflows/{s}/run, .../change,
// .../state: the reconstruction `junjo traces show --state` prints); the page only draws it.
// URL: /workflows/:service/:traceId/:workflowSpanId/:spanId? (the old Studio's path), with
// ?change=<index>&tab=<before|after|patch|changes>&paths=<filter>&node=<id>.

import { html, useEffect, useMemo, useRef, useState } from "../lib/html.js";
import { useApi } from "../lib/api.js";
import { formatCount, formatDuration, formatNumber, formatTime } from "../lib/format.js";
import { comparePath, runsPath, tracePath, workflowPath } from "../lib/links.js";
import { Link, navigate, setQuery } from "../lib/router.js";
import { Badge, ErrorMessage, Loading, PageTitle } from "../lib/ui.js";
import { VirtualList } from "../lib/virtual.js";
import { GraphSvg, allSubflows, nodeStatusText, subflowParents } from "./workflow/graph.js";
import { StatePanel } from "./workflow/state.js";

const SPAN_ROW = 30;

function runBase(traceId, spanId) {
  return `/api/v1/traces/${encodeURIComponent(traceId)}/workflows/${encodeURIComponent(spanId)}`;
}

function intOrNull(value) {
  if (value === null || value === undefined || value === "") return null;
  const number = Number.parseInt(value, 10);
  return Number.isFinite(number) && number >= 0 ? number : null;
}

export default function WorkflowPage({ params, query }) {
  const { service, traceId, workflowSpanId, spanId } = params;
  const base = runBase(traceId, workflowSpanId);
  const { data: run, error, loading } = useApi(`${base}/run`, undefined, base);
  if (error) return html`<${PageTitle} title="Workflow run" /><${ErrorMessage} error=${error} />`;
  if (!run || (loading && run.span.span_id !== workflowSpanId)) return html`<${PageTitle} title="Workflow run" /><${Loading} what="Loading the run" />`;
  return html`<${Run} run=${run} base=${base} service=${service} spanId=${spanId || null} query=${query} />`;
}

function Run({ run, base, service, spanId, query }) {
  const owner = run.span;
  const index = intOrNull(query.get("change"));
  const validIndex = index !== null && index < run.timeline.length ? index : null;
  const tab = query.get("tab") || "changes";
  const filter = query.get("paths") || "";
  const spanById = useMemo(() => new Map(run.spans.map((s) => [s.span_id, s])), [run]);
  const selectedSpan = spanId && spanById.has(spanId) ? spanId : null;
  const selectedNode = (selectedSpan && run.span_nodes[selectedSpan]) || query.get("node") || null;
  const here = (span, extra = {}) => workflowPath(service, owner.trace_id, owner.span_id, span, extra);
  const keep = { tab: query.get("tab"), paths: filter };

  function selectSpan(id) {
    navigate(here(id === owner.span_id ? null : id, keep));
  }
  function selectNode(nodeId) {
    const status = run.nodes[nodeId];
    const span = status?.span_ids?.[0] || run.node_spans[nodeId]?.[0];
    navigate(span ? here(span, keep) : here(null, { ...keep, node: nodeId }));
  }
  function selectChange(i) {
    const entry = run.timeline[i];
    const span = entry.node_span_id || entry.span_id;
    navigate(here(span && spanById.has(span) && span !== owner.span_id ? span : null, { ...keep, change: i }), { replace: true });
  }

  return html`<div class="wf-page">
    <${Header} run=${run} service=${service} />
    <${Verdict} run=${run} />
    ${owner.parent_owner_span_id ? html`<${ParentGraphs} service=${service} traceId=${owner.trace_id} spanId=${owner.parent_owner_span_id} childSpanId=${owner.span_id} />` : null}
    <div class="wf-top">
      <${GraphPanel} run=${run} selected=${selectedNode} onSelect=${selectNode} />
      <${ErrorsPanel} run=${run} onSelect=${selectSpan} />
    </div>
    <div class="wf-bottom">
      <${SpansPanel} run=${run} selected=${selectedSpan || owner.span_id} onSelect=${selectSpan} />
      <${StatePanel}
        run=${run}
        base=${base}
        index=${validIndex}
        spanId=${selectedSpan}
        tab=${tab}
        filter=${filter}
        onIndex=${selectChange}
        onTab=${(id) => setQuery({ tab: id === "changes" ? null : id }, { replace: true })}
        onFilter=${(text) => setQuery({ paths: text }, { replace: true })}
      />
    </div>
  </div>`;
}

function statusBadge(span) {
  if (span.status_code === 2) return html`<${Badge} tone="error">Failed<//>`;
  if (span.cancelled) return html`<${Badge} tone="warning">Cancelled<//>`;
  if (span.end_time_ns === null) return html`<${Badge} tone="info">Running<//>`;
  return html`<${Badge} tone="ok">OK<//>`;
}

/** "7 of 10 nodes ran" (the graph's nodes; the SDK's node count may count otherwise). */
function nodesRan(run) {
  const all = Object.values(run.nodes);
  const ran = all.filter((n) => n.status !== "not_run").length;
  return `${formatNumber(ran)} of ${formatCount(all.length, "node")} ran`;
}

function Header({ run, service }) {
  const owner = run.span;
  const { previous, next } = run.neighbours || {};
  const open = (other) => workflowPath(other.service_name, other.trace_id, other.span_id);
  const kind = owner.span_type === "subflow" ? "Subflow" : owner.span_type === "agent" ? "Agent" : "Workflow";
  return html`<${PageTitle} title=${`${kind} run: ${owner.name}`}>
      ${previous ? html`<${Link} class="button" href=${open(previous)} rel="prev">← Previous run<//>` : html`<span class="button" aria-disabled="true">← Previous run</span>`}
      ${next ? html`<${Link} class="button" href=${open(next)} rel="next">Next run →<//>` : html`<span class="button" aria-disabled="true">Next run →</span>`}
      ${owner.span_type === "workflow" ? html`<${Link} class="button" href=${runsPath(owner.service_name || service, owner.name)}>All runs<//>` : null}
      ${previous ? html`<${Link} class="button" href=${comparePath(previous, owner)}>Compare with previous<//>` : null}
      <${Link} class="button" href=${tracePath(owner.service_name || service, owner.trace_id, owner.span_id)}>View trace<//>
    <//>
    <p class="wf-meta">
      ${statusBadge(owner)}
      <span>Started <time>${formatTime(owner.start_time_ns)}</time></span>
      <span>took ${formatDuration(owner.duration_ns)}</span>
      <span>${nodesRan(run)}</span>
      <span>${formatCount(run.timeline.length, "state change")}</span>
      <span>${owner.service_name}</span>
      ${owner.parent_owner_span_id
        ? html`<span>part of <${Link} href=${workflowPath(owner.service_name || service, owner.trace_id, owner.parent_owner_span_id)}>its parent run<//></span>`
        : null}
      ${run.integrity.verdict === "complete"
        ? html`<${Badge} tone="ok" title="Every state change is accounted for and replays to the reported end state">State complete<//>`
        : html`<${Badge} tone="warning">State partial<//>`}
    </p>`;
}

function Verdict({ run }) {
  if (run.integrity.verdict === "complete") return null;
  return html`<section class="wf-verdict" aria-labelledby="wf-verdict-title">
    <h2 id="wf-verdict-title">The state of this run is not complete</h2>
    <p>What the server could not account for (states after it are best effort):</p>
    <ul>
      ${run.integrity.reasons.map(
        (reason, i) => html`<li key=${i} data-code=${reason.code}>
          <strong>${reason.owner_name}</strong>: ${reason.message} <span class="muted">(${reason.code})</span>
        </li>`,
      )}
    </ul>
  </section>`;
}

/**
 * The graphs of the runs this one is part of (its parent workflow, and theirs), outermost
 * first, each with the node this run is marked: one graph per workflow and subflow on the
 * path. A click opens that run with the clicked node's span selected.
 */
function ParentGraphs({ service, traceId, spanId, childSpanId }) {
  const base = runBase(traceId, spanId);
  const { data: parent, error } = useApi(`${base}/run`, undefined, base);
  if (error) return html`<${ErrorMessage} error=${error} />`;
  if (!parent?.graph) return null;
  const open = (nodeId) => {
    const span = parent.nodes[nodeId]?.span_ids?.[0];
    navigate(workflowPath(service, traceId, spanId, span || null, span ? {} : { node: nodeId }));
  };
  const owner = parent.span;
  return html`${owner.parent_owner_span_id ? html`<${ParentGraphs} service=${service} traceId=${traceId} spanId=${owner.parent_owner_span_id} childSpanId=${spanId} />` : null}
    <section class="wf-parent" aria-label=${`Part of ${owner.name}`}>
      <h2>Part of <${Link} href=${workflowPath(service, traceId, spanId, childSpanId)}>${owner.name}<//></h2>
      <div class="wf-graph-box wf-graph-parent">
        <${GraphSvg}
          graph=${parent.graph}
          statuses=${parent.nodes}
          expanded=${NO_SUBFLOWS}
          selected=${parent.span_nodes[childSpanId] || null}
          onSelect=${open}
          label=${`Graph of ${owner.name}, the run this one is part of`}
          idPrefix=${`wf-parent-${spanId}`}
        />
      </div>
    </section>`;
}

const NO_SUBFLOWS = new Set();

function GraphPanel({ run, selected, onSelect }) {
  const [opened, setOpened] = useState(() => new Set());
  const parents = useMemo(() => subflowParents(run.graph), [run.graph]);
  const subflows = useMemo(() => allSubflows(run.graph), [run.graph]);
  // A selected node inside a subflow opens its subflow (and theirs) in place. The set is
  // rebuilt only when its members change: a new one lays the whole graph out again.
  const wanted = new Set(opened);
  for (let at = selected && parents.get(selected); at; at = parents.get(at)) wanted.add(at);
  const expandedKey = [...wanted].sort().join("\n");
  const expanded = useMemo(() => wanted, [expandedKey]);
  const toggle = (id) => {
    const next = new Set(expanded);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpened(next);
  };
  const box = useRef(null);
  useEffect(() => {
    // The selected node comes into view (the graph box scrolls; a big graph is taller).
    const element = selected && box.current?.querySelector(`[data-node-id="${CSS.escape(selected)}"]`);
    element?.scrollIntoView?.({ block: "nearest", inline: "nearest" });
  }, [selected, expanded]);
  if (!run.graph) {
    return html`<section class="wf-graph-panel"><h2>Graph</h2><p class="muted">${run.span.span_type === "agent" ? "An agent run has no graph; its application store's changes are below." : "This run carries no graph snapshot."}</p></section>`;
  }
  return html`<section class="wf-graph-panel" aria-labelledby="wf-graph-title">
    <div class="wf-panel-head">
      <h2 id="wf-graph-title">${run.span.parent_owner_span_id ? `Graph of ${run.span.name}` : "Graph"}</h2>
      <${Legend} />
      ${subflows.length
        ? html`<div class="wf-subflows" role="group" aria-label="Subflows">
            ${subflows.map(
              (sub) => html`<button key=${sub.id} type="button" class="button" aria-expanded=${expanded.has(sub.id) ? "true" : "false"} onClick=${() => toggle(sub.id)}>
                ${expanded.has(sub.id) ? "▾" : "▸"} ${sub.label}
              </button>`,
            )}
          </div>`
        : null}
    </div>
    <div class="wf-graph-box" ref=${box}>
      <${GraphSvg}
        graph=${run.graph}
        statuses=${run.nodes}
        expanded=${expanded}
        selected=${selected}
        onSelect=${onSelect}
        label=${`Graph of ${run.span.name}: click a node to select its span`}
      />
    </div>
    <${NodeList} run=${run} selected=${selected} onSelect=${onSelect} />
    ${run.graph.problems.length ? html`<p class="wf-doubt">The graph snapshot is malformed: ${run.graph.problems.join("; ")}</p>` : null}
  </section>`;
}

function Legend() {
  return html`<ul class="wf-legend" aria-label="Legend">
    <li><span class="wf-swatch wf-status-executed" aria-hidden="true"></span>ran</li>
    <li><span class="wf-swatch wf-status-failed" aria-hidden="true"></span>failed</li>
    <li><span class="wf-swatch wf-status-cancelled" aria-hidden="true"></span>cancelled</li>
    <li><span class="wf-swatch wf-status-not_run" aria-hidden="true"></span>did not run</li>
  </ul>`;
}

/** The graph as text: every node, where it is, whether it ran. */
function NodeList({ run, selected, onSelect }) {
  const [open, setOpen] = useState(false);
  const rows = [];
  const walk = (level, depth) => {
    const subflows = new Map(level.subflows.map((s) => [s.id, s]));
    for (const node of level.nodes) {
      rows.push({ node, depth: depth + (node.concurrent_group_id ? 1 : 0) });
      if (subflows.has(node.id)) walk(subflows.get(node.id).graph, depth + 1);
    }
  };
  walk(run.graph, 0);
  // A closed list renders no items: a 1,000-node graph would diff them on every step.
  return html`<details class="wf-node-list" onToggle=${(event) => setOpen(event.currentTarget.open)}>
    <summary>Nodes as a list (${formatNumber(rows.length)})</summary>
    ${open ? html`<ul>
      ${rows.map(({ node, depth }) => {
        const status = run.nodes[node.id];
        return html`<li key=${node.id} class=${`wf-depth-${Math.min(depth, 6)}`}>
          <button type="button" class="wf-link" aria-current=${selected === node.id ? "true" : undefined} onClick=${() => onSelect(node.id)}>
            ${node.label}
          </button>
          <span class="muted"> ${node.kind === "concurrent_group" ? "concurrent group" : node.kind} · ${nodeStatusText(status)}${status?.duration_ns !== null && status?.duration_ns !== undefined ? ` · ${formatDuration(status.duration_ns)}` : ""}</span>
        </li>`;
      })}
    </ul>` : null}
  </details>`;
}

function ErrorsPanel({ run, onSelect }) {
  const failed = run.spans.filter((s) => s.exceptions.length || s.hook_errors.length || s.cancelled || (s.status_code === 2 && s.status_message));
  return html`<section class="wf-errors" aria-labelledby="wf-errors-title">
    <h2 id="wf-errors-title">Errors</h2>
    ${failed.length
      ? html`<ul>
          ${failed.map((span) => html`<li key=${span.span_id} class="wf-error" data-span-id=${span.span_id}>
            <button type="button" class="wf-link" onClick=${() => onSelect(span.span_id)}>${span.name}</button>
            ${span.cancelled ? html` <${Badge} tone="warning">cancelled<//> <span class="muted">${span.cancelled_reason || ""}</span>` : null}
            ${span.exceptions.map((e, i) => html`<div key=${`e${i}`} class="wf-exception">
              <p><strong>${e.type || "Exception"}</strong>: ${e.message}</p>
              ${e.stacktrace ? html`<details><summary>Stack trace</summary><pre class="block">${e.stacktrace}</pre></details>` : null}
            </div>`)}
            ${!span.exceptions.length && span.status_code === 2 && span.status_message ? html`<p>${span.status_message}</p>` : null}
            ${span.hook_errors.map((h, i) => html`<div key=${`h${i}`} class="wf-exception">
              <p><strong>Hook ${h.hook_event || ""} ${h.callback || ""}</strong>: ${h.name === "junjo.hook_delivery_cancelled" ? `delivery cancelled (${h.cancelled_reason || "cancelled"})` : `${h.type || "error"}: ${h.message || ""}`}</p>
              ${h.stacktrace ? html`<details><summary>Stack trace</summary><pre class="block">${h.stacktrace}</pre></details>` : null}
            </div>`)}
          </li>`)}
        </ul>`
      : html`<p class="muted">No errors in this run.</p>`}
  </section>`;
}

function spanRows(run) {
  const depth = new Map([[run.span.span_id, 0]]);
  return run.spans.map((span) => {
    const d = span.span_id === run.span.span_id ? 0 : (depth.get(span.parent_span_id) ?? 0) + 1;
    depth.set(span.span_id, d);
    return { span, depth: d };
  });
}

function SpansPanel({ run, selected, onSelect }) {
  const rows = useMemo(() => spanRows(run), [run]);
  const at = rows.findIndex((r) => r.span.span_id === selected);
  return html`<section class="wf-spans" aria-labelledby="wf-spans-title">
    <h2 id="wf-spans-title">Spans</h2>
    <${VirtualList}
      items=${rows}
      rowHeight=${SPAN_ROW}
      height=${`min(${rows.length * SPAN_ROW + 4}px, 60vh)`}
      label="Spans of this run"
      scrollTo=${at}
      renderRow=${({ span, depth }) => {
        const failed = span.status_code === 2 || span.exceptions.length;
        return html`<div role="listitem" class="wf-li"><button
          type="button"
          class=${`wf-span${span.span_id === selected ? " selected" : ""}${failed ? " wf-span-failed" : ""}`}
          aria-current=${span.span_id === selected ? "true" : undefined}
          data-span-id=${span.span_id}
          style=${{ paddingLeft: `${0.4 + Math.min(depth, 12) * 0.9}rem` }}
          onClick=${() => onSelect(span.span_id)}
        >
          <span class="wf-span-name">${span.name}</span>
          ${span.span_type ? html`<span class="muted wf-span-type">${span.span_type}</span>` : null}
          ${failed ? html`<span class="wf-span-error">failed</span>` : null}
          ${span.cancelled ? html`<span class="wf-span-error">cancelled</span>` : null}
          <span class="muted wf-span-time">${formatDuration(span.duration_ns)}</span>
        </button></div>`;
      }}
    />
  </section>`;
}
