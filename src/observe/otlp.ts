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

export function toOtlp(records: RequestRecord[], serviceName = "deepseek-edge-router"): OtlpTraces {
  return {
    resourceSpans: [
      {
        resource: { attributes: attributes({ "service.name": serviceName }) },
        scopeSpans: [
          { scope: { name: "deepseek-edge-router", version: "1" }, spans: records.flatMap(spansOf) },
        ],
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

function spansOf(record: RequestRecord): OtlpSpan[] {
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
    events: record.timeline
      .filter(
        (event) => event.kind === "fallback" || event.kind === "degrade" || event.kind === "first_token",
      )
      .map((event) => ({
        timeUnixNano: nanos(event.atMs),
        name: `${NAMESPACE}.${event.kind}`,
        attributes: attributes({ [`${NAMESPACE}.pool`]: event.pool, [`${NAMESPACE}.reason`]: event.reason }),
      })),
    status: failed
      ? { code: STATUS.error, message: record.errorCode ?? `HTTP ${record.status}` }
      : { code: STATUS.unset },
  };
  const children = record.timeline
    .map((event, index) => childSpan(record, event, index, operation))
    .filter((span): span is OtlpSpan => span !== undefined);
  return [root, ...children];
}

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

/** Epoch ms plus an offset in ms, as integer nanoseconds in a decimal string. */
function unixNanos(at: number, offsetMs: number): string {
  return (BigInt(Math.round((at + offsetMs) * 1000)) * 1000n).toString();
}

type Value = string | number | boolean | string[] | { int: number } | undefined;

function int(value: number): { int: number } {
  return { int: value };
}

/** Attributes in OTLP's KeyValue form; undefined values are left out. */
function attributes(values: Record<string, Value>): KeyValue[] {
  const out: KeyValue[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out.push({ key, value: anyValue(value) });
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

/** A 64-bit FNV-1a hash of `text` as 16 hex digits: a stable span id. */
function spanIdOf(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}
