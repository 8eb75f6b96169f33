import { INTERRUPTED_FINISH } from "../answer";
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
        resource: { attributes: new Attributes().string("service.name", serviceName).list },
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

/** The router's own attribute keys, made once. */
const KEY = {
  recordId: `${NAMESPACE}.record_id`,
  requestId: `${NAMESPACE}.request_id`,
  tenant: `${NAMESPACE}.tenant`,
  keyId: `${NAMESPACE}.key_id`,
  surface: `${NAMESPACE}.surface`,
  pool: `${NAMESPACE}.pool`,
  target: `${NAMESPACE}.target`,
  route: `${NAMESPACE}.route`,
  class: `${NAMESPACE}.class`,
  classReason: `${NAMESPACE}.class_reason`,
  outcome: `${NAMESPACE}.outcome`,
  errorCode: `${NAMESPACE}.error_code`,
  cache: `${NAMESPACE}.cache`,
  costUsd: `${NAMESPACE}.cost_usd`,
  cacheHitTokens: `${NAMESPACE}.usage.cache_hit_tokens`,
  cacheMissTokens: `${NAMESPACE}.usage.cache_miss_tokens`,
  reasoningTokens: `${NAMESPACE}.usage.reasoning_tokens`,
  estimated: `${NAMESPACE}.usage.estimated`,
  retries: `${NAMESPACE}.retries`,
  degraded: `${NAMESPACE}.degraded`,
  reason: `${NAMESPACE}.reason`,
  refused: `${NAMESPACE}.refused`,
  retried: `${NAMESPACE}.retried`,
} as const;

/** The record's spans, appended to `spans`: its own, then its admission waits' and attempts'. */
function addSpans(record: RequestRecord, spans: OtlpSpan[]): void {
  const { trace, usage } = record;
  const operation = operationOf(record.endpoint);
  // A SERVER span is an error only for what the router failed at (OpenTelemetry's HTTP conventions leave
  // a 4xx's status unset: the caller's doing). The router's error code names any refusal all the same.
  const failed = record.status >= 500 || record.outcome === "failed" || record.outcome === "truncated";
  // An answer that failed after its 200 has no error code of its own: the upstream's finish reason (an
  // answer it cut short) or the stream's outcome names what went wrong.
  const errorType = failed
    ? (record.errorCode ??
      (record.status >= 500
        ? String(record.status)
        : record.finishReason === INTERRUPTED_FINISH
          ? INTERRUPTED_FINISH
          : `stream_${record.outcome}`))
    : undefined;
  const attributes = new Attributes()
    .string("gen_ai.operation.name", operation)
    .string("gen_ai.provider.name", "deepseek")
    .string("gen_ai.request.model", record.askedModel)
    .string("gen_ai.response.model", record.model)
    .int("gen_ai.usage.input_tokens", usage.promptTokens)
    .int("gen_ai.usage.output_tokens", usage.completionTokens)
    .strings("gen_ai.response.finish_reasons", record.finishReason)
    .int("http.response.status_code", record.status)
    .string("error.type", errorType)
    .string(KEY.recordId, record.id)
    .string(KEY.requestId, record.requestId)
    .string(KEY.tenant, record.tenant)
    .string(KEY.keyId, record.keyId)
    .string(KEY.surface, record.surface)
    .string(KEY.pool, record.pool)
    .string(KEY.target, record.target)
    .string(KEY.route, record.route)
    .string(KEY.class, record.classification?.type)
    .string(KEY.classReason, record.classification?.why)
    .string(KEY.outcome, record.outcome)
    .string(KEY.errorCode, record.errorCode)
    .string(KEY.cache, record.cache)
    .double(KEY.costUsd, record.costUsd)
    .int(KEY.cacheHitTokens, usage.cacheHitTokens)
    .int(KEY.cacheMissTokens, usage.cacheMissTokens)
    .int(KEY.reasoningTokens, usage.reasoningTokens)
    .bool(KEY.estimated, record.estimated)
    .int(KEY.retries, record.retries)
    .string(KEY.degraded, record.degraded).list;
  const root: OtlpSpan = {
    traceId: trace.traceId,
    spanId: trace.spanId,
    ...(trace.parentSpanId ? { parentSpanId: trace.parentSpanId } : {}),
    name: `${operation} ${record.askedModel}`,
    kind: SPAN_KIND.server,
    startTimeUnixNano: unixNanos(record.at, 0),
    endTimeUnixNano: unixNanos(record.at, record.latencyMs),
    attributes,
    events: [],
    status: failed ? { code: STATUS.error, message: errorType } : { code: STATUS.unset },
  };
  spans.push(root);
  record.timeline.forEach((event, index) => {
    if (event.kind === "fallback" || event.kind === "degrade" || event.kind === "first_token") {
      root.events?.push({
        timeUnixNano: unixNanos(record.at, event.atMs),
        name: `${NAMESPACE}.${event.kind}`,
        attributes: new Attributes().string(KEY.pool, event.pool).string(KEY.reason, event.reason).list,
      });
    }
    const child = childSpan(record, event, index, operation);
    if (child) spans.push(child);
  });
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
      attributes: new Attributes().string(KEY.pool, event.pool).string(KEY.refused, event.reason).list,
      status: event.reason ? { code: STATUS.error, message: event.reason } : { code: STATUS.unset },
    };
  }
  const ok = event.status === 200;
  return {
    ...base,
    name: `${operation} ${event.model}`,
    kind: SPAN_KIND.client,
    attributes: new Attributes()
      .string("gen_ai.operation.name", operation)
      .string("gen_ai.provider.name", "deepseek")
      .string("gen_ai.request.model", event.model)
      .int("http.response.status_code", event.status || undefined)
      .string("error.type", ok ? undefined : (event.reason ?? "no_answer"))
      .string(KEY.pool, event.pool)
      .string(KEY.target, event.target)
      .bool(KEY.retried, event.retried).list,
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

/** Attributes in OTLP's KeyValue form, added one by one; an undefined value is left out. */
class Attributes {
  readonly list: KeyValue[] = [];

  string(key: string, value: string | undefined): this {
    if (value !== undefined) this.list.push({ key, value: { stringValue: value } });
    return this;
  }

  /** A 64-bit integer: a decimal string in OTLP JSON. */
  int(key: string, value: number | undefined): this {
    if (value !== undefined) this.list.push({ key, value: { intValue: String(Math.round(value)) } });
    return this;
  }

  double(key: string, value: number): this {
    this.list.push({ key, value: { doubleValue: value } });
    return this;
  }

  bool(key: string, value: boolean | undefined): this {
    if (value !== undefined) this.list.push({ key, value: { boolValue: value } });
    return this;
  }

  /** A one-element string array (`finish_reasons`). */
  strings(key: string, value: string | undefined): this {
    if (value !== undefined)
      this.list.push({ key, value: { arrayValue: { values: [{ stringValue: value }] } } });
    return this;
  }
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
