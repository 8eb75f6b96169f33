import { isObject, type Json, parse } from "../surfaces/scan";
import type { OwnedKind, OwnedStatus } from "./types";

/** One event as the owner keeps it: its data, and what it says about the answer's state. */
export interface KeptEvent {
  /** The SSE data payload as stored and replayed. */
  data: string;
  /** Responses: the SSE event name (the event's `type`). */
  name?: string;
  /** A Response object the event carries (created, in_progress, completed, …), already owned. */
  response?: Json;
  /** An output item that is now complete (`response.output_item.done`). */
  doneItem?: Json;
  /** The status the answer is in once this event is kept, when the event decides it. */
  status?: OwnedStatus;
  error?: { code: string; message: string };
}

const FINAL: Record<string, OwnedStatus> = {
  "response.completed": "completed",
  "response.incomplete": "incomplete",
  "response.failed": "failed",
};

/**
 * A Responses event as the router serves it: the router's id (DeepSeek mints its own per call, and it
 * would not be found here), the router's sequence number (its index in the kept stream, so
 * `starting_after` is exact even when the router itself added an event) and the fields DeepSeek does
 * not keep (`background`, `store`, `previous_response_id`). Pure.
 */
export function keepResponsesEvent(payload: string, seq: number, id: string, echo: Json): KeptEvent {
  const event = parse(payload);
  if (!event) return { data: payload };
  const type = typeof event.type === "string" ? event.type : "message";
  const kept: KeptEvent = { data: "", name: type };
  if (isObject(event.response)) {
    kept.response = { ...event.response, id, ...echo };
    event.response = kept.response;
  }
  if (type === "response.output_item.done" && isObject(event.item)) kept.doneItem = event.item;
  if (FINAL[type]) kept.status = FINAL[type];
  if (type === "response.failed") kept.error = errorOf(kept.response?.error);
  if (type === "error") {
    kept.status = "failed";
    kept.error = errorOf(event);
  }
  event.sequence_number = seq;
  kept.data = JSON.stringify(event);
  return kept;
}

/**
 * The event that ends a cancelled answer for its readers. OpenAI's Responses streams have no event of
 * their own for a cancel (the SDK's `ResponseStreamEvent` union has none; `response.cancelled` is only
 * a webhook), so a Responses stream ends with the terminal lifecycle event for an answer cut short,
 * `response.incomplete`, its `response` saying `status: "cancelled"`, at the stream's next sequence
 * number. A chat stream ends as it does when the upstream fails mid-way: an in-band error chunk, here
 * with code `cancelled`. Pure.
 */
export function cancelledEvent(kind: OwnedKind, seq: number, response: Json): KeptEvent {
  if (kind === "chat") {
    const error = { message: "The stream was cancelled.", type: "invalid_request_error", param: null };
    return { data: JSON.stringify({ error: { ...error, code: "cancelled" } }), status: "cancelled" };
  }
  const cancelled = { ...response, status: "cancelled" };
  const data = JSON.stringify({ type: "response.incomplete", response: cancelled, sequence_number: seq });
  return { data, name: "response.incomplete", response: cancelled, status: "cancelled" };
}

/** A chat chunk is kept as it came (no parse): `[DONE]` completes it, an in-band error fails it. */
export function keepChatEvent(payload: string): KeptEvent {
  if (payload === "[DONE]") return { data: payload, status: "completed" };
  if (payload.startsWith('{"error"')) {
    const body = parse(payload);
    return { data: payload, status: "failed", error: errorOf(body?.error) };
  }
  return { data: payload };
}

function errorOf(raw: unknown): { code: string; message: string } {
  const error = isObject(raw) ? raw : {};
  return {
    code: typeof error.code === "string" ? error.code : "upstream_error",
    message: typeof error.message === "string" ? error.message : "The answer failed.",
  };
}

const encoder = new TextEncoder();

/**
 * SSE framing on the way out. Responses events are named (the openai SDK reads either way); chat
 * chunks of an opted-in stream carry `id:` lines, the sequence number, so `Last-Event-ID` resumes after it.
 */
export function frameEvent(kind: OwnedKind, seq: number, data: string, name?: string): string {
  return kind === "responses"
    ? `event: ${name ?? parse(data)?.type ?? "message"}\ndata: ${data}\n\n`
    : `id: ${seq}\ndata: ${data}\n\n`;
}

export function encode(text: string): Uint8Array {
  return encoder.encode(text);
}
