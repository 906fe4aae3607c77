// The prompt playground: an LLM call from a trace (/playground?trace=&span=, or Junjo AI
// Studio's /traces/:service/:traceId/:spanId/prompt-playground), its messages, tools, model
// and parameters pre-filled and editable, run against up to three models or parameter sets
// side by side (streamed), each beside the original output with its latency, tokens, cost,
// finish reason, reasoning and a word diff. Each run is recorded as a trace of the service
// junjo-playground, linked from its column.

import { api, apiStream, useApi } from "../lib/api.js";
import { html, useEffect, useMemo, useRef, useState } from "../lib/html.js";
import { tracePath } from "../lib/links.js";
import { Link, setQuery } from "../lib/router.js";
import { ErrorMessage, Loading, PageTitle } from "../lib/ui.js";
import { OriginalColumn, RunColumn } from "./playground/column.js";
import { JsonField, MessagesEditor, apiMessages, editable, parseJson } from "./playground/editor.js";
import { fromSpan, providerOf } from "./playground/from_span.js";

const MAX_RUNS = 3;
let nextColumn = 1;

export default function Playground({ params, query }) {
  const traceId = params.traceId || query.get("trace") || "";
  const spanId = params.spanId || query.get("span") || "";
  const service = params.service || query.get("service") || "";
  const spanPath = traceId && spanId
    ? `/api/v1/observability/traces/${encodeURIComponent(traceId)}/spans/${encodeURIComponent(spanId)}`
    : null;
  const span = useApi(spanPath);
  const providers = useApi("/api/v1/llm/providers");
  const loaded = !spanPath || span.data !== undefined || span.error;
  const title = "Prompt playground";

  if (providers.error) return html`<${PageTitle} title=${title} /><${ErrorMessage} error=${providers.error} />`;
  if (span.error) return html`<${PageTitle} title=${title} /><${ErrorMessage} error=${span.error} />`;
  if (!loaded || !providers.data) return html`<${PageTitle} title=${title} /><${Loading} />`;
  if (spanPath && span.data === null) {
    return html`<${PageTitle} title=${title} /><${ErrorMessage} error="That span is not stored here (yet)." />`;
  }
  const key = `${traceId}/${spanId}`;
  return html`<${Editor}
    key=${key}
    span=${span.data}
    source=${{ traceId, spanId, service: service || span.data?.service_name || "" }}
    providers=${providers.data.providers}
    models=${query.get("models")}
  />`;
}

