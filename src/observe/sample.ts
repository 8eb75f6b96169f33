/**
 * What the request pipeline tells the metrics about: one finished request, and the events on its way
 * (retries, fallbacks, sheds, breaker trips). A leaf module, so the pipeline depends on this small
 * interface and never on how metrics are kept or shipped.
 */

/** One finished inference request, as metrics and Analytics Engine see it. No prompt text, no key. */
export interface RequestSample {
  requestId: string;
  tenant: string;
  pool?: string;
  model: string;
  /** The classifier's request type (chat, reasoning, fim, …). */
  type: string;
  stream: boolean;
  status: number;
  outcome: string;
  /** `x-router-cache` outcome when the cache was consulted (hit, miss, bypass, coalesced, …). */
  cache?: string;
  promptTokens: number;
  completionTokens: number;
  cacheHitTokens: number;
  costUsd: number;
  /** What a cache hit saved. */
  savedUsd: number;
  firstTokenMs?: number;
  totalMs: number;
  upstreamMs: number;
}

/** Something that happened on the way to an answer, counted where it happens. */
export type PipelineEvent =
  | { kind: "upstream_response"; pool: string; status: number }
  | { kind: "retry"; pool: string }
  | { kind: "fallback"; from: string; to: string }
  | { kind: "degrade"; pool: string; how: string }
  | { kind: "shed"; pool: string; reason: string }
  | { kind: "queue_wait"; pool: string; ms: number }
  | { kind: "breaker_open"; pool: string; target: string }
  | { kind: "router_overhead"; ms: number };

/** Where pipeline events go; `NO_METRICS` when nothing listens. Must be cheap and never throw. */
export interface MetricsSink {
  event(event: PipelineEvent): void;
}

export const NO_METRICS: MetricsSink = { event() {} };
