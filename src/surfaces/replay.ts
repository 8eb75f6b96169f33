import { dialectOf } from "./index";
import type { WireEndpoint } from "./types";

/** An answer as kept for replay: a cache entry, or an answer shared by coalesced requests. */
export type StoredAnswer = { endpoint: WireEndpoint } & (
  | { kind: "stream"; events: readonly string[] }
  | { kind: "json"; json: string }
);

/**
 * Turning a stored answer into what the caller asked for. A streamed entry replays its own events,
 * verbatim and with the original boundaries; a non-streamed caller gets one JSON assembled from them
 * (content, reasoning_content, tool calls, logprobs, usage). A non-streamed entry becomes, for a
 * streaming caller, the chunk sequence DeepSeek would have sent for it.
 */

type Json = Record<string, unknown>;

const encoder = new TextEncoder();

/** The SSE body of a hit: one `data:` event per stored event, then `[DONE]`, as DeepSeek frames them. */
export function replaySse(entry: StoredAnswer): Uint8Array {
  const dialect = dialectOf(entry.endpoint);
  if (dialect) {
    return dialect.frame(entry.kind === "stream" ? entry.events : dialect.eventsFromJson(entry.json));
  }
  const events = entry.kind === "stream" ? entry.events : eventsFromJson(entry.json, entry.endpoint);
  let text = "";
  for (const event of events) text += `data: ${event}\n\n`;
  return encoder.encode(`${text}data: [DONE]\n\n`);
}

/** The JSON body of a hit. */
export function replayJson(entry: StoredAnswer): string {
  if (entry.kind === "json") return entry.json;
  const dialect = dialectOf(entry.endpoint);
  return dialect ? dialect.jsonFromEvents(entry.events) : jsonFromEvents(entry.events, entry.endpoint);
}

/** The `data:` payloads of an SSE text, in order, without `[DONE]`; comments are dropped. */
export function ssePayloads(text: string): string[] {
  const payloads: string[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    let data: string | undefined;
    for (const line of block.split(/\r?\n/)) {
      if (!line.startsWith("data:")) continue;
      const value = line.slice(line.startsWith("data: ") ? 6 : 5);
      data = data === undefined ? value : `${data}\n${value}`;
    }
    if (data !== undefined && data !== "[DONE]") payloads.push(data);
  }
  return payloads;
}

interface ChoiceParts {
  index: number;
  /** null until a string content delta arrives, as DeepSeek leaves it in thinking mode. */
  content: string | null;
  /** Present (a string) only when the stream carried reasoning_content, i.e. in thinking mode. */
  reasoning: string | null;
  toolCalls: Map<number, { id?: unknown; type?: unknown; name: string; arguments: string }>;
  logprobs: Map<string, unknown[]>;
  finishReason: unknown;
}

/** Assembles a `chat.completion` (or FIM `text_completion`) from a streamed answer's chunks. */
export function jsonFromEvents(events: readonly string[], endpoint: WireEndpoint): string {
  let head: Json | undefined;
  let usage: unknown = null;
  const choices = new Map<number, ChoiceParts>();
  for (const event of events) {
    const chunk = parseObject(event);
    if (!chunk) continue;
    head ??= chunk;
    if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage;
    for (const raw of Array.isArray(chunk.choices) ? chunk.choices : []) {
      const choice = asObject(raw);
      if (!choice) continue;
      const index = typeof choice.index === "number" ? choice.index : 0;
      let parts = choices.get(index);
      if (!parts) {
        parts = {
          index,
          content: null,
          reasoning: null,
          toolCalls: new Map(),
          logprobs: new Map(),
          finishReason: null,
        };
        choices.set(index, parts);
      }
      absorbChoice(parts, choice, endpoint);
    }
  }
  const ordered = [...choices.values()].sort((a, b) => a.index - b.index);
  const base = {
    id: head?.id,
    object: endpoint === "fim" ? "text_completion" : "chat.completion",
    created: head?.created,
    model: head?.model,
  };
  if (endpoint === "fim") {
    return JSON.stringify({
      ...base,
      system_fingerprint: head?.system_fingerprint,
      choices: ordered.map((p) => ({
        text: p.content ?? "",
        index: p.index,
        logprobs: mergedLogprobs(p),
        finish_reason: p.finishReason,
      })),
      usage,
    });
  }
  return JSON.stringify({
    ...base,
    choices: ordered.map((p) => ({
      index: p.index,
      message: chatMessage(p),
      logprobs: mergedLogprobs(p),
      finish_reason: p.finishReason,
    })),
    usage,
    system_fingerprint: head?.system_fingerprint,
  });
}