function Editor({ span, source, providers, models }) {
  const start = useMemo(() => fromSpan(span || {}), [span]);
  const byName = useMemo(() => Object.fromEntries(providers.map((p) => [p.provider, p])), [providers]);
  const [messages, setMessages] = useState(() => start.messages.map(editable));
  const [tools, setTools] = useState(() => (start.tools.length ? JSON.stringify(start.tools, null, 2) : ""));
  const [schema, setSchema] = useState(() => (start.params.json_schema ? JSON.stringify(start.params.json_schema, null, 2) : ""));
  const [columns, setColumns] = useState(() => firstColumns(start, byName, models));
  const [results, setResults] = useState({});
  const [problem, setProblem] = useState(null);
  const [running, setRunning] = useState(false);
  const modelList = useModelList(providers);
  const originalCost = useCost(start.original);
  const aborts = useRef([]);
  useEffect(() => () => aborts.current.forEach((abort) => abort.abort()), []);

  useEffect(() => {
    // The models compared are in the URL: a link to this page compares the same ones.
    setQuery({ models: columns.map((c) => c.model).join(",") }, { replace: true });
  }, [columns.map((c) => c.model).join(",")]);

  function updateColumn(key, changes) {
    setColumns((all) => all.map((column) => (column.key === key ? { ...column, ...changes } : column)));
  }
  function addColumn() {
    const last = columns[columns.length - 1];
    setColumns([...columns, { ...last, key: nextColumn++ }]);
  }
  function setResult(key, update) {
    setResults((all) => ({ ...all, [key]: update(all[key] || {}) }));
  }

  async function runAll(event) {
    event.preventDefault();
    if (running) return;
    setProblem(null);
    let shared;
    try {
      shared = {
        messages: apiMessages(messages),
        tools: parseJson(tools, "Tool definitions"),
        json_schema: parseJson(schema, "The JSON schema"),
      };
      if (shared.tools !== undefined && !Array.isArray(shared.tools)) throw new Error("Tool definitions: a JSON list.");
      if (!shared.json_schema && columns.some((c) => c.format === "schema")) {
        throw new Error("A run's response format is “JSON schema”: write the schema under JSON schema.");
      }
    } catch (error) {
      setProblem(error);
      return;
    }
    const comparison = `${Date.now().toString(36)}`;
    setRunning(true);
    aborts.current.forEach((abort) => abort.abort());
    aborts.current = [];
    await Promise.all(columns.map((column) => runOne(column, shared, comparison)));
    setRunning(false);
  }

  function stop() {
    aborts.current.forEach((abort) => abort.abort());
  }

  async function runOne(column, shared, comparison) {
    const abort = new AbortController();
    aborts.current.push(abort);
    const provider = providerFor(column.model, byName);
    if (provider && !provider.configured) {
      // Said before asking the server, which would answer the same in a 400.
      const error = `${provider.label} is not configured: ${provider.how_to_configure}.`;
      setResult(column.key, () => ({ status: "error", error }));
      return;
    }
    setResult(column.key, () => ({ status: "running", content: "", reasoning: "" }));
    const from = source.traceId && source.spanId ? { trace_id: source.traceId, span_id: source.spanId } : {};
    const body = requestBody(column, shared, { ...from, comparison });
    try {
      await apiStream("/api/v1/llm/generate/stream", {
        body,
        signal: abort.signal,
        onEvent(name, data) {
          if (name === "delta") {
            setResult(column.key, (r) => ({ ...r, content: r.content + (data.content || ""), reasoning: r.reasoning + (data.reasoning || "") }));
          } else if (name === "done") {
            setResult(column.key, (r) => ({ ...r, status: "done", response: data }));
          } else if (name === "error") {
            setResult(column.key, (r) => ({ ...r, status: "error", error: data.detail, run: data.run }));
          }
        },
      });
    } catch (error) {
      const text = error.name === "AbortError" ? "Stopped." : error.message;
      setResult(column.key, (r) => ({ ...r, status: r.status === "running" ? "error" : r.status, error: r.status === "running" ? text : r.error }));
    }
  }

  const anyConfigured = providers.some((p) => p.configured);
  return html`<section class="pg-page">
    <${PageTitle} title="Prompt playground">
      ${source.traceId
        ? html`<${Link} href=${tracePath(source.service, source.traceId, source.spanId)}>Back to the span<//>`
        : null}
    <//>
    ${span ? html`<p class="muted">Replaying <strong>${span.name}</strong> (${start.model || "model unknown"}) from trace <code>${source.traceId}</code>. Edit anything, then run.</p>` : html`<p class="muted">Write a prompt and run it against up to three models. Open an LLM span's playground from a trace to start from a real call.</p>`}
    ${anyConfigured ? null : html`<${NoProviders} providers=${providers} />`}
    <form onSubmit=${runAll} onKeyDown=${(e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) runAll(e); }} aria-label="Prompt" aria-describedby="pg-keys">
      <p class="hint" id="pg-keys">Ctrl+Enter (⌘+Enter) runs from anywhere in the prompt.</p>
      <div class="pg-prompt panel">
        <h2>Prompt</h2>
        <${MessagesEditor} messages=${messages} onChange=${setMessages} />
        <details class="pg-extra" open=${Boolean(tools)}>
          <summary>Tool definitions${start.tools.length ? ` (${start.tools.length})` : ""}</summary>
          <${JsonField} id="pg-tools" label="Tools (JSON)" value=${tools} onChange=${setTools}
            hint='A list of {"type": "function", "function": {"name", "description", "parameters"}}; empty for none.' />
        </details>
        <details class="pg-extra" open=${Boolean(schema)}>
          <summary>JSON schema</summary>
          <${JsonField} id="pg-schema" label="Schema (JSON)" value=${schema} onChange=${setSchema}
            hint='Used by the runs whose response format is "JSON schema" (sent strict).' />
        </details>
      </div>
      <datalist id="pg-models">${modelList.ids.map((id) => html`<option key=${id} value=${id} />`)}</datalist>
      <div class="pg-toolbar">
        <h2>Compare</h2>
        ${modelList.any
          ? html`<button type="button" class="button" onClick=${modelList.refresh} aria-disabled=${modelList.busy ? "true" : undefined}>${modelList.busy ? "Listing models…" : "Refresh model lists"}</button>`
          : null}
        <button type="button" class="button" onClick=${addColumn} disabled=${columns.length >= MAX_RUNS}>Add a run</button>
        ${running ? html`<button type="button" class="button" onClick=${stop}>Stop</button>` : null}
        <button type="submit" class="button primary" aria-disabled=${running ? "true" : undefined}>${running ? "Running…" : columns.length > 1 ? `Run all ${columns.length}` : "Run"}</button>
      </div>
      <${ErrorMessage} error=${problem} />
      ${modelList.failed.length
        ? html`<p class="pg-warning" role="note">Models could not be listed for ${modelList.failed.join("; ")}. Any model name can still be typed.</p>`
        : null}
      <div class="pg-columns">
        ${span ? html`<${OriginalColumn} original=${start.original} cost=${originalCost} />` : null}
        ${columns.map((column, index) => html`<${RunColumn}
          key=${column.key}
          index=${index}
          column=${column}
          result=${results[column.key]}
          original=${span ? start.original : null}
          models=${modelList.ids.length}
          provider=${providerFor(column.model, byName)}
          canRemove=${columns.length > 1}
          onChange=${(changes) => updateColumn(column.key, changes)}
          onRemove=${() => setColumns(columns.filter((c) => c.key !== column.key))}
        />`)}
      </div>
    </form>
  </section>`;
}

function NoProviders({ providers }) {
  return html`<div class="pg-warning" role="note">
    <p><strong>No LLM provider is configured on this server.</strong> Runs need one of:</p>
    <ul class="plain">${providers.map((p) => html`<li key=${p.provider}><strong>${p.label}</strong>: ${p.how_to_configure}.</li>`)}</ul>
  </div>`;
}

function providerFor(model, byName) {
  const name = String(model || "").split("/")[0];
  if (!name || !String(model).includes("/")) return undefined;
  return byName[name] || null;
}

/** The first run: the span's own model (with the provider it names, else a configured
 * one) and parameters; `models` (from the URL) gives the runs' models instead. */
function firstColumns(start, byName, models) {
  const params = start.params;
  const base = {
    temperature: params.temperature ?? "",
    max_tokens: params.max_tokens ?? "",
    top_p: params.top_p ?? "",
    reasoning_effort: params.reasoning_effort || "",
    format: params.json_schema ? "schema" : params.json_mode ? "json" : "text",
    stop: params.stop || null,
  };
  const wanted = (models || "").split(",").map((m) => m.trim()).filter(Boolean).slice(0, MAX_RUNS);
  const list = wanted.length ? wanted : [defaultModel(start, byName)];
  return list.map((model) => ({ ...base, key: nextColumn++, model }));
}

function defaultModel(start, byName) {
  const name = start.model || "";
  if (name.includes("/") && byName[name.split("/")[0]]) return name;
  const provider = providerOf(start.provider);
  if (provider && byName[provider]?.configured) return `${provider}/${name}`;
  const configured = Object.values(byName).find((p) => p.configured);
  if (configured) return `${configured.provider}/${name}`;
  return `${provider || "openai"}/${name}`;
}

function requestBody(column, shared, source) {
  const body = { model: column.model.trim(), messages: shared.messages, source };
  const number = (value) => (value === "" || value === null || value === undefined ? undefined : Number(value));
  body.temperature = number(column.temperature);
  body.max_tokens = number(column.max_tokens);
  body.top_p = number(column.top_p);
  if (column.reasoning_effort) body.reasoning_effort = column.reasoning_effort;
  if (column.stop?.length) body.stop = column.stop.slice(0, 4);
  if (shared.tools?.length) body.tools = shared.tools;
  if (column.format === "json") body.json_mode = true;
  if (column.format === "schema" && shared.json_schema) {
    body.json_mode = true;
    body.json_schema = shared.json_schema;
  }
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

/** Model ids of every configured provider, for the model fields' suggestions, and
 * `refresh()` to ask the providers again (the server keeps their lists 15 minutes). A
 * provider whose list cannot be fetched offers none (the fields still take any name) and
 * is named in `failed`. */
function useModelList(providers) {
  const [state, setState] = useState({ ids: [], failed: [], busy: false });
  const [round, setRound] = useState(0);
  const names = providers.filter((p) => p.configured).map((p) => p.provider).join(",");
  useEffect(() => {
    let live = true;
    const lists = names ? names.split(",") : [];
    const ask = (name) => (round
      ? api(`/llm/providers/${name}/models/refresh`, { method: "POST" })
      : api(`/llm/providers/${name}/models`));
    setState((previous) => ({ ...previous, busy: true }));
    Promise.all(lists.map((name) => ask(name).then((r) => ({ ids: r.models.map((m) => m.id) }), (error) => ({ ids: [], failed: `${name}: ${error.message}` }))))
      .then((found) => live && setState({
        ids: found.flatMap((f) => f.ids),
        failed: found.filter((f) => f.failed).map((f) => f.failed),
        busy: false,
      }));
    return () => { live = false; };
  }, [names, round]);
  return { ...state, refresh: () => setRound((n) => n + 1), any: Boolean(names) };
}

/** The original call's cost: null when the model is not priced, undefined while asked or
 * when the span counted no tokens (then there is nothing to price). */
function useCost(original) {
  const [cost, setCost] = useState(undefined);
  const { model, usage } = original;
  useEffect(() => {
    if (usage.prompt === null && usage.completion === null) {
      setCost(undefined);
      return;
    }
    if (!model) {
      setCost(null);
      return;
    }
    const call = { model, prompt_tokens: usage.prompt, completion_tokens: usage.completion };
    api("/api/v1/llm/costs", { method: "POST", body: { calls: [call] } }).then(
      (answer) => setCost(answer.costs[0]),
      () => setCost(null),
    );
  }, [model, usage.prompt, usage.completion]);
  return cost;
}
