// An LLM span as a playground prompt: the messages sent (with tool calls), the tool
// definitions, the model and its parameters, and what came back, from whichever shape the
// instrumentation wrote (the same shapes junjo/features/traces/llm_messages.py reads):
// OTel GenAI (gen_ai.input.messages / gen_ai.output.messages and gen_ai.system_instructions,
// on the span or its operation-details event; older per-message events; gen_ai.prompt.N.*),
// then OpenInference (llm.input_messages.N.message.*, else input.value / output.value).

const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);
const DETAILS_EVENT = "gen_ai.client.inference.operation.details";
const MESSAGE_EVENTS = {
  "gen_ai.system.message": "system",
  "gen_ai.user.message": "user",
  "gen_ai.assistant.message": "assistant",
  "gen_ai.tool.message": "tool",
};

/** {messages, tools, model, provider, params, original: {text, finishReason, usage, model}} */
export function fromSpan(span) {
  const attrs = span?.attributes_json || {};
  const events = Array.isArray(span?.events_json) ? span.events_json : [];
  const found = [attrs, ...events.filter((e) => e?.name === DETAILS_EVENT).map((e) => e.attributes || {})]
    .map(semconv)
    .find((result) => result.inputs.length)
    || perMessageEvents(events)
    || indexed(attrs, "gen_ai.prompt.", "gen_ai.completion.", "")
    || openInference(attrs)
    || values(attrs);
  const params = parameters(attrs);
  const output = found.outputs[0];
  return {
    messages: found.inputs.length ? found.inputs : [{ role: "user", content: "" }],
    tools: tools(attrs),
    model: attrs["llm.model_name"] || attrs["gen_ai.request.model"] || attrs["gen_ai.response.model"] || span?.llm_model_name || "",
    provider: String(attrs["gen_ai.provider.name"] || attrs["gen_ai.system"] || attrs["llm.provider"] || attrs["llm.system"] || ""),
    params,
    original: {
      text: output ? textOf(output.content) + toolCallsText(output.tool_calls) : "",
      finishReason: output?.finish_reason || firstOf(attrs["gen_ai.response.finish_reasons"]) || null,
      model: attrs["gen_ai.response.model"] || attrs["llm.model_name"] || span?.llm_model_name || "",
      usage: {
        prompt: span?.llm_prompt_tokens ?? null,
        completion: span?.llm_completion_tokens ?? null,
        total: span?.llm_total_tokens ?? null,
      },
      latencyMs: span?.duration_ns ? Number(span.duration_ns) / 1e6 : null,
    },
  };
}

/** Our provider name for what a span calls its provider ("gcp.gemini", "openai", ...). */
export function providerOf(name) {
  const value = String(name || "").toLowerCase();
  if (value.includes("anthropic")) return "anthropic";
  if (value.includes("gemini") || value.includes("google") || value.includes("vertex")) return "gemini";
  if (value === "openai" || value === "azure.ai.openai" || value === "azure") return "openai";
  return value ? "openai_compatible" : "";
}

function semconv(attrs) {
  const inputs = [];
  const instructions = json(attrs["gen_ai.system_instructions"]);
  if (instructions) inputs.push({ role: "system", content: partsText(instructions) });
  for (const message of list(json(attrs["gen_ai.input.messages"]))) inputs.push(semconvMessage(message));
  const outputs = list(json(attrs["gen_ai.output.messages"])).map(semconvMessage);
  return { inputs, outputs };
}

function semconvMessage(message) {
  if (!message || typeof message !== "object") return { role: "user", content: textOf(message) };
  const parts = Array.isArray(message.parts) ? message.parts : null;
  const out = { role: role(message.role, "user"), content: parts ? partsText(parts.filter((p) => p?.type !== "tool_call")) : textOf(message.content) };
  const calls = (parts || []).filter((p) => p?.type === "tool_call");
  if (calls.length) {
    out.tool_calls = calls.map((call, index) => ({
      id: call.id || `call_${index}`,
      type: "function",
      function: { name: call.name || "", arguments: typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments ?? {}) },
    }));
  }
  const response = (parts || []).find((p) => p?.type === "tool_call_response");
  if (response) {
    out.role = "tool";
    out.tool_call_id = response.id || "";
    out.content = textOf(response.response);
  }
  if (message.finish_reason) out.finish_reason = message.finish_reason;
  return out;
}

