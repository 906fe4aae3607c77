// Home: each service at a glance and the latest failed runs; before the first trace, how to
// connect an app to this server (its real endpoints, from GET /api/config).

import { html, useEffect, useRef } from "../lib/html.js";
import { useApi } from "../lib/api.js";
import { formatAgo, formatDuration, formatNumber, formatPercent, formatTime } from "../lib/format.js";
import { tracePath, tracesPath } from "../lib/links.js";
import { Link } from "../lib/router.js";
import { connectionSnippets, useEndpoints } from "../lib/snippets.js";
import { Badge, CopyButton, Empty, ErrorMessage, Loading, PageTitle } from "../lib/ui.js";

const FAILURES = 10;
// While nothing has arrived, look again this often: the page turns into the overview by
// itself once the first trace is indexed.
const WAIT_FOR_FIRST_MS = 3000;

export default function Home() {
  const services = useApi("/api/v1/services");
  const failures = useApi("/api/v1/traces", { errors: true, limit: FAILURES });
  const none = Array.isArray(services.data) && services.data.length === 0;
  useEffect(() => {
    if (!none) return undefined;
    const timer = setInterval(() => {
      if (!document.hidden) services.reload();
    }, WAIT_FOR_FIRST_MS);
    return () => clearInterval(timer);
  }, [none]);
  const waited = useRef(false);
  useEffect(() => {
    if (none) waited.current = true;
    else if (waited.current && services.data) {
      waited.current = false;
      failures.reload(); // the first traces have arrived
    }
  }, [none, services.data]);

  let body;
  if (services.error) body = html`<${ErrorMessage} error=${services.error} />`;
  else if (services.data === undefined) body = html`<${Loading} />`;
  else if (none) body = html`<${Welcome} />`;
  else {
    body = html`
      <section aria-labelledby="services-title">
        <h2 id="services-title">Services</h2>
        <${Services} services=${services.data} />
      </section>
      <section aria-labelledby="failures-title">
        <h2 id="failures-title">Latest failed runs</h2>
        <${Failures} state=${failures} />
      </section>`;
  }
  return html`<${PageTitle} title="Home">
      ${none ? null : html`<${Link} href="/traces" class="button home-link">All traces<//>`}
    <//>
    ${body}`;
}

function Services({ services }) {
  return html`<div class="table-scroll"><table class="data services-table">
    <thead><tr>
      <th scope="col">Service</th>
      <th scope="col" class="num">Traces</th>
      <th scope="col" class="num">Spans</th>
      <th scope="col" class="num">Error rate</th>
      <th scope="col" class="num">LLM calls</th>
      <th scope="col" class="num">Tokens</th>
      <th scope="col">Last seen</th>
    </tr></thead>
    <tbody>
      ${services.map(
        (s) => html`<tr key=${s.service_name}>
          <th scope="row"><${Link} href=${tracesPath({ service: s.service_name })}>${s.service_name}<//></th>
          <td class="num">${formatNumber(s.trace_count)}</td>
          <td class="num">${formatNumber(s.span_count)}</td>
          <td class="num">
            ${s.error_trace_count
              ? html`<${Link} href=${tracesPath({ service: s.service_name, errors: 1 })} title=${`${s.error_trace_count} failed traces`}>${formatPercent(s.error_rate)}<//>`
              : formatPercent(s.error_rate)}
          </td>
          <td class="num">${formatNumber(s.llm_call_count)}</td>
          <td class="num">${formatNumber(s.total_tokens)}</td>
          <td title=${formatTime(s.last_seen_ns)}>${formatAgo(s.last_seen_ns)}</td>
        </tr>`,
      )}
    </tbody>
  </table></div>`;
}

function Failures({ state }) {
  if (state.error) return html`<${ErrorMessage} error=${state.error} />`;
  if (state.data === undefined) return html`<${Loading} />`;
  const traces = state.data.traces;
  if (!traces.length) return html`<p class="muted">No failed runs.</p>`;
  return html`<div class="table-scroll"><table class="data failures-table">
      <thead><tr>
        <th scope="col">Run</th>
        <th scope="col">Service</th>
        <th scope="col">Started</th>
        <th scope="col" class="num">Duration</th>
        <th scope="col" class="num">Errors</th>
      </tr></thead>
      <tbody>
        ${traces.map(
          (t) => html`<tr key=${t.trace_id}>
            <td><${Link} href=${tracePath(t.service_name, t.trace_id)}>${t.root_name}<//>
              ${t.root_is_complete ? null : html` <${Badge} tone="warning" title="The root span has not arrived">Incomplete<//>`}
            </td>
            <td>${t.service_name}</td>
            <td title=${formatTime(t.start_time_ns)}>${formatAgo(t.start_time_ns)}</td>
            <td class="num">${formatDuration(t.duration_ns)}</td>
            <td class="num">${formatNumber(t.error_count)}</td>
          </tr>`,
        )}
      </tbody>
    </table></div>
    ${state.data.next_cursor
      ? html`<p><${Link} href=${tracesPath({ errors: 1 })}>All failed traces<//></p>`
      : null}`;
}

function Welcome() {
  const endpoints = useEndpoints();
  return html`<${Empty}><div class="welcome">
    <h2>No traces yet</h2>
    <p>
      This server stores OpenTelemetry traces sent with an ingest API key. Create a key, put it
      in one of the snippets below, run your app, and its traces show up here.
    </p>
    <p><${Link} href="/keys" class="button primary home-link">Create an API key<//></p>
    ${endpoints
      ? html`<dl class="endpoints">
            <dt>OTLP/gRPC</dt><dd><code>${endpoints.grpc}</code></dd>
            <dt>OTLP/HTTP</dt><dd><code>${endpoints.http}</code></dd>
          </dl>
          ${connectionSnippets(endpoints).map(
            (snippet) => html`<section class="snippet" key=${snippet.id} aria-labelledby=${`snippet-${snippet.id}`}>
              <div class="snippet-head">
                <h3 id=${`snippet-${snippet.id}`}>${snippet.title}</h3>
                <${CopyButton} text=${snippet.code} label="Copy" />
              </div>
              <pre class="block"><code>${snippet.code}</code></pre>
            </section>`,
          )}`
      : html`<${Loading} what="Loading this server's endpoints" />`}
    <p class="muted" aria-live="polite">Waiting for the first trace…</p>
  </div><//>`;
}
