// The run's graph as SVG: dagre (vendored, loaded by this page only) computes where nodes,
// clusters and edges go; Preact draws them, so labels are text nodes (escaped), styles are
// classes (the CSP forbids style attributes), and nodes are real focusable elements.
// Concurrent groups and expanded subflows are dagre clusters; an edge into a cluster goes to
// its entry nodes (a group's children, a subflow's source), one out of it from its exits.

import dagre from "../../vendor/dagre-3.1.3/dagre.mjs";
import { html, useMemo } from "../../lib/html.js";
import { formatDuration } from "../../lib/format.js";

const NODE_HEIGHT = 34;
const FAILED_HEIGHT = 50; // room for the error's first words under the label
const ERROR_CHARS = 34;
const CHAR_WIDTH = 7.4;
const CLUSTER_LABEL = 18; // room above a cluster's children for its title

/** node id -> the subflow whose graph holds it (every level). */
export function subflowParents(graph) {
  const parents = new Map();
  const walk = (level, owner) => {
    for (const node of level.nodes) if (owner) parents.set(node.id, owner);
    for (const sub of level.subflows) walk(sub.graph, sub.id);
  };
  if (graph) walk(graph, null);
  return parents;
}

/** Every subflow of the graph (any depth): [{id, label}]. */
export function allSubflows(graph) {
  const out = [];
  const walk = (level) => {
    for (const sub of level.subflows) {
      out.push({ id: sub.id, label: sub.label });
      walk(sub.graph);
    }
  };
  if (graph) walk(graph);
  return out;
}

/** "InventoryServiceError" of "InventoryServiceError: inventory ..." (cut to fit). */
function errorKind(error) {
  const kind = error.split(":")[0];
  return kind.length > ERROR_CHARS ? `${kind.slice(0, ERROR_CHARS - 1)}…` : kind;
}

function nodeWidth(label, runs, error) {
  const extra = runs > 1 ? 30 : 0;
  const errorWidth = error ? errorKind(error).length * 6.2 + 20 : 0;
  return Math.min(280, Math.max(84, label.length * CHAR_WIDTH + 26 + extra, errorWidth));
}

/** The dagre layout of `graph` with the subflows in `expanded` opened in place. */
export function layoutGraph(graph, expanded, statuses) {
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 22, ranksep: 40, edgesep: 10, marginx: 12, marginy: 12 + CLUSTER_LABEL });
  g.setDefaultEdgeLabel(() => ({}));
  const entries = new Map(); // cluster id -> ids an edge into it goes to
  const exits = new Map(); // cluster id -> ids an edge out of it comes from
  const clusters = new Map(); // cluster id -> {kind, label, node}
  const edges = [];

  function addLevel(level, parent) {
    const byId = new Map(level.nodes.map((n) => [n.id, n]));
    const groups = new Map(level.concurrent_groups.map((group) => [group.id, group]));
    const subflows = new Map(level.subflows.map((sub) => [sub.id, sub]));
    for (const node of level.nodes) {
      const inGroup = node.concurrent_group_id && byId.has(node.concurrent_group_id);
      const container = inGroup ? node.concurrent_group_id : parent;
      if (groups.has(node.id)) {
        clusters.set(node.id, { kind: "group", label: node.label, node });
        g.setNode(node.id, { cluster: true });
        const children = groups.get(node.id).node_ids;
        entries.set(node.id, children);
        exits.set(node.id, children);
      } else if (subflows.has(node.id) && expanded.has(node.id)) {
        const sub = subflows.get(node.id);
        clusters.set(node.id, { kind: "subflow", label: node.label, node });
        g.setNode(node.id, { cluster: true });
        const inner = sub.graph.nodes.filter((n) => !n.concurrent_group_id).map((n) => n.id);
        entries.set(node.id, sub.source_node_ids.length ? sub.source_node_ids : inner.slice(0, 1));
        exits.set(node.id, sub.sink_node_ids.length ? sub.sink_node_ids : inner.slice(-1));
        addLevel(sub.graph, node.id);
      } else {
        const runs = statuses[node.id]?.runs || 0;
        const height = statuses[node.id]?.error ? FAILED_HEIGHT : NODE_HEIGHT;
        g.setNode(node.id, { width: nodeWidth(node.label, runs, statuses[node.id]?.error), height, node });
      }
      if (container) g.setParent(node.id, container);
    }
    for (const edge of level.edges) edges.push(edge);
  }
  addLevel(graph, null);

  const ends = (id, map, seen = new Set()) => {
    if (!map.has(id)) return [id];
    if (seen.has(id)) return [];
    seen.add(id);
    return map.get(id).flatMap((child) => ends(child, map, seen));
  };
  let count = 0;
  for (const edge of edges) {
    for (const tail of ends(edge.tail, exits)) {
      for (const head of ends(edge.head, entries)) {
        if (!g.hasNode(tail) || !g.hasNode(head) || tail === head) continue;
        const label = edge.condition || "";
        const size = label ? { width: Math.min(220, label.length * 6.6 + 10), height: 16, labelpos: "c" } : {};
        g.setEdge(tail, head, { ...size, label, edge }, `${edge.id}:${count++}`);
      }
    }
  }
  dagre.layout(g);

  const nodes = [];
  const boxes = [];
  for (const id of g.nodes()) {
    const item = g.node(id);
    if (!item) continue;
    if (clusters.has(id)) boxes.push({ id, depth: depthOf(g, id), ...clusters.get(id), x: item.x, y: item.y, width: item.width, height: item.height });
    else nodes.push({ id, node: item.node, x: item.x, y: item.y, width: item.width, height: item.height });
  }
  boxes.sort((a, b) => a.depth - b.depth); // outer clusters first, so inner ones draw on top
  const lines = g.edges().map((e) => ({ key: e.name, tail: e.v, head: e.w, ...g.edge(e) }));
  const size = g.graph();
  return { nodes, boxes, lines, width: size.width || 100, height: size.height || 60 };
}