function partsText(parts) {
  return list(parts)
    .map((part) => {
      if (!part || typeof part !== "object") return textOf(part);
      if (part.type === "text" || ("content" in part && !("type" in part))) return textOf(part.content);
      if (part.type === "tool_call_response") return textOf(part.response);
      return `[${part.type || "?"}]`;
    })
    .filter(Boolean)
    .join("\n");
}

function perMessageEvents(events) {
  const inputs = [];
  const outputs = [];
  for (const event of events) {
    const attrs = event?.attributes || {};
    if (MESSAGE_EVENTS[event?.name]) {
      const message = { role: MESSAGE_EVENTS[event.name], content: textOf(json(attrs.content)) };
      if (attrs.id && message.role === "tool") message.tool_call_id = String(attrs.id);
      inputs.push(message);
    } else if (event?.name === "gen_ai.choice") {
      const message = json(attrs.message);
      const content = message && typeof message === "object" ? message.content : message;
      outputs.push({ role: "assistant", content: textOf(content ?? attrs.content), finish_reason: attrs.finish_reason });
    }
  }
  return inputs.length ? { inputs, outputs } : null;
}

function indexed(attrs, inputs, outputs, infix) {
  const read = (prefix) => {
    const pattern = new RegExp(`^${escape(prefix)}(\\d+)\\.${escape(infix)}(role|content)$`);
    const found = new Map();
    for (const [key, value] of Object.entries(attrs)) {
      const match = pattern.exec(key);
      if (!match) continue;
      const index = Number(match[1]);
      if (!found.has(index)) found.set(index, {});
      found.get(index)[match[2]] = value;
    }
    return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => ({ role: role(m.role, "user"), content: textOf(m.content) }));
  };
  const ins = read(inputs);
  return ins.length ? { inputs: ins, outputs: read(outputs).map((m) => ({ ...m, role: "assistant" })) } : null;
}

/** llm.input_messages.N.message.{role, content, contents.M.message_content.text,
 * tool_calls.M.tool_call.{id, function.name, function.arguments}, tool_call_id}. */
function openInference(attrs) {
  const read = (prefix) => {
    const found = new Map();
    for (const [key, value] of Object.entries(attrs)) {
      if (!key.startsWith(prefix)) continue;
      const match = /^(\d+)\.message\.(.+)$/.exec(key.slice(prefix.length));
      if (!match) continue;
      const index = Number(match[1]);
      if (!found.has(index)) found.set(index, {});
      found.get(index)[match[2]] = value;
    }
    return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, fields]) => openInferenceMessage(fields));
  };
  const inputs = read("llm.input_messages.");
  return inputs.length ? { inputs, outputs: read("llm.output_messages.") } : null;
}

function openInferenceMessage(fields) {
  let content = fields.content !== undefined ? textOf(fields.content) : "";
  if (fields.content === undefined) {
    const texts = Object.keys(fields)
      .map((key) => /^contents\.(\d+)\.message_content\.text$/.exec(key))
      .filter(Boolean)
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map((match) => textOf(fields[match[0]]));
    content = texts.join("\n");
  }
  const message = { role: role(fields.role, "user"), content };
  const calls = new Map();
  for (const [key, value] of Object.entries(fields)) {
    const match = /^tool_calls\.(\d+)\.tool_call\.(id|function\.name|function\.arguments)$/.exec(key);
    if (!match) continue;
    if (!calls.has(match[1])) calls.set(match[1], { id: "", type: "function", function: { name: "", arguments: "" } });
    const call = calls.get(match[1]);
    if (match[2] === "id") call.id = String(value);
    else if (match[2] === "function.name") call.function.name = String(value);
    else call.function.arguments = typeof value === "string" ? value : JSON.stringify(value);
  }
  if (typeof fields.tool_calls === "string") {
    const parsed = json(fields.tool_calls);
    if (Array.isArray(parsed)) parsed.forEach((call, i) => calls.set(String(i), call));
  }
  if (calls.size) message.tool_calls = [...calls.values()].map((call, i) => ({ ...call, id: call.id || `call_${i}` }));
  if (fields.tool_call_id) message.tool_call_id = String(fields.tool_call_id);
  return message;
}

