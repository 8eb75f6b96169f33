import type { RequestRecord, TimelineEvent } from "../trace";

/**
 * Request records as OTLP/HTTP JSON traces (opentelemetry-proto's JSON encoding: ids in hex, 64-bit
 * integers and nanosecond times as decimal strings, enums as numbers). One trace per request: a SERVER
 * span for the request, a child for each admission wait and each upstream attempt (CLIENT spans), and
 * span events for fallbacks, degrades and the first token. GenAI attributes follow the OpenTelemetry
 * GenAI semantic conventions; the router's own live under `deepseek_router.`.
 */

type AnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values: AnyValue[] } };

export interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  events?: Array<{ timeUnixNano: string; name: string; attributes: KeyValue[] }>;
  status?: { code: number; message?: string };
}

export interface OtlpTraces {
  resourceSpans: Array<{
    resource: { attributes: KeyValue[] };
    scopeSpans: Array<{ scope: { name: string; version: string }; spans: OtlpSpan[] }>;
  }>;
}

const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
const STATUS = { unset: 0, error: 2 } as const;
export const NAMESPACE = "deepseek_router";

/** The OTLP/HTTP JSON body for `records`: what the consumer POSTs. */
export function otlpJson(records: RequestRecord[], serviceName?: string): string {
  return JSON.stringify(toOtlp(records, serviceName));
}

export function toOtlp(records: RequestRecord[], serviceName = "deepseek-edge-router"): OtlpTraces {
  const spans: OtlpSpan[] = [];
  for (const record of records) addSpans(record, spans);
  return {
    resourceSpans: [
      {
        resource: { attributes: attributes({ "service.name": serviceName }) },
        scopeSpans: [{ scope: { name: "deepseek-edge-router", version: "1" }, spans }],
      },
    ],
  };
}

/** The GenAI operation a request's endpoint performs. */
function operationOf(endpoint: string): string {
  return endpoint === "fim" || (endpoint.endsWith("/completions") && !endpoint.includes("chat"))
    ? "text_completion"
    : "chat";
}

/** The record's spans, appended to `spans`: its own, then its admission waits' and attempts'. */
function addSpans(record: RequestRecord, spans: OtlpSpan[]): void {
  const { trace } = record;
  const operation = operationOf(record.endpoint);
  const nanos = (atMs: number) => unixNanos(record.at, atMs);
  const failed = record.status >= 400 || record.outcome === "failed";
  const root: OtlpSpan = {
    traceId: trace.traceId,
    spanId: trace.spanId,
    ...(trace.parentSpanId ? { parentSpanId: trace.parentSpanId } : {}),
    name: `${operation} ${record.askedModel}`,
    kind: SPAN_KIND.server,
    startTimeUnixNano: nanos(0),
    endTimeUnixNano: nanos(record.latencyMs),
    attributes: attributes({
      "gen_ai.operation.name": operation,
      "gen_ai.provider.name": "deepseek",
      "gen_ai.request.model": record.askedModel,
      "gen_ai.response.model": record.model,
      "gen_ai.usage.input_tokens": int(record.usage.promptTokens),
      "gen_ai.usage.output_tokens": int(record.usage.completionTokens),
      "gen_ai.response.finish_reasons": record.finishReason ? [record.finishReason] : undefined,
      "http.response.status_code": int(record.status),
      "error.type": record.errorCode,
      [`${NAMESPACE}.record_id`]: record.id,
      [`${NAMESPACE}.request_id`]: record.requestId,
      [`${NAMESPACE}.tenant`]: record.tenant,
      [`${NAMESPACE}.key_id`]: record.keyId,
      [`${NAMESPACE}.surface`]: record.surface,
      [`${NAMESPACE}.pool`]: record.pool,
      [`${NAMESPACE}.target`]: record.target,
      [`${NAMESPACE}.route`]: record.route,
      [`${NAMESPACE}.class`]: record.classification?.type,
      [`${NAMESPACE}.class_reason`]: record.classification?.why,
      [`${NAMESPACE}.outcome`]: record.outcome,
      [`${NAMESPACE}.cache`]: record.cache,
      [`${NAMESPACE}.cost_usd`]: record.costUsd,
      [`${NAMESPACE}.usage.cache_hit_tokens`]: int(record.usage.cacheHitTokens),
      [`${NAMESPACE}.usage.cache_miss_tokens`]: int(record.usage.cacheMissTokens),
      [`${NAMESPACE}.usage.reasoning_tokens`]: int(record.usage.reasoningTokens),
      [`${NAMESPACE}.usage.estimated`]: record.estimated,
      [`${NAMESPACE}.retries`]: int(record.retries),
      [`${NAMESPACE}.degraded`]: record.degraded,
    }),
    events: [],
    status: failed
      ? { code: STATUS.error, message: record.errorCode ?? `HTTP ${record.status}` }
      : { code: STATUS.unset },
  };
  spans.push(root);
  record.timeline.forEach((event, index) => {
    if (event.kind === "fallback" || event.kind === "degrade" || event.kind === "first_token") {
      root.events?.push({
        timeUnixNano: nanos(event.atMs),
        name: `${NAMESPACE}.${event.kind}`,
        attributes: attributes({ [POOL]: event.pool, [`${NAMESPACE}.reason`]: event.reason }),
      });
    }
    const child = childSpan(record, event, index, operation);
    if (child) spans.push(child);
  });
}

