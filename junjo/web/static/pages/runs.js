// The runs of one workflow (GET /api/v1/workflow-runs): status, duration, node count,
// started; open one, or tick two and compare them. URL: /runs?service=&name=.

import { html, useState } from "../lib/html.js";
import { useApi } from "../lib/api.js";
import { formatDuration, formatNumber, formatTime } from "../lib/format.js";
import { comparePath, workflowPath } from "../lib/links.js";
import { Link } from "../lib/router.js";
import { Badge, Empty, ErrorMessage, Loading, PageTitle } from "../lib/ui.js";

const TONES = { ok: "ok", error: "error", cancelled: "warning" };
const WORDS = { ok: "OK", error: "Failed", cancelled: "Cancelled" };

export default function RunsPage({ query }) {
  const service = query.get("service") || "";
  const name = query.get("name") || "";
  const request = { service, name, limit: 200 };
  const { data, error, loading } = useApi(service && name ? "/api/v1/workflow-runs" : null, request);
  const [picked, setPicked] = useState([]);
  const title = name ? `Runs of ${name}` : "Workflow runs";
  if (!service || !name) return html`<${PageTitle} title=${title} /><${Empty}>Open a workflow run, then “All runs”.<//>`;
  if (error) return html`<${PageTitle} title=${title} /><${ErrorMessage} error=${error} />`;
  if (loading && !data) return html`<${PageTitle} title=${title} /><${Loading} />`;
  const runs = data.runs;
  const toggle = (run) => {
    const key = run.span_id;
    setPicked((now) => (now.some((r) => r.span_id === key) ? now.filter((r) => r.span_id !== key) : [...now, run].slice(-2)));
  };
  const [a, b] = picked.length === 2 ? [...picked].sort((x, y) => x.start_time_ns - y.start_time_ns) : [];
  return html`<${PageTitle} title=${title}>
      ${a ? html`<${Link} class="button primary" href=${comparePath(a, b)}>Compare the two ticked<//>` : html`<span class="button" aria-disabled="true">Tick two runs to compare</span>`}
    <//>
    <p class="muted">${formatNumber(runs.length)} runs in ${service}, newest first.</p>
    ${runs.length
      ? html`<table class="data wf-runs">
          <thead><tr><th><span class="offscreen">Compare</span></th><th>Started</th><th>Status</th><th class="num">Duration</th><th class="num">Nodes</th><th>Run</th></tr></thead>
          <tbody>
            ${runs.map((run) => html`<tr key=${run.span_id}>
              <td><input type="checkbox" aria-label=${`Compare the run of ${formatTime(run.start_time_ns)}`} checked=${picked.some((r) => r.span_id === run.span_id)} onChange=${() => toggle(run)} /></td>
              <td class="mono">${formatTime(run.start_time_ns)}</td>
              <td><${Badge} tone=${TONES[run.status]}>${WORDS[run.status]}<//></td>
              <td class="num">${formatDuration(run.duration_ns)}</td>
              <td class="num">${run.node_count ?? "–"}</td>
              <td><${Link} href=${workflowPath(run.service_name, run.trace_id, run.span_id)}>Open run<//></td>
            </tr>`)}
          </tbody>
        </table>`
      : html`<${Empty}>No runs of ${name} in ${service}.<//>`}`;
}