function absorbChoice(parts: ChoiceParts, choice: Json, endpoint: WireEndpoint): void {
  if (typeof choice.finish_reason === "string") parts.finishReason = choice.finish_reason;
  const logprobs = asObject(choice.logprobs);
  if (logprobs) {
    for (const [field, values] of Object.entries(logprobs)) {
      if (Array.isArray(values)) parts.logprobs.set(field, [...(parts.logprobs.get(field) ?? []), ...values]);
    }
  }
  if (endpoint === "fim") {
    if (typeof choice.text === "string") parts.content = (parts.content ?? "") + choice.text;
    return;
  }
  const delta = asObject(choice.delta);
  if (!delta) return;
  if (typeof delta.content === "string") parts.content = (parts.content ?? "") + delta.content;
  if (typeof delta.reasoning_content === "string") {
    parts.reasoning = (parts.reasoning ?? "") + delta.reasoning_content;
  }
  for (const raw of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
    const call = asObject(raw);
    if (!call) continue;
    const index = typeof call.index === "number" ? call.index : parts.toolCalls.size;
    const fn = asObject(call.function);
    const known = parts.toolCalls.get(index) ?? { name: "", arguments: "" };
    if (call.id !== undefined) known.id = call.id;
    if (call.type !== undefined) known.type = call.type;
    if (typeof fn?.name === "string") known.name += fn.name;
    if (typeof fn?.arguments === "string") known.arguments += fn.arguments;
    parts.toolCalls.set(index, known);
  }
}

function chatMessage(parts: ChoiceParts): Json {
  const message: Json = { role: "assistant", content: parts.content };
  if (parts.reasoning !== null) message.reasoning_content = parts.reasoning;
  if (parts.toolCalls.size > 0) {
    message.tool_calls = [...parts.toolCalls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => ({
        index,
        id: call.id,
        type: call.type ?? "function",
        function: { name: call.name, arguments: call.arguments },
      }));
  }
  return message;
}

function mergedLogprobs(parts: ChoiceParts): Json | null {
  if (parts.logprobs.size === 0) return null;
  return Object.fromEntries(parts.logprobs);
}

/** The chunk sequence DeepSeek streams for a non-streamed answer: role, reasoning, content, tools, finish. */
export function eventsFromJson(json: string, endpoint: WireEndpoint): string[] {
  const answer = parseObject(json);
  if (!answer) return [];
  const head = {
    id: answer.id,
    object: endpoint === "fim" ? "text_completion" : "chat.completion.chunk",
    created: answer.created,
    model: answer.model,
    system_fingerprint: answer.system_fingerprint,
  };
  const choices = (Array.isArray(answer.choices) ? answer.choices : [])
    .map(asObject)
    .filter((c) => c !== undefined);
  const events: string[] = [];
  choices.forEach((choice, position) => {
    const last = position === choices.length - 1;
    const usage = last && answer.usage !== undefined ? { usage: answer.usage } : {};
    const chunk = (choiceChunk: Json, extra: Json = {}) =>
      events.push(JSON.stringify({ ...head, choices: [choiceChunk], ...extra }));
    if (endpoint === "fim") fimChunks(choice, chunk, usage);
    else chatChunks(choice, chunk, usage);
  });
  return events;
}

type Emit = (choice: Json, extra?: Json) => void;

function chatChunks(choice: Json, emit: Emit, usage: Json): void {
  const index = typeof choice.index === "number" ? choice.index : 0;
  const message = asObject(choice.message) ?? {};
  const thinking = typeof message.reasoning_content === "string";
  const delta = (d: Json, finish: unknown = null, logprobs: unknown = null) =>
    ({ index, delta: d, logprobs, finish_reason: finish }) satisfies Json;
  emit(
    delta(
      thinking
        ? { role: "assistant", content: null, reasoning_content: "" }
        : { role: "assistant", content: "" },
    ),
  );
  if (thinking && message.reasoning_content !== "") {
    emit(delta({ content: null, reasoning_content: message.reasoning_content }));
  }
  if (typeof message.content === "string" && message.content !== "") {
    const content = thinking
      ? { content: message.content, reasoning_content: null }
      : { content: message.content };
    emit(delta(content, null, choice.logprobs ?? null));
  }
  const toolCalls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  toolCalls.forEach((raw, position) => {
    const call = asObject(raw);
    if (!call) return;
    const { index: callIndex, ...rest } = call;
    emit(delta({ tool_calls: [{ index: typeof callIndex === "number" ? callIndex : position, ...rest }] }));
  });
  const finish = thinking ? { content: "", reasoning_content: null } : { content: "" };
  emit(delta(finish, choice.finish_reason ?? null), usage);
}

function fimChunks(choice: Json, emit: Emit, usage: Json): void {
  const index = typeof choice.index === "number" ? choice.index : 0;
  const text = typeof choice.text === "string" ? choice.text : "";
  if (text !== "") emit({ text, index, logprobs: choice.logprobs ?? null, finish_reason: null });
  emit({ text: "", index, logprobs: null, finish_reason: choice.finish_reason ?? null }, usage);
}

function parseObject(text: string): Json | undefined {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function asObject(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}