function values(attrs) {
  const input = json(attrs["input.value"]);
  const output = json(attrs["output.value"]);
  // An OpenAI-style request body as input.value: its messages.
  if (input && typeof input === "object" && Array.isArray(input.messages)) {
    const inputs = input.messages.map((m) => ({ role: role(m?.role, "user"), content: textOf(m?.content) }));
    return { inputs, outputs: output !== undefined ? [{ role: "assistant", content: outputText(output) }] : [] };
  }
  const inputs = input !== undefined && input !== "" ? [{ role: "user", content: textOf(input) }] : [];
  const outputs = output !== undefined && output !== "" ? [{ role: "assistant", content: outputText(output) }] : [];
  return { inputs, outputs };
}

function outputText(output) {
  // An OpenAI-style response body as output.value: its first choice's text.
  const choice = output && typeof output === "object" && Array.isArray(output.choices) ? output.choices[0] : null;
  if (choice) return textOf(choice.message?.content ?? choice.text);
  return textOf(output);
}

function parameters(attrs) {
  const invocation = json(attrs["llm.invocation_parameters"]);
  const from = invocation && typeof invocation === "object" ? invocation : {};
  const pick = (...values) => values.find((v) => v !== undefined && v !== null && v !== "");
  const params = {
    temperature: pick(from.temperature, attrs["gen_ai.request.temperature"]),
    max_tokens: pick(from.max_tokens, from.max_completion_tokens, from.max_output_tokens, attrs["gen_ai.request.max_tokens"]),
    top_p: pick(from.top_p, attrs["gen_ai.request.top_p"]),
    stop: pick(from.stop, attrs["gen_ai.request.stop_sequences"]),
    reasoning_effort: pick(from.reasoning_effort, from.reasoning?.effort),
  };
  const format = from.response_format;
  if (from.json_mode || format?.type === "json_object") params.json_mode = true;
  if (format?.type === "json_schema" && format.json_schema?.schema) params.json_schema = format.json_schema.schema;
  if (from.json_schema && typeof from.json_schema === "object") params.json_schema = from.json_schema;
  if (typeof params.stop === "string") params.stop = [params.stop];
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
}

function tools(attrs) {
  const definitions = json(attrs["gen_ai.tool.definitions"]) || json(attrs["llm.tools"]);
  if (Array.isArray(definitions)) return definitions.map(asTool).filter(Boolean);
  const found = [];
  for (const [key, value] of Object.entries(attrs)) {
    const match = /^llm\.tools\.(\d+)\.tool\.json_schema$/.exec(key);
    if (match) found[Number(match[1])] = asTool(json(value));
  }
  return found.filter(Boolean);
}

function asTool(tool) {
  if (!tool || typeof tool !== "object") return null;
  if (tool.type === "function" && tool.function) return tool;
  if (tool.name) return { type: "function", function: { name: tool.name, description: tool.description, parameters: tool.parameters || tool.input_schema || { type: "object" } } };
  return null;
}

function toolCallsText(calls) {
  if (!Array.isArray(calls) || !calls.length) return "";
  return calls.map((c) => `\n[tool call ${c.function?.name || "?"}(${c.function?.arguments || ""})]`).join("");
}

function role(value, fallback) {
  const name = String(value || "").toLowerCase();
  if (ROLES.has(name)) return name;
  if (name === "human") return "user";
  if (name === "ai" || name === "model") return "assistant";
  return fallback;
}

function json(value) {
  if (typeof value === "string" && (value.startsWith("[") || value.startsWith("{"))) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

function list(value) {
  if (value === undefined || value === null || value === "") return [];
  return Array.isArray(value) ? value : [value];
}

function textOf(value) {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map((part) => (part && typeof part === "object" ? textOf(part.text ?? part.content ?? "") : textOf(part))).join("\n");
  return JSON.stringify(value);
}

function firstOf(value) {
  const items = list(json(value));
  return items.length ? String(items[0]) : null;
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
