import type { Usage } from "../usage";

/**
 * The wire formats the router answers in. `chat` and `fim` are DeepSeek's own (OpenAI-style) and are
 * read by the core's original code; `messages` (Anthropic Messages) and `responses` (OpenAI Responses)
 * are read through a {@link Dialect}. The name is also the cache's and the upstream's endpoint.
 */
export type WireEndpoint = "chat" | "fim" | "messages" | "responses";

/** A request of another surface (Anthropic Messages, Responses), relayed in its own wire format. */
export interface SurfaceCall {
  endpoint: Exclude<WireEndpoint, "chat" | "fim">;
  body: Record<string, unknown>;
  /** Protocol headers passed upstream (`anthropic-version`, `anthropic-beta`). */
  headers: Record<string, string>;
}

/** What one SSE data payload of an answer says, as far as accounting, the cache and the watchdog care. */
export interface EventReading {
  /** It carried output (text, reasoning, tool-call arguments). */
  token?: boolean;
  /** Usage so far, merged over the events read (Anthropic reports input and output in different events). */
  usage?: Usage;
  finishReason?: string;
  /** The answer's final event: Anthropic's `message_stop`, Responses' `response.completed`. */
  done?: boolean;
  /** An in-band error event. */
  error?: unknown;
}

/** Reads a stream's payloads in order; stateful, one per answer. */
export interface EventReader {
  read(payload: string): EventReading;
}

/** How the error envelope of a surface looks (status may change: Anthropic's overload is 529). */
export interface RenderedError {
  status: number;
  body: unknown;
}

/** An error as the dialect needs it, without importing the router's error class. */
export interface ErrorFacts {
  status: number;
  type: string;
  message: string;
  code: string;
  param: string | null;
}

/**
 * Everything that differs between wire formats once a request is in the core: reading an answer's
 * events and JSON, re-framing stored events for a replay (and converting between streamed and
 * non-streamed answers), and the error envelope and in-band error event.
 */
export interface Dialect {
  reader(): EventReader;
  /** Usage and finish reason of a non-streamed answer's JSON. */
  readJson(body: unknown): { usage?: Usage; finishReason?: string };
  /** SSE bytes for stored event payloads, framed as this surface frames them. */
  frame(events: readonly string[]): Uint8Array;
  /** The events a streaming caller gets for a stored non-streamed answer. */
  eventsFromJson(json: string): string[];
  /** The JSON a non-streaming caller gets for a stored streamed answer. */
  jsonFromEvents(events: readonly string[]): string;
  errorBody(error: ErrorFacts): RenderedError;
  /**
   * An error after the first byte: one SSE event the surface's SDKs raise. `sent`: the data events the
   * client already has, for a surface that numbers its events (Responses' `sequence_number`).
   */
  errorEvent(error: ErrorFacts, sent: number): Uint8Array;
}
