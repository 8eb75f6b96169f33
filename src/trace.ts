import type { RequestOutcome } from "./answer";
import type { Usage } from "./usage";

/**
 * A request's own story, as the request explorer and the OpenTelemetry export tell it (issue 25): the
 * record's shape and the timeline the pipeline writes into while it serves the request. A leaf: the
 * middleware creates a timeline, the proxy and its attempts note what happened, the recorder (observe/)
 * turns it into a record once the request is accounted. Notes are cheap and never throw.
 */

/** One thing that happened to a request, at `atMs` after the router received it. */
export interface TimelineEvent {
  kind: "admission" | "attempt" | "fallback" | "degrade" | "first_token" | "end";
  atMs: number;
  /** How long it took (admission waits and attempts). */
  durationMs?: number;
  pool?: string;
  model?: string;
  target?: string;
  /** An attempt's HTTP status (0: no answer at all). */
  status?: number;
  /** Why it went on: a retry's, a fallback's or a degrade's reason, or an admission's refusal. */
  reason?: string;
  /** An attempt that failed and was tried again. */
  retried?: boolean;
}

/** What the front door and the classifier decided, before any I/O. */
export interface RequestDecision {
  surface: string;
  endpoint: string;
  classification: { type: string; latency: string; priority: string; why: string };
  route: string;
  stream: boolean;
  endUser?: string;
  prompt?: PromptPrint;
}

/** The prompt's fingerprints (classify/fingerprint.ts), for the prompt-cost insights. */
export interface PromptPrint {
  family: string;
  prefixHash: string;
  promptHash: string;
  prefixTokens: number;
}

/** W3C Trace Context: the trace this request belongs to, and the span that is its parent there. */
export interface TraceContext {
  traceId: string;
  /** The router's span for this request. */
  spanId: string;
  /** The caller's span, when it sent a `traceparent`. */
  parentSpanId?: string;
  sampled: boolean;
}

/** One request's record, stored per tenant and exported as one OpenTelemetry trace. */
export interface RequestRecord {
  /** The router's id for the record (`req_…`). */
  id: string;
  /** The caller's `x-request-id`, or the one the router minted. */
  requestId: string;
  /** Epoch ms when the router received the request. */
  at: number;
  tenant: string;
  keyId?: string;
  endUser?: string;
  /** The front door: `openai`, `anthropic`, `responses`, or `batch` for a batch line. */
  surface: string;
  endpoint: string;
  stream: boolean;
  askedModel: string;
  model: string;
  pool?: string;
  target?: string;
  classification?: RequestDecision["classification"];
  route?: string;
  status: number;
  outcome: RequestOutcome;
  errorCode?: string;
  finishReason?: string;
  cache?: string;
  usage: Usage;
  estimated: boolean;
  /** The request's cost, spent attempts included. */
  costUsd: number;
  savedUsd: number;
  latencyMs: number;
  firstTokenMs?: number;
  retries: number;
  fallbacks: number;
  degraded?: string;
  prompt?: PromptPrint;
  /** The captured prompt and answer (opt-in per tenant): its R2 object and index there; read at `…/{id}/payload`. */
  payload?: { key: string; index: number };
  timeline: TimelineEvent[];
  trace: TraceContext;
}

/** Version, trace id, parent id, flags: lowercase hex (W3C Trace Context); a later version may add fields. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The trace context of a request: the caller's trace when its `traceparent` is valid, else a new trace.
 * Valid as W3C Trace Context has it: lowercase, ids not all zero, version `00` exactly as specified; a
 * later version (not `ff`) is read for the fields version `00` defines, whatever it adds after them.
 * The router's span is always new.
 */