const POOL = `${NAMESPACE}.pool`;

function childSpan(
  record: RequestRecord,
  event: TimelineEvent,
  index: number,
  operation: string,
): OtlpSpan | undefined {
  if (event.kind !== "admission" && event.kind !== "attempt") return undefined;
  const start = unixNanos(record.at, event.atMs);
  const end = unixNanos(record.at, event.atMs + (event.durationMs ?? 0));
  const base = {
    traceId: record.trace.traceId,
    // Derived from the record, so a re-delivered message exports the same span, not a second one.
    spanId: spanIdOf(`${record.id}/${index}`),
    parentSpanId: record.trace.spanId,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
  };
  if (event.kind === "admission") {
    return {
      ...base,
      name: `admission ${event.pool}`,
      kind: SPAN_KIND.internal,
      attributes: attributes({ [`${NAMESPACE}.pool`]: event.pool, [`${NAMESPACE}.refused`]: event.reason }),
      status: event.reason ? { code: STATUS.error, message: event.reason } : { code: STATUS.unset },
    };
  }
  const ok = event.status === 200;
  return {
    ...base,
    name: `${operation} ${event.model}`,
    kind: SPAN_KIND.client,
    attributes: attributes({
      "gen_ai.operation.name": operation,
      "gen_ai.provider.name": "deepseek",
      "gen_ai.request.model": event.model,
      "http.response.status_code": event.status ? int(event.status) : undefined,
      "error.type": ok ? undefined : (event.reason ?? "no_answer"),
      [`${NAMESPACE}.pool`]: event.pool,
      [`${NAMESPACE}.target`]: event.target,
      [`${NAMESPACE}.retried`]: event.retried,
    }),
    status: ok
      ? { code: STATUS.unset }
      : { code: STATUS.error, message: event.reason ?? `HTTP ${event.status}` },
  };
}

/**
 * Epoch ms plus an offset in ms, as integer nanoseconds in a decimal string: whole microseconds (an
 * exact integer in a double until the year 2255) followed by three zeros, without BigInt.
 */
function unixNanos(at: number, offsetMs: number): string {
  return `${Math.round((at + offsetMs) * 1000)}000`;
}

type Value = string | number | boolean | string[] | { int: number } | undefined;

function int(value: number): { int: number } {
  return { int: value };
}

/** Attributes in OTLP's KeyValue form; undefined values are left out. */
function attributes(values: Record<string, Value>): KeyValue[] {
  const out: KeyValue[] = [];
  for (const key in values) {
    const value = values[key];
    if (value !== undefined) out.push({ key, value: anyValue(value) });
  }
  return out;
}

function anyValue(value: Exclude<Value, undefined>): AnyValue {
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (typeof value === "number") return { doubleValue: value };
  if (Array.isArray(value)) return { arrayValue: { values: value.map((v) => ({ stringValue: v })) } };
  return { intValue: String(Math.round(value.int)) };
}

/**
 * A 64-bit FNV-1a hash of `text` as 16 hex digits: a stable span id. Computed on four 16-bit limbs in
 * plain numbers (no BigInt): the prime 2^40 + 0x1b3 multiplies each limb by 0x1b3 and shifts a copy
 * of the low limbs up by 40 bits (limb 0 into 2½ limbs up), carries propagated, modulo 2^64.
 */
export function spanIdOf(text: string): string {
  // 0xcbf29ce484222325, lowest limb first.
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (let i = 0; i < text.length; i++) {
    h0 ^= text.charCodeAt(i); // A UTF-16 unit: 16 bits, the lowest limb.
    // × 0x1b3, plus (h << 40): bit 40 is limb 2's bit 8, so h0 << 8 joins limb 2, h1 << 8 limb 3.
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return [h3, h2, h1, h0].map((limb) => limb.toString(16).padStart(4, "0")).join("");
}
