import type { Usage } from "../usage";
import { count, framed, hasText, isObject, type Json, leadingType, parse } from "./scan";
import type { Dialect, ErrorFacts, EventReader, EventReading, RenderedError } from "./types";

/**
 * The Anthropic Messages wire format (api-surfaces.md §2): named SSE events (`event:` lines are what the
 * Anthropic SDK dispatches on), no `[DONE]`, usage split between `message_start` (input) and a cumulative
 * `message_delta` (output), and the `{"type":"error","error":{type,message}}` envelope.
 */

const encoder = new TextEncoder();
const DELTA_TEXT = ["text", "thinking", "partial_json"];
const FRAMING = new Set(["ping", "content_block_start", "content_block_stop"]);

/**
 * Anthropic usage in the router's terms. Anthropic's total input is the sum of `input_tokens` and both
 * cache fields (unlike OpenAI's `prompt_tokens`, which already includes cached tokens).
 */
export function usageFromAnthropic(raw: unknown): Usage | undefined {
  if (!isObject(raw) || typeof raw.output_tokens !== "number") return undefined;
  const read = count(raw.cache_read_input_tokens);
  const miss = count(raw.input_tokens) + count(raw.cache_creation_input_tokens);
  return {
    promptTokens: read + miss,
    completionTokens: count(raw.output_tokens),
    cacheHitTokens: read,
    cacheMissTokens: miss,
    reasoningTokens: 0,
  };
}

class MessageReader implements EventReader {
  /** Fields of usage seen so far: message_start carries input, message_delta the cumulative output. */
  private usage: Json = {};

  read(payload: string): EventReading {
    // Most events are one small delta, or framing that says nothing the router needs: no parse.
    const type = leadingType(payload);
    if (type === "content_block_delta") return { token: hasText(payload, DELTA_TEXT) };
    if (type !== undefined && FRAMING.has(type)) return {};
    const event = parse(payload);
    if (!event) return {};
    switch (event.type) {
      case "message_start": {
        const message = isObject(event.message) ? event.message : {};
        if (isObject(message.usage)) Object.assign(this.usage, message.usage);
        return {};
      }
      case "content_block_delta":
        return { token: deltaCarriesOutput(event.delta) };
      case "message_delta": {
        if (isObject(event.usage)) Object.assign(this.usage, event.usage);
        const delta = isObject(event.delta) ? event.delta : {};
        const stop = typeof delta.stop_reason === "string" ? delta.stop_reason : undefined;
        return { usage: usageFromAnthropic(this.usage), ...(stop ? { finishReason: stop } : {}) };
      }
      case "message_stop":
        return { done: true };
      case "error":
        return { error: event.error ?? event };
      default:
        return {};
    }
  }
}

function deltaCarriesOutput(delta: unknown): boolean {
  if (!isObject(delta)) return false;
  for (const field of DELTA_TEXT) {
    const value = delta[field];
    if (typeof value === "string" && value !== "") return true;
  }
  return false;
}

/** The Message a non-streaming caller gets for a streamed answer's events. */
function messageFromEvents(events: readonly string[]): string {
  let message: Json = {};
  const blocks: Json[] = [];
  const partialJson = new Map<number, string>();
  for (const payload of events) {
    const event = parse(payload);
    if (!event) continue;
    const index = typeof event.index === "number" ? event.index : 0;
    if (event.type === "message_start" && isObject(event.message)) message = { ...event.message };
    else if (event.type === "content_block_start" && isObject(event.content_block))
      blocks[index] = { ...event.content_block };
    else if (event.type === "content_block_delta" && isObject(event.delta)) {
      blocks[index] ??= {};
      applyDelta(blocks[index] as Json, event.delta, index, partialJson);
    } else if (event.type === "content_block_stop" && partialJson.has(index)) {
      const block = blocks[index] as Json;
      block.input = parse(partialJson.get(index) || "{}") ?? {};
    } else if (event.type === "message_delta") {
      if (isObject(event.delta)) Object.assign(message, event.delta);
      if (isObject(event.usage))
        message.usage = { ...(isObject(message.usage) ? message.usage : {}), ...event.usage };
    }
  }
  return JSON.stringify({ ...message, content: blocks.filter(isObject) });
}