function depthOf(g, id) {
  let depth = 0;
  for (let parent = g.parent(id); parent; parent = g.parent(parent)) depth++;
  return depth;
}

function pathOf(points) {
  if (!points?.length) return "";
  return points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

const STATUS_TEXT = {
  executed: "ran",
  failed: "failed",
  cancelled: "cancelled",
  running: "running",
  not_run: "did not run",
};

export function nodeStatusText(status) {
  const runs = status?.runs || 0;
  const text = STATUS_TEXT[status?.status || "not_run"];
  return runs > 1 ? `${text}, ${runs} times` : text;
}

/**
 * props: graph (a level of the run's normalized graph), statuses (node id -> {status, runs,
 * duration_ns}), expanded (Set of subflow ids), selected (node id), onSelect(node id),
 * label (the graph's accessible name), idPrefix (unique per graph on the page).
 */
export function GraphSvg({ graph, statuses, expanded, selected, onSelect, label, idPrefix = "wf" }) {
  const layout = useMemo(() => layoutGraph(graph, expanded, statuses), [graph, expanded, statuses]);
  const arrow = `${idPrefix}-arrow`;
  const arrowRan = `${idPrefix}-arrow-ran`;
  const ran = (id) => {
    const status = statuses[id]?.status;
    return status && status !== "not_run";
  };
  function onKey(event, id) {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect(id);
    }
  }
  // The same vnode while nothing it shows changed: Preact skips the diff of 1,000 nodes.
  return useMemo(() => html`<svg
    class="wf-graph"
    role="group"
    aria-label=${label}
    width=${Math.ceil(layout.width)}
    height=${Math.ceil(layout.height)}
    viewBox=${`0 0 ${Math.ceil(layout.width)} ${Math.ceil(layout.height)}`}
  >
    <defs>
      <marker id=${arrow} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
        <path d="M0,0 L10,5 L0,10 z" class="wf-arrow" />
      </marker>
      <marker id=${arrowRan} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
        <path d="M0,0 L10,5 L0,10 z" class="wf-arrow wf-arrow-ran" />
      </marker>
    </defs>
    ${layout.boxes.map((box) => {
      const status = statuses[box.id];
      const top = box.y - box.height / 2 - CLUSTER_LABEL;
      const classes = `wf-cluster wf-cluster-${box.kind} wf-status-${status?.status || "not_run"}${selected === box.id ? " wf-selected" : ""}`;
      return html`<g key=${box.id} class=${classes} data-node-id=${box.id}>
        <rect x=${box.x - box.width / 2} y=${top} width=${box.width} height=${box.height + CLUSTER_LABEL} rx="8" />
        <text
          x=${box.x - box.width / 2 + 8}
          y=${top + 13}
          class="wf-cluster-label"
          tabindex="0"
          role="button"
          aria-label=${`${box.kind === "group" ? "Concurrent group" : "Subflow"} ${box.node.label}: ${nodeStatusText(status)}`}
          onClick=${() => onSelect(box.id)}
          onKeyDown=${(event) => onKey(event, box.id)}
        >${box.kind === "group" ? "⇉ " : "▾ "}${box.node.label}${status?.runs > 1 ? ` ×${status.runs}` : ""}</text>
      </g>`;
    })}
    ${layout.lines.map((line) => {
      const both = ran(line.tail) && ran(line.head);
      return html`<g key=${line.key} class=${`wf-edge${both ? " wf-edge-ran" : ""}${line.label ? " wf-edge-conditional" : ""}`}>
        <path d=${pathOf(line.points)} marker-end=${`url(#${both ? arrowRan : arrow})`} />
        ${line.label
          ? html`<text class="wf-edge-label" x=${line.x} y=${line.y + 4} text-anchor="middle">${line.label}</text>`
          : null}
      </g>`;
    })}
    ${layout.nodes.map((item) => {
      const status = statuses[item.id];
      const kind = item.node.kind === "subflow" ? " wf-node-subflow" : "";
      const classes = `wf-node wf-status-${status?.status || "not_run"}${kind}${selected === item.id ? " wf-selected" : ""}`;
      const left = -item.width / 2;
      const top = -item.height / 2;
      const took = status?.duration_ns !== null && status?.duration_ns !== undefined ? `, ${formatDuration(status.duration_ns)}` : "";
      const error = status?.error;
      // The name starts with the node's visible text (label, error type) for speech input.
      const shown = `${item.node.label}${status?.runs > 1 ? ` ×${status.runs}` : ""}${error ? ` ${errorKind(error)}` : ""}`;
      const title = `${shown}: ${nodeStatusText(status)}${took}${error ? `, ${error}` : ""}`;
      const textY = error ? -4 : 4;
      return html`<g
        key=${item.id}
        class=${classes}
        transform=${`translate(${item.x.toFixed(1)},${item.y.toFixed(1)})`}
        tabindex="0"
        role="button"
        aria-label=${title}
        aria-pressed=${selected === item.id ? "true" : "false"}
        data-node-id=${item.id}
        data-status=${status?.status || "not_run"}
        onClick=${() => onSelect(item.id)}
        onKeyDown=${(event) => onKey(event, item.id)}
      >
        <title>${title}</title>
        ${item.node.kind === "subflow" ? html`<rect class="wf-stack" x=${left + 4} y=${top - 4} width=${item.width} height=${item.height} rx="6" />` : null}
        <rect x=${left} y=${top} width=${item.width} height=${item.height} rx="6" />
        <text x=${status?.runs > 1 ? -12 : 0} y=${textY} text-anchor="middle">${item.node.label}${status?.runs > 1
          ? html`<tspan class="wf-runs" x=${item.width / 2 - 8} text-anchor="end">${" "}×${status.runs}</tspan>`
          : null}${error ? html`<tspan class="wf-node-error" x="0" dy="18">${" "}${errorKind(error)}</tspan>` : null}</text>
        ${status?.status === "failed" || status?.status === "cancelled"
          ? html`<g class=${`wf-mark wf-mark-${status.status}`} aria-hidden="true">
              <circle cx=${left + 2} cy=${top + 2} r="8" />
              <text x=${left + 2} y=${top + 6} text-anchor="middle">${status.status === "failed" ? "!" : "×"}</text>
            </g>`
          : null}
      </g>`;
    })}
  </svg>`, [layout, selected, statuses, label]);
}
