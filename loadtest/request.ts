import { type RequestSpec, requestClass } from "./mix";
import { decodeTokensPerSecond, isRecord, readSseStream } from "./sse";

/**
 * How a request ended. `shed` is a 429 (the router's or the upstream's load shedding) and is kept
 * apart from other errors; `truncated` is a 200 whose stream ended without `[DONE]` (or an empty body);
 * `stream_error` is a 200 stream that carried an `{"error":…}` event.
 */
export const OUTCOME_KINDS = [
  "ok",
  "shed",
  "client_error",
  "server_error",
  "truncated",
  "stream_error",
  "network_error",
  "timeout",
] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

/** What the router said about the request in its response headers. */
export interface RouterHeaders {
  queueMs?: number;
  overheadMs?: number;
  /** `x-router-cache`: HIT, MISS, BYPASS, COALESCED. */
  cache?: string;
  model?: string;
  pool?: string;
  requestId?: string;
}

/** One request's measurements. Latencies are ms from `scheduledMs`, never from the actual send. */
export interface RequestOutcome {
  seq: number;
  class: string;
  type: RequestSpec["type"];
  stream: boolean;
  repeat: boolean;
  priority?: string;
  tenant: string;
  /** Scheduled send time, ms since the run started. */
  scheduledMs: number;
  /** How late the request actually left: generator lag plus any wait for an in-flight slot. */
  lagMs: number;
  /** 0 when no response arrived. */
  status: number;
  kind: OutcomeKind;
  retryAfterPresent: boolean;
  retryAfterS?: number;
  ttfbMs?: number;
  ttftMs?: number;
  totalMs: number;
  gapsMs: number[];
  outputTokens?: number;
  tokensPerS?: number;
  keepAlives: number;
  router: RouterHeaders;
  error?: string;
}

export interface RequestContext {
  baseUrl: string;
  key: string;
  timeoutMs: number;
  /** Monotonic ms clock shared with the scheduler. */
  now(): number;
  fetch: typeof fetch;
  /** Aborts everything at the run's hard stop. */
  signal?: AbortSignal;
}

/**
 * Sends one request and reads its response to the end. `scheduledAt` and `runStart` are on the
 * `ctx.now()` clock. Never throws: every failure becomes an outcome.
 */
export async function executeRequest(
  spec: RequestSpec,
  ctx: RequestContext,
  scheduledAt: number,
  runStart: number,
): Promise<RequestOutcome> {
  const sentAt = ctx.now();
  const since = () => ctx.now() - scheduledAt;
  const base: RequestOutcome = {
    seq: spec.seq,
    class: requestClass(spec),
    type: spec.type,
    stream: spec.stream,
    repeat: spec.repeat,
    priority: spec.priority,
    tenant: spec.tenant,
    scheduledMs: scheduledAt - runStart,
    lagMs: Math.max(0, sentAt - scheduledAt),
    status: 0,
    kind: "network_error",
    retryAfterPresent: false,
    totalMs: 0,
    gapsMs: [],
    keepAlives: 0,
    router: {},
  };
  const timeout = AbortSignal.timeout(ctx.timeoutMs);
  const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;
  try {
    const res = await ctx.fetch(joinUrl(ctx.baseUrl, spec.path), {
      method: spec.method ?? "POST",
      headers: { ...spec.headers, authorization: `Bearer ${spec.key ?? ctx.key}` },
      body: spec.method === "GET" ? undefined : JSON.stringify(spec.body),
      signal,
    });
    const out: RequestOutcome = {
      ...base,
      status: res.status,
      ttfbMs: since(),
      router: routerHeaders(res.headers),
    };
    const retryAfter = res.headers.get("retry-after");
    out.retryAfterPresent = retryAfter !== null;
    out.retryAfterS = retryAfter === null ? undefined : parseRetryAfter(retryAfter, Date.now());
    if (!res.ok) {
      out.error = (await res.text().catch(() => "")).slice(0, 300);
      out.kind = statusKind(res.status);
    } else if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) {
      await readStreamInto(out, res, scheduledAt, ctx);
    } else {
      readJsonInto(out, await res.text());
    }
    out.totalMs = since();
    if (!out.stream && out.kind === "ok" && out.outputTokens && out.totalMs > out.lagMs) {
      out.tokensPerS = (out.outputTokens * 1000) / (out.totalMs - out.lagMs);
    }
    if (out.kind !== "ok" && signal.aborted) {
      out.kind = "timeout";
      out.error = abortReason(timeout);
    }
    return out;
  } catch (err) {
    return {
      ...base,
      totalMs: since(),
      kind: signal.aborted ? "timeout" : "network_error",
      error: signal.aborted ? abortReason(timeout) : err instanceof Error ? err.message : String(err),
    };
  }
}

function abortReason(timeout: AbortSignal): string {
  return timeout.aborted ? "request timeout" : "cut at the run's hard stop";
}

function statusKind(status: number): OutcomeKind {
  if (status === 429) return "shed";
  if (status >= 500) return "server_error";
  if (status >= 200 && status < 300) return "ok";
  return "client_error";
}

/** Retry-After in seconds: delta-seconds or an HTTP date; undefined when unparseable. */
export function parseRetryAfter(value: string, nowEpochMs: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - nowEpochMs) / 1000);
}

function routerHeaders(h: Headers): RouterHeaders {
  const n = (name: string) => {
    const v = h.get(name);
    const parsed = v === null ? Number.NaN : Number.parseFloat(v);
    return Number.isFinite(parsed) ? parsed : undefined;
  };
  return {
    queueMs: n("x-router-queue-ms"),
    overheadMs: n("x-router-overhead-ms"),
    cache: h.get("x-router-cache")?.toUpperCase() ?? undefined,
    model: h.get("x-router-model") ?? undefined,
    pool: h.get("x-router-pool") ?? undefined,
    requestId: h.get("x-request-id") ?? undefined,
  };
}

function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

async function readStreamInto(out: RequestOutcome, res: Response, scheduledAt: number, ctx: RequestContext) {
  const stats = await readSseStream(res.body, { startMs: scheduledAt, now: ctx.now });
  out.ttftMs = stats.ttftMs;
  out.gapsMs = stats.gapsMs;
  out.keepAlives = stats.keepAlives;
  out.outputTokens = stats.usage?.completionTokens;
  out.tokensPerS = decodeTokensPerSecond(stats);
  if (stats.error) {
    out.kind = "stream_error";
    out.error = stats.error.message;
  } else if (stats.readError) {
    out.kind = "network_error";
    out.error = stats.readError;
  } else if (stats.truncated) {
    out.kind = "truncated";
    out.error = "stream ended without [DONE]";
  } else {
    out.kind = "ok";
  }
}

function readJsonInto(out: RequestOutcome, text: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    out.kind = "truncated";
    out.error = text.trim() === "" ? "empty 200 body" : "200 body is not JSON";
    return;
  }
  if (isRecord(parsed) && isRecord(parsed.error)) {
    out.kind = "stream_error";
    out.error = typeof parsed.error.message === "string" ? parsed.error.message : "error body";
    return;
  }
  out.kind = "ok";
  const usage = isRecord(parsed) && isRecord(parsed.usage) ? parsed.usage : undefined;
  const tokens = usage && typeof usage.completion_tokens === "number" ? usage.completion_tokens : undefined;
  out.outputTokens = tokens;
  out.keepAlives = (/^\s*/.exec(text)?.[0].match(/\n/g) ?? []).length;
}
