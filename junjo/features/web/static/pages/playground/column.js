// One column of the comparison: the original call as the span recorded it, or a run with
// its model and parameters, its output as it streams in, its measures and its diff.

import { html } from "../../lib/html.js";
import { formatNumber, formatUsd } from "../../lib/format.js";
import { Link } from "../../lib/router.js";
import { tracePath } from "../../lib/links.js";
import { Badge, ErrorMessage } from "../../lib/ui.js";
import { Diff } from "./diff.js";

export const EFFORTS = ["", "minimal", "low", "medium", "high"];
export const FORMATS = [
  { value: "text", label: "Text" },
  { value: "json", label: "JSON object" },
  { value: "schema", label: "JSON schema (below)" },
];

export function OriginalColumn({ original, cost }) {
  return html`<section class="pg-column pg-original" aria-labelledby="pg-original-title">
    <h3 id="pg-original-title">Original</h3>
    <p class="muted">${original.model || "model unknown"}</p>
    <pre class="block pg-output" data-testid="original-output">${original.text || "(no output recorded)"}</pre>
    <${Measures}
      latencyMs=${original.latencyMs}
      usage=${original.usage}
      cost=${cost}
      finishReason=${original.finishReason}
    />
  </section>`;
}

export function RunColumn({ index, column, result, original, models, provider, canRemove, onChange, onRemove }) {
  const id = (name) => `pg-${name}-${column.key}`;
  const set = (name) => (event) => onChange({ [name]: event.currentTarget.value });
  const response = result?.response;
  const choice = response?.choices?.[0];
  const text = choice ? choice.message?.content || "" : result?.content || "";
  return html`<section class="pg-column" aria-labelledby=${id("title")}>
    <div class="pg-column-head">
      <h3 id=${id("title")}>Run ${index + 1}</h3>
      ${canRemove ? html`<button type="button" class="button" aria-label=${`Remove run ${index + 1}`} onClick=${onRemove}>Remove</button>` : null}
    </div>
    <div class="field">
      <label for=${id("model")}>Model</label>
      <input id=${id("model")} list="pg-models" value=${column.model} placeholder="provider/name" autocomplete="off"
        aria-describedby=${id("model-hint")} onInput=${set("model")} />
      <p class="hint" id=${id("model-hint")}>provider/name, e.g. openai/gpt-4o-mini${models ? `, ${models} known` : ""}</p>
    </div>
    ${provider && !provider.configured
      ? html`<p class="pg-warning" role="note"><strong>${provider.label} is not configured.</strong> To use it, ${provider.how_to_configure}.</p>`
      : null}
    ${provider === null ? html`<p class="pg-warning" role="note">Unknown provider: write the model as provider/name (openai, anthropic, gemini, openai_compatible).</p>` : null}
    <div class="pg-params">
      <div class="field">
        <label for=${id("temperature")}>Temperature</label>
        <input id=${id("temperature")} type="number" min="0" max="2" step="0.1" value=${column.temperature} onInput=${set("temperature")} />
      </div>
      <div class="field">
        <label for=${id("max-tokens")}>Max tokens</label>
        <input id=${id("max-tokens")} type="number" min="1" step="1" value=${column.max_tokens} onInput=${set("max_tokens")} />
      </div>
      <div class="field">
        <label for=${id("top-p")}>Top p</label>
        <input id=${id("top-p")} type="number" min="0" max="1" step="0.05" value=${column.top_p} onInput=${set("top_p")} />
      </div>
      <div class="field">
        <label for=${id("effort")}>Reasoning effort</label>
        <select id=${id("effort")} value=${column.reasoning_effort} onChange=${set("reasoning_effort")}>
          ${EFFORTS.map((effort) => html`<option key=${effort} value=${effort}>${effort || "default"}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for=${id("format")}>Response format</label>
        <select id=${id("format")} value=${column.format} onChange=${set("format")}>
          ${FORMATS.map((format) => html`<option key=${format.value} value=${format.value}>${format.label}</option>`)}
        </select>
      </div>
    </div>
    <${RunResult} result=${result} text=${text} response=${response} choice=${choice} original=${original} />
  </section>`;
}

function RunResult({ result, text, response, choice, original }) {
  if (!result) return html`<p class="muted">Not run yet.</p>`;
  const reasoning = response?.reasoning_content || result.reasoning;
  const run = response?.run || result.run;
  return html`<div class="pg-result" aria-live="polite">
    <p class="pg-status">
      ${result.status === "running" ? html`<${Badge} tone="info">Running…<//>` : null}
      ${result.status === "done" ? html`<${Badge} tone="ok">Done<//>` : null}
      ${result.status === "error" ? html`<${Badge} tone="error">Failed<//>` : null}
    </p>
    ${result.error ? html`<${ErrorMessage} error=${result.error} />` : null}
    ${text || result.status !== "error" ? html`<pre class="block pg-output" data-testid="run-output">${text}</pre>` : null}
    ${choice?.message?.tool_calls?.length
      ? html`<h4>Tool calls</h4><pre class="block pg-output">${JSON.stringify(choice.message.tool_calls, null, 2)}</pre>`
      : null}
    ${reasoning ? html`<details class="pg-reasoning"><summary>Reasoning</summary><pre class="block">${reasoning}</pre></details>` : null}
    ${result.status === "done"
      ? html`<${Measures}
            latencyMs=${run?.latency_ms}
            usage=${response?.usage ? { prompt: response.usage.prompt_tokens, completion: response.usage.completion_tokens, total: response.usage.total_tokens } : null}
            cost=${run?.cost}
            finishReason=${choice?.finish_reason}
          />
          ${original ? html`<h4>Compared with the original</h4><${Diff} before=${original.text} after=${text} />` : null}`
      : null}
    ${run?.recorded
      ? html`<p><${Link} href=${tracePath(run.service, run.trace_id, run.span_id)}>This run's trace<//> (service ${run.service})</p>`
      : null}
  </div>`;
}

function Measures({ latencyMs, usage, cost, finishReason }) {
  const latency = Number(latencyMs);
  return html`<dl class="pg-measures">
    <dt>Latency</dt><dd>${Number.isFinite(latency) && latencyMs !== null ? `${formatNumber(Math.round(latency))} ms` : "–"}</dd>
    <dt>Tokens in / out</dt><dd>${usage ? `${formatNumber(usage.prompt)} / ${formatNumber(usage.completion)}` : "–"}</dd>
    ${cost !== undefined ? html`<dt>Cost</dt><dd title=${cost ? `priced as ${cost.priced_as}` : "model not in the price map"}>${cost ? formatUsd(cost.usd) : "unknown"}</dd>` : null}
    <dt>Finish reason</dt><dd>${finishReason || "–"}</dd>
  </dl>`;
}
