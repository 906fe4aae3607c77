// An LLM call as a conversation: what was sent (system, user, tool messages) and what came
// back, with the model, its parameters, the token counts and the latency. The server reads
// all of it from whichever convention the span follows (OpenInference or OTel GenAI: the
// `llm` field of GET /api/v1/traces/{id}/spans/{span_id}, junjo/features/traces/llm_messages.py).

import { html } from "../../lib/html.js";
import { formatDuration, formatNumber, formatUsd } from "../../lib/format.js";
import { playgroundPath } from "../../lib/links.js";
import { Link } from "../../lib/router.js";
import { LongText, Value } from "./values.js";

const ROLE_LABELS = {
  system: "System",
  user: "User",
  assistant: "Assistant",
  tool: "Tool",
  input: "Input",
  output: "Output",
  prompt: "Prompt",
  completion: "Completion",
};
const KNOWN_ROLES = new Set(["system", "user", "assistant", "tool"]);
const MESSAGE_LIMIT = 4000;

export function Conversation({ llm, span }) {
  const tokens = llm.tokens || {};
  const parameters = Object.entries(llm.parameters || {});
  const messages = Array.isArray(llm.messages) ? llm.messages : [];
  return html`<section class="trace-section conversation" aria-labelledby="conversation-title">
    <div class="conversation-head">
      <h3 id="conversation-title">LLM call</h3>
      <${Link} class="button" href=${playgroundPath(span.service_name, span.trace_id, span.span_id)}>Open in playground<//>
    </div>
    <dl class="trace-facts">
      <div><dt>Model</dt><dd>${llm.model || "–"}</dd></div>
      ${llm.provider ? html`<div><dt>Provider</dt><dd>${llm.provider}</dd></div>` : null}
      ${llm.operation ? html`<div><dt>Operation</dt><dd>${llm.operation}</dd></div>` : null}
      <div><dt>Latency</dt><dd>${formatDuration(llm.latency_ns)}</dd></div>
      <div><dt>Tokens</dt><dd>
        ${formatNumber(tokens.prompt)} in · ${formatNumber(tokens.completion)} out · ${formatNumber(tokens.total)} total
      </dd></div>
      <div><dt>Cost</dt><dd title=${llm.cost?.priced_as ? `priced as ${llm.cost.priced_as}` : "model not in the price map"}>
        ${formatUsd(llm.cost?.usd)}
      </dd></div>
      ${llm.finish_reasons?.length ? html`<div><dt>Finish</dt><dd>${llm.finish_reasons.join(", ")}</dd></div>` : null}
    </dl>
    ${parameters.length
      ? html`<h4>Parameters</h4>
          <dl class="trace-facts parameters">
            ${parameters.map(([name, value]) => html`<div key=${name}><dt>${name}</dt><dd><${Value} value=${value} /></dd></div>`)}
          </dl>`
      : null}
    ${messages.length
      ? html`<ol class="messages" aria-label="Messages">
          ${messages.map((message, i) => html`<${MessageItem} key=${i} message=${message} />`)}
        </ol>`
      : html`<p class="muted">No messages were recorded on this span.</p>`}
  </section>`;
}

function MessageItem({ message }) {
  const role = String(message.role || "?");
  const known = KNOWN_ROLES.has(role) ? role : message.output ? "assistant" : "other";
  return html`<li class=${`message message-${known}${message.output ? " message-output" : ""}`}>
    <div class="message-role">
      <strong>${ROLE_LABELS[role] || role}</strong>
      ${message.output ? html`<span class="muted"> · response</span>` : null}
    </div>
    <div class="message-text"><${LongText} text=${String(message.text ?? "")} limit=${MESSAGE_LIMIT} /></div>
  </li>`;
}
