// The prompt being edited: its messages (add, remove, reorder; role and content; tool calls
// and tool results as they were), the tool definitions and the JSON schema, as JSON text.

import { html } from "../../lib/html.js";

export const ROLES = ["system", "developer", "user", "assistant", "tool"];
let nextId = 1;

/** A message of the editor: the API's message plus a stable key, tool calls as text. */
export function editable(message) {
  return {
    key: nextId++,
    role: message.role || "user",
    content: typeof message.content === "string" ? message.content : JSON.stringify(message.content ?? ""),
    toolCalls: message.tool_calls?.length ? JSON.stringify(message.tool_calls, null, 2) : "",
    toolCallId: message.tool_call_id || "",
  };
}

/** The API's message list; throws an Error naming the message whose tool calls are not JSON. */
export function apiMessages(messages) {
  return messages.map((message, index) => {
    const out = { role: message.role, content: message.content };
    if (message.role === "assistant" && message.toolCalls.trim()) {
      try {
        out.tool_calls = JSON.parse(message.toolCalls);
      } catch {
        throw new Error(`Message ${index + 1}: its tool calls are not valid JSON.`);
      }
      if (!out.content) out.content = null;
    }
    if (message.role === "tool" && message.toolCallId) out.tool_call_id = message.toolCallId;
    return out;
  });
}

export function MessagesEditor({ messages, onChange }) {
  function update(index, changes) {
    onChange(messages.map((message, i) => (i === index ? { ...message, ...changes } : message)));
  }
  function move(index, by) {
    const next = [...messages];
    const [moved] = next.splice(index, 1);
    next.splice(index + by, 0, moved);
    onChange(next);
  }
  function remove(index) {
    onChange(messages.filter((_, i) => i !== index));
  }
  function add() {
    const last = messages[messages.length - 1];
    onChange([...messages, editable({ role: last?.role === "user" ? "assistant" : "user", content: "" })]);
  }
  return html`<ol class="pg-messages">
      ${messages.map((message, index) => html`<li key=${message.key} class="pg-message">
        <fieldset>
          <legend>Message ${index + 1}</legend>
          <div class="pg-message-head">
            <label for=${`pg-role-${message.key}`}>Role</label>
            <select id=${`pg-role-${message.key}`} value=${message.role} onChange=${(e) => update(index, { role: e.currentTarget.value })}>
              ${ROLES.map((role) => html`<option key=${role} value=${role}>${role}</option>`)}
            </select>
            <span class="pg-message-actions">
              <button type="button" class="button" aria-label=${`Move message ${index + 1} up`} disabled=${index === 0} onClick=${() => move(index, -1)}>↑</button>
              <button type="button" class="button" aria-label=${`Move message ${index + 1} down`} disabled=${index === messages.length - 1} onClick=${() => move(index, 1)}>↓</button>
              <button type="button" class="button danger" aria-label=${`Remove message ${index + 1}`} disabled=${messages.length === 1} onClick=${() => remove(index)}>Remove</button>
            </span>
          </div>
          <label for=${`pg-content-${message.key}`} class="offscreen">Content of message ${index + 1}</label>
          <textarea id=${`pg-content-${message.key}`} class="pg-content" rows=${Math.min(12, Math.max(2, message.content.split("\n").length))}
            value=${message.content} onInput=${(e) => update(index, { content: e.currentTarget.value })}></textarea>
          ${message.role === "assistant" && message.toolCalls
            ? html`<label for=${`pg-calls-${message.key}`}>Tool calls (JSON)</label>
                <textarea id=${`pg-calls-${message.key}`} class="pg-json" rows="4" value=${message.toolCalls}
                  onInput=${(e) => update(index, { toolCalls: e.currentTarget.value })}></textarea>`
            : null}
          ${message.role === "tool"
            ? html`<label for=${`pg-callid-${message.key}`}>Answers tool call id</label>
                <input id=${`pg-callid-${message.key}`} value=${message.toolCallId} onInput=${(e) => update(index, { toolCallId: e.currentTarget.value })} />`
            : null}
        </fieldset>
      </li>`)}
    </ol>
    <button type="button" class="button" onClick=${add}>Add message</button>`;
}

/** A JSON text area (tools, schema) with its label and hint. */
export function JsonField({ id, label, hint, value, onChange, rows = 6 }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <textarea id=${id} class="pg-json" rows=${rows} aria-describedby=${`${id}-hint`} value=${value}
      onInput=${(e) => onChange(e.currentTarget.value)}></textarea>
    <p class="hint" id=${`${id}-hint`}>${hint}</p>
  </div>`;
}

/** JSON text as a value (undefined when empty); throws an Error naming `what`. */
export function parseJson(text, what) {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${error.message}`);
  }
}