export function traceContext(traceparent: string | undefined): TraceContext {
  const match = traceparent?.trim().match(TRACEPARENT);
  const spanId = randomHex(8);
  const [, version, traceId, parentSpanId, flags = "00", more] = match ?? [];
  const validVersion = version === "00" ? more === undefined : version !== undefined && version !== "ff";
  if (validVersion && traceId && parentSpanId && !/^0+$/.test(traceId) && !/^0+$/.test(parentSpanId)) {
    return { traceId, spanId, parentSpanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
  }
  return { traceId: randomHex(16), spanId, sampled: true };
}

/** The `traceparent` naming the router's span, for the response. */
export function traceparentOf(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${trace.sampled ? "01" : "00"}`;
}

/**
 * A record id that sorts by time: `req_` + the epoch ms in 12 hex digits + 12 random hex digits. Pages
 * are ordered by id alone, so a cursor is just the last id, and pages of several tenants merge by id.
 */
export function recordId(at: number, random: string): string {
  return `req_${at.toString(16).padStart(12, "0")}${random.slice(0, 12)}`;
}

/** Every byte's two hex digits, so an id is a few lookups rather than a string per byte. */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

export function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  let hex = "";
  for (const byte of buffer) hex += HEX[byte];
  return hex;
}

/** The timeline of one request, written by whoever serves it; read once by the recorder. */
export class Timeline {
  readonly events: TimelineEvent[] = [];
  decision: RequestDecision | undefined;
  /** The model the body asked for, once read (before the decision: a request refused there still names it). */
  askedModel: string | undefined;
  /** The inference endpoint the request's path names (`chat`, `fim`, `messages`, `responses`). */
  endpoint: string | undefined;
  errorCode: string | undefined;
  /** The request's accounting owns the record (it records it when the request ends, maybe after the response). */
  accounted = false;
  /** The record was handed over; a second one is never made. */
  recorded = false;
  /** The record's id, minted now so a payload capture can name its object before the record exists. */
  readonly id: string;
  /** Where the captured payload went, when the tenant captures payloads. */
  payload: { key: string; index: number } | undefined;

  constructor(
    /** `performance.now()` when the router received the request. */
    readonly receivedAt: number,
    /** Epoch ms of the same moment. */
    readonly at: number,
    readonly trace: TraceContext,
  ) {
    this.id = recordId(at, randomHex(6));
  }

  /** Milliseconds since the request was received. */
  sinceReceived(now = performance.now()): number {
    return Math.round((now - this.receivedAt) * 100) / 100;
  }

  decide(decision: RequestDecision): void {
    this.decision = decision;
  }

  /**
   * Notes the model the caller's body names, the first time one is read: a front door that maps the
   * name (a Claude model on the Anthropic door) reads it before it does. Capped, as the body is not yet
   * validated: a name of megabytes would make a record the ledger cannot store.
   */
  ask(model: unknown): void {
    if (this.askedModel !== undefined || typeof model !== "string") return;
    this.askedModel = model.length > MAX_MODEL_CHARS ? `${model.slice(0, MAX_MODEL_CHARS)}…` : model;
  }

  /** Notes an event (now, unless `atMs` says when); returns it, or undefined past the cap. */
  note(event: Omit<TimelineEvent, "atMs"> & { atMs?: number }): TimelineEvent | undefined {
    if (this.events.length >= MAX_EVENTS) return undefined;
    const noted: TimelineEvent = { ...event, atMs: event.atMs ?? this.sinceReceived() };
    for (const key of Object.keys(noted) as Array<keyof TimelineEvent>)
      if (noted[key] === undefined) delete noted[key];
    this.events.push(noted);
    return noted;
  }

  /** An attempt that began `startedAt` (performance.now()) and ended now; returned to mark a retry. */
  attempt(
    startedAt: number,
    event: Omit<TimelineEvent, "atMs" | "durationMs" | "kind">,
  ): TimelineEvent | undefined {
    const now = performance.now();
    return this.note({
      ...event,
      kind: "attempt",
      atMs: this.sinceReceived(startedAt),
      durationMs: round(now - startedAt),
    });
  }

  /** Admission into a pool that began `startedAt` and settled after `waitedMs`. */
  admission(startedAt: number, event: { pool: string; waitedMs: number; reason?: string }): void {
    this.note({
      kind: "admission",
      atMs: this.sinceReceived(startedAt),
      durationMs: round(event.waitedMs),
      pool: event.pool,
      ...(event.reason ? { reason: event.reason } : {}),
    });
  }
}

/** A request that retries without end still keeps a bounded record. */
const MAX_EVENTS = 64;
/** The longest model name a request may name (schema/) and a record keeps. */
export const MAX_MODEL_CHARS = 256;

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** The door a record names for an endpoint: Anthropic's Messages, OpenAI's Responses, or the chat API. */
export function surfaceOf(endpoint: string | undefined): string {
  return endpoint === "messages" ? "anthropic" : endpoint === "responses" ? "responses" : "openai";
}
