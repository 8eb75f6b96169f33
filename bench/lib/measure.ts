import type { Histogram } from "../../loadtest/histogram";
import { ClassMetrics, type KindCounts } from "../../loadtest/metrics";
import type { RequestSpec } from "../../loadtest/mix";
import { executeRequest, type RequestContext } from "../../loadtest/request";
import { type Distribution, distribution } from "./stats";

interface MeasureOptions {
  baseUrl: string;
  /** Default /v1/chat/completions. */
  path?: string;
  /** Default POST; a GET sends no body. */
  method?: "GET" | "POST";
  /** Bearer key; default sk-local-dev. */
  key?: string;
  /** The body, or a function of the request index (warm-up requests come first, from 0). */
  body: Record<string, unknown> | ((i: number) => Record<string, unknown>);
  headers?: Record<string, string>;
  /** Measured requests. */
  n: number;
  /** Requests kept in flight at once (closed loop). */
  concurrency: number;
  /** Requests sent before measuring, at the same concurrency, and discarded. */
  warmup?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface Measurement {
  n: number;
  ok: number;
  kinds: KindCounts;
  statuses: Record<string, number>;
  wallMs: number;
  /** Completed requests per second of wall time. */
  rps: number;
  /** Latency of successful requests, from send to the last byte. */
  latencyMs: Distribution;
  /** To response headers. */
  ttfbMs: Distribution;
  /** To the first token (streams only). */
  ttftMs: Distribution;
  gapMs: Distribution;
  /** The router's own `x-router-overhead-ms`, when present. */
  overheadMs: Distribution;
  cache: Record<string, number>;
  histograms: { latency: Histogram; ttfb: Histogram; ttft: Histogram };
  /** A few error messages, for the notes. */
  errors: string[];
}

/** Fires `n` requests at fixed concurrency (after an optional warm-up) and returns their distributions. */
export async function measureRequests(opts: MeasureOptions): Promise<Measurement> {
  const now = () => performance.now();
  const ctx: RequestContext = {
    baseUrl: opts.baseUrl,
    key: opts.key ?? "sk-local-dev",
    timeoutMs: opts.timeoutMs ?? 60_000,
    now,
    fetch: opts.fetch ?? fetch,
  };
  const warmup = opts.warmup ?? 0;
  const spec = (i: number): RequestSpec => {
    const body = typeof opts.body === "function" ? opts.body(i) : opts.body;
    return {
      seq: i,
      type: "chat",
      stream: body.stream === true,
      repeat: false,
      tenant: "bench",
      path: opts.path ?? "/v1/chat/completions",
      method: opts.method,
      headers: { "content-type": "application/json", ...opts.headers },
      body,
    };
  };
  const discard = new ClassMetrics();
  await closedLoop(0, warmup, opts.concurrency, spec, ctx, discard, now);
  const metrics = new ClassMetrics();
  const errors: string[] = [];
  const t0 = now();
  await closedLoop(warmup, warmup + opts.n, opts.concurrency, spec, ctx, metrics, now, errors);
  const wallMs = now() - t0;
  return {
    n: metrics.requests,
    ok: metrics.kinds.ok,
    kinds: { ...metrics.kinds },
    statuses: { ...metrics.statuses },
    wallMs,
    rps: wallMs > 0 ? (metrics.requests * 1000) / wallMs : 0,
    latencyMs: distribution(metrics.totalMs),
    ttfbMs: distribution(metrics.ttfbMs),
    ttftMs: distribution(metrics.ttftMs),
    gapMs: distribution(metrics.gapMs),
    overheadMs: distribution(metrics.routerOverheadMs),
    cache: { ...metrics.cache },
    histograms: { latency: metrics.totalMs, ttfb: metrics.ttfbMs, ttft: metrics.ttftMs },
    errors,
  };
}

async function closedLoop(
  from: number,
  to: number,
  concurrency: number,
  spec: (i: number) => RequestSpec,
  ctx: RequestContext,
  into: ClassMetrics,
  now: () => number,
  errors?: string[],
): Promise<void> {
  let next = from;
  const start = now();
  const worker = async () => {
    for (let i = next++; i < to; i = next++) {
      const o = await executeRequest(spec(i), ctx, now(), start);
      into.record(o);
      if (o.kind !== "ok" && errors && errors.length < 5)
        errors.push(`${o.kind} ${o.status}: ${o.error ?? ""}`.trim());
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, to - from)) }, worker));
}
