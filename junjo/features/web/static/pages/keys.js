// API keys: create one (the full key is shown once, with snippets that point an app at this
// server), list them, delete one. The server stores only a hash: a lost key is replaced,
// never shown again.

import { api, useApi } from "../lib/api.js";
import { FormError, SubmitButton, focusField, useConfirmedDelete, useSubmit } from "../lib/forms.js";
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { connectionSnippets, useEndpoints } from "../lib/snippets.js";
import { Badge, ConfirmDialog, CopyButton, Empty, ErrorMessage, Field, Loading, PageTitle, When } from "../lib/ui.js";

const SCOPES = [
  { value: "ingest", label: "Ingest", hint: "sends traces: for apps and their OpenTelemetry exporters" },
  { value: "read", label: "Read", hint: "reads traces: for the junjo CLI and scripts on another machine" },
];

export default function Keys({ query }) {
  const keys = useApi("/api_keys");
  const endpoints = useEndpoints();
  const [created, setCreated] = useState(null);
  const deletion = useConfirmedDelete((key) => `/api_keys/${encodeURIComponent(key.id)}`, {
    reload: keys.reload,
    onDeleted: (key) => setCreated((shown) => (shown?.id === key.id ? null : shown)),
  });

  function onCreated(key) {
    setCreated(key);
    keys.reload();
  }

  return html`<section class="keys-page">
    <${PageTitle} title="API keys" />
    ${query.get("welcome") === "1" && !created
      ? html`<p class="notice-inline">You are signed in. Next, create an API key so your apps can send traces here.</p>`
      : null}
    ${created
      ? html`<${NewKey} created=${created} endpoints=${endpoints} onDone=${() => { setCreated(null); focusField("key-name"); }} />`
      : null}
    <${CreateKeyForm} onCreated=${onCreated} />
    <h2 id="keys-heading" tabindex="-1" ref=${deletion.headingRef}>Keys</h2>
    <${ErrorMessage} error=${deletion.problem} />
    <${KeyList} state=${keys} onDelete=${deletion.ask} />
    <${ConfirmDialog}
      open=${Boolean(deletion.deleting)}
      title="Delete this API key?"
      message=${deletion.deleting ? `Apps using “${deletion.deleting.name}” (${deletion.deleting.prefix}…) are refused from their next request. This cannot be undone.` : ""}
      confirmLabel="Delete key"
      onConfirm=${deletion.confirm}
      onCancel=${deletion.cancel}
    />
  </section>`;
}

function CreateKeyForm({ onCreated }) {
  const [name, setName] = useState("");
  const [scope, setScope] = useState("ingest");
  const form = useSubmit(
    async () => {
      const key = await api("/api_keys", { method: "POST", body: { name, scope } });
      setName("");
      onCreated(key);
    },
    { onError: () => focusField("key-name") },
  );
  return html`<form class="panel create-key" onSubmit=${form.submit}>
    <h2>Create a key</h2>
    <${Field}
      id="key-name"
      label="Name"
      required
      maxlength="200"
      autocomplete="off"
      value=${name}
      onInput=${(event) => setName(event.currentTarget.value)}
      hint="What uses it, so you know which key to delete later: “billing-service”, “laptop CLI”."
    />
    <fieldset class="choices">
      <legend>Scope</legend>
      ${SCOPES.map(
        (option) => html`<label key=${option.value} class="choice">
          <input type="radio" name="scope" value=${option.value} checked=${scope === option.value} onChange=${() => setScope(option.value)} />
          <span><strong>${option.label}</strong>: ${option.hint}</span>
        </label>`,
      )}
    </fieldset>
    <${FormError} error=${form.error} />
    <div class="form-actions">
      <${SubmitButton} busy=${form.busy} label="Create key" busyLabel="Creating…" />
    </div>
  </form>`;
}

/** The one time the full key is shown: the key, a copy button, and ready-to-paste setup. */
function NewKey({ created: key, endpoints, onDone }) {
  const heading = useRef(null);
  useEffect(() => heading.current?.focus(), [key.id]);
  return html`<section class="panel new-key" aria-labelledby="new-key-heading">
    <h2 id="new-key-heading" tabindex="-1" ref=${heading}>Key “${key.name}” created</h2>
    <p><strong>Copy it now:</strong> this is the only time it is shown. The server keeps only a hash.</p>
    <div class="secret-row">
      <code class="secret" data-testid="new-key">${key.key}</code>
      <${CopyButton} text=${key.key} label="Copy key" className="primary" />
    </div>
    ${key.scope === "ingest" ? html`<${IngestSnippets} endpoints=${endpoints} apiKey=${key.key} />` : html`<${ReadSnippet} endpoints=${endpoints} apiKey=${key.key} />`}
    <div class="form-actions">
      <button type="button" class="button" onClick=${onDone}>Done, I have copied it</button>
    </div>
  </section>`;
}

function IngestSnippets({ endpoints, apiKey }) {
  if (!endpoints) return html`<${Loading} what="Loading this server's endpoints" />`;
  return html`<h3>Send traces with it</h3>
    ${connectionSnippets(endpoints, apiKey).map((snippet) => html`<${Snippet} key=${snippet.id} ...${snippet} />`)}`;
}

function ReadSnippet({ endpoints, apiKey }) {
  if (!endpoints) return html`<${Loading} what="Loading this server's endpoints" />`;
  // The server's base URL is the OTLP/HTTP endpoint without its path.
  const server = String(endpoints.http || "").replace(/\/v1\/traces$/, "");
  const code = `export JUNJO_SERVER="${server}"\nexport JUNJO_API_KEY="${apiKey}"\njunjo traces list`;
  return html`<h3>Read traces with it</h3>
    <${Snippet} id="cli" title="The junjo CLI on another machine" language="shell" code=${code} />`;
}

function Snippet({ id, title, code }) {
  return html`<figure class="snippet" aria-labelledby=${`snippet-${id}`}>
    <figcaption id=${`snippet-${id}`}>${title}</figcaption>
    <pre class="block" data-testid=${`snippet-${id}`}><code>${code}</code></pre>
    <${CopyButton} text=${code} label="Copy" />
  </figure>`;
}

function KeyList({ state, onDelete }) {
  if (state.error) return html`<${ErrorMessage} error=${state.error} />`;
  if (state.data === undefined) return html`<${Loading} />`;
  if (state.data.length === 0) return html`<${Empty}>No API keys yet. Create one above so an app can send traces here.<//>`;
  return html`<table class="data keys-table">
    <thead>
      <tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Scope</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="offscreen">Actions</span></th></tr>
    </thead>
    <tbody>
      ${state.data.map((key) => html`<tr key=${key.id}>
        <td>${key.name}</td>
        <td><code>${key.prefix}…</code></td>
        <td><${Badge} tone=${key.scope === "read" ? "info" : "ok"}>${key.scope}<//></td>
        <td><${When} iso=${key.created_at} /></td>
        <td><${When} iso=${key.last_used_at} /></td>
        <td class="row-actions">
          <button type="button" class="button danger" aria-label=${`Delete key ${key.name}`} onClick=${() => onDelete(key)}>Delete</button>
        </td>
      </tr>`)}
    </tbody>
  </table>`;
}