function applyDelta(block: Json, delta: Json, index: number, partialJson: Map<number, string>): void {
  const append = (field: string, value: unknown) => {
    if (typeof value === "string")
      block[field] = `${typeof block[field] === "string" ? block[field] : ""}${value}`;
  };
  if (delta.type === "text_delta") append("text", delta.text);
  else if (delta.type === "thinking_delta") append("thinking", delta.thinking);
  else if (delta.type === "signature_delta") append("signature", delta.signature);
  else if (delta.type === "input_json_delta" && typeof delta.partial_json === "string")
    partialJson.set(index, (partialJson.get(index) ?? "") + delta.partial_json);
}

/** The event sequence Anthropic streams for a Message: start, each block (start, delta, stop), delta, stop. */
function eventsFromMessage(json: string): string[] {
  const message = parse(json);
  if (!message) return [];
  const { content, stop_reason, stop_sequence, usage, ...head } = message;
  const usageJson = isObject(usage) ? usage : {};
  const events: Json[] = [
    {
      type: "message_start",
      message: {
        ...head,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usageJson, output_tokens: 0 },
      },
    },
  ];
  (Array.isArray(content) ? content : []).filter(isObject).forEach((block, index) => {
    events.push({ type: "content_block_start", index, content_block: emptyBlock(block) });
    for (const delta of blockDeltas(block)) events.push({ type: "content_block_delta", index, delta });
    events.push({ type: "content_block_stop", index });
  });
  events.push({
    type: "message_delta",
    delta: { stop_reason: stop_reason ?? null, stop_sequence: stop_sequence ?? null },
    usage: { output_tokens: count(usageJson.output_tokens) },
  });
  events.push({ type: "message_stop" });
  return events.map((event) => JSON.stringify(event));
}

function emptyBlock(block: Json): Json {
  if (block.type === "text") return { ...block, text: "" };
  if (block.type === "thinking") return { ...block, thinking: "", signature: "" };
  if (block.type === "tool_use" || block.type === "server_tool_use") return { ...block, input: {} };
  return block;
}

function blockDeltas(block: Json): Json[] {
  if (block.type === "text" && typeof block.text === "string" && block.text !== "")
    return [{ type: "text_delta", text: block.text }];
  if (block.type === "thinking") {
    const deltas: Json[] = [];
    if (typeof block.thinking === "string" && block.thinking !== "")
      deltas.push({ type: "thinking_delta", thinking: block.thinking });
    if (typeof block.signature === "string" && block.signature !== "")
      deltas.push({ type: "signature_delta", signature: block.signature });
    return deltas;
  }
  if (block.type === "tool_use" || block.type === "server_tool_use")
    return [{ type: "input_json_delta", partial_json: JSON.stringify(block.input ?? {}) }];
  return [];
}

/** Status → Anthropic error type (api-surfaces.md §2.6); other 4xx are invalid requests, other 5xx API errors. */
const ERROR_TYPES: Record<number, string> = {
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  503: "overloaded_error",
  504: "timeout_error",
};

/** The Anthropic envelope; DeepSeek's 503 overload becomes Anthropic's 529, which its SDKs retry. */
function anthropicError(error: ErrorFacts): RenderedError {
  const { status, message } = error;
  const type = ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  return { status: status === 503 ? 529 : status, body: { type: "error", error: { type, message } } };
}

export const ANTHROPIC: Dialect = {
  reader: () => new MessageReader(),
  readJson(body) {
    if (!isObject(body)) return {};
    const usage = usageFromAnthropic(body.usage);
    return {
      ...(usage ? { usage } : {}),
      ...(typeof body.stop_reason === "string" ? { finishReason: body.stop_reason } : {}),
    };
  },
  frame: (events) => encoder.encode(events.map(framed).join("")),
  eventsFromJson: eventsFromMessage,
  jsonFromEvents: messageFromEvents,
  errorBody: anthropicError,
  errorEvent: (error) => encoder.encode(framed(JSON.stringify(anthropicError(error).body))),
};
