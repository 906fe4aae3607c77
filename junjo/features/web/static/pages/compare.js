// Two runs of one workflow side by side (GET /api/v1/workflow-runs/compare): which nodes ran
// in each and for how long, and how their states differ: the final states, or the state
// after any step of either. URL: /compare?a=<trace>.<span>&b=<trace>.<span>&a_index=&b_index=.

import { html } from "../lib/html.js";
import { useApi } from "../lib/api.js";
import { formatDuration, formatTime } from "../lib/format.js";
import { workflowPath } from "../lib/links.js";
import { Link, setQuery } from "../lib/router.js";
import { Badge, Empty, ErrorMessage, Loading, PageTitle } from "../lib/ui.js";
import { nodeStatusText } from "./workflow/graph.js";

function ids(value) {
  const [trace, span] = String(value || "").split(".");
  return trace && span ? { trace, span } : null;
}

export default function ComparePage({ query }) {
  const a = ids(query.get("a"));
  const b = ids(query.get("b"));
  const aIndex = query.get("a_index");
  const bIndex = query.get("b_index");
  const request = a && b ? { a_trace: a.trace, a_span: a.span, b_trace: b.trace, b_span: b.span, a_index: aIndex || undefined, b_index: bIndex || undefined } : null;
  const clean = request && Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
  const { data, error, loading } = useApi(clean ? "/api/v1/workflow-runs/compare" : null, clean);
  if (!clean) return html`<${PageTitle} title="Compare runs" /><${Empty}>Pick two runs on a workflow's “All runs” page.<//>`;
  if (error) return html`<${PageTitle} title="Compare runs" /><${ErrorMessage} error=${error} />`;
  if (!data) return html`<${PageTitle} title="Compare runs" /><${Loading} what="Comparing" />`;
  return html`<${PageTitle} title=${`Compare runs of ${data.a.name}`} />
    ${data.same_workflow ? null : html`<p class="wf-doubt" role="note">These are runs of two different workflows (${data.a.name}, ${data.b.name}).</p>`}
    <div class="cmp-runs" aria-busy=${loading ? "true" : "false"}>
      <${RunCard} side="A" run=${data.a} index=${aIndex} param="a_index" />
      <${RunCard} side="B" run=${data.b} index=${bIndex} param="b_index" />
    </div>
    <h2>Nodes</h2>
    <table class="data cmp-nodes">
      <thead><tr><th>Node</th><th>A</th><th class="num">A time</th><th>B</th><th class="num">B time</th></tr></thead>
      <tbody>
        ${data.nodes.map((node) => {
          const differs = (node.a?.status || "absent") !== (node.b?.status || "absent") || (node.a?.runs || 0) !== (node.b?.runs || 0);
          return html`<tr key=${node.key} class=${differs ? "cmp-differs" : ""}>
            <td>${node.label} <span class="muted">${node.kind === "node" ? "" : node.kind.replace("_", " ")}</span>${differs ? html`<span class="offscreen"> (differs)</span>` : null}</td>
            <td>${node.a ? nodeStatusText(node.a) : "not in this run"}</td>
            <td class="num">${node.a?.duration_ns !== null && node.a?.duration_ns !== undefined ? formatDuration(node.a.duration_ns) : "–"}</td>
            <td>${node.b ? nodeStatusText(node.b) : "not in this run"}</td>
            <td class="num">${node.b?.duration_ns !== null && node.b?.duration_ns !== undefined ? formatDuration(node.b.duration_ns) : "–"}</td>
          </tr>`;
        })}
      </tbody>
    </table>
    <h2>State</h2>
    <p class="muted">${stateWhen("A", data.a)}; ${stateWhen("B", data.b)}.</p>
    ${data.state_diff.length
      ? html`<table class="data cmp-diff">
          <colgroup><col class="cmp-path" /><col /><col /></colgroup>
          <thead><tr><th>Path</th><th>A</th><th>B</th></tr></thead>
          <tbody>
            ${data.state_diff.map((d) => html`<tr key=${d.path} data-path=${d.path}>
              <td class="mono">${d.path || "/"}</td>
              <td class="mono">${"a" in d ? html`<${Value} value=${d.a} />` : html`<span class="muted">absent</span>`}</td>
              <td class="mono">${"b" in d ? html`<${Value} value=${d.b} />` : html`<span class="muted">absent</span>`}</td>
            </tr>`)}
          </tbody>
        </table>`
      : html`<p class="cmp-same">The two states are the same.</p>`}`;
}

const SHOWN = 300; // characters of a value; the rest behind "whole value"

function Value({ value }) {
  const text = JSON.stringify(value);
  if (text.length <= SHOWN) return text;
  return html`<details><summary>${text.slice(0, SHOWN)}…</summary>${text}</details>`;
}

function stateWhen(side, run) {
  return run.state_at ? `${side} after change ${run.state_at.index + 1} (${run.state_at.node_name} · ${run.state_at.action})` : `${side} at its end`;
}

function RunCard({ side, run, index, param }) {
  const id = `cmp-step-${side}`;
  const steps = [];
  for (let i = 0; i < run.change_count; i++) steps.push(i);
  return html`<section class="card cmp-run" aria-label=${`Run ${side}`}>
    <h2>${side}: <${Link} href=${workflowPath(run.service_name, run.trace_id, run.span_id)}>${formatTime(run.start_time_ns)}<//></h2>
    <p>
      ${run.status_code === 2 ? html`<${Badge} tone="error">Failed<//>` : run.cancelled ? html`<${Badge} tone="warning">Cancelled<//>` : html`<${Badge} tone="ok">OK<//>`}
      <span> took ${formatDuration(run.duration_ns)} · ${run.change_count} state changes · state ${run.verdict}</span>
    </p>
    <div class="field">
      <label for=${id}>State of ${side}</label>
      <select id=${id} value=${index || ""} onChange=${(event) => setQuery({ [param]: event.currentTarget.value }, { replace: true })}>
        <option value="">at the end</option>
        ${steps.map((i) => html`<option key=${i} value=${String(i)}>after change ${i + 1}</option>`)}
      </select>
    </div>
  </section>`;
}
