// Workflows and their runs. /runs: every workflow (GET /api/v1/workflows) with its number of
// runs and failures and its last run. /runs?service=&name=: the runs of one workflow (GET
// /api/v1/workflow-runs): status, duration, node count, started; open one, or tick two and
// compare them.

import { html, useState } from "../lib/html.js";
import { useApi } from "../lib/api.js";
import { formatDuration, formatNumber, formatTime } from "../lib/format.js";
import { comparePath, runsPath, workflowPath } from "../lib/links.js";
import { Link } from "../lib/router.js";
import { Badge, Empty, ErrorMessage, Loading, PageTitle } from "../lib/ui.js";

const TONES = { ok: "ok", error: "error", cancelled: "warning" };
const WORDS = { ok: "OK", error: "Failed", cancelled: "Cancelled" };

export default function RunsPage({ query }) {
  const service = query.get("service") || "";
  const name = query.get("name") || "";
  return name ? html`<${Runs} service=${service} name=${name} />` : html`<${Workflows} service=${service} />`;
}

function Workflows({ service }) {
  const { data, error, loading } = useApi("/api/v1/workflows", service ? { service } : undefined);
  const title = service ? `Workflows of ${service}` : "Workflows";
  if (error) return html`<${PageTitle} title=${title} /><${ErrorMessage} error=${error} />`;
  if (loading && !data) return html`<${PageTitle} title=${title} /><${Loading} />`;
  if (!data.length) return html`<${PageTitle} title=${title} /><${Empty}>No workflow runs yet: a junjo app's workflows show here once it sends traces.<//>`;
  return html`<${PageTitle} title=${title} />
    <table class="data wf-workflows">
      <thead><tr><th>Workflow</th><th>Service</th><th class="num">Runs</th><th class="num">Failed</th><th>Last run</th></tr></thead>
      <tbody>
        ${data.map((w) => html`<tr key=${`${w.service_name}\n${w.name}`}>
          <td><${Link} href=${runsPath(w.service_name, w.name)}>${w.name}<//></td>
          <td>${w.service_name}</td>
          <td class="num">${formatNumber(w.run_count)}</td>
          <td class=${w.failed_count ? "num error-count" : "num"}>${formatNumber(w.failed_count)}</td>
          <td><${Link} href=${workflowPath(w.service_name, w.last_run.trace_id, w.last_run.span_id)}>${formatTime(w.last_run_ns)}<//></td>
        </tr>`)}
      </tbody>
    </table>`;
}

function Runs({ service, name }) {
  const request = { service, name, limit: 200 };
  const { data, error, loading } = useApi("/api/v1/workflow-runs", request);
  const [picked, setPicked] = useState([]);
  const title = `Runs of ${name}`;
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
    <p class="muted">${formatNumber(runs.length)} runs in ${service}, newest first. <${Link} href="/runs">All workflows<//></p>
    ${runs.length
      ? html`<table class="data wf-run-list">
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
