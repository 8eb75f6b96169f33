/**
 * Every metric the router exports: name, type, help and label names, in the order /metrics lists
 * them. Histograms have fixed buckets (seconds, upper bounds) so deltas from any isolate add up.
 */
export type Labels = Readonly<Record<string, string>>;

export interface MetricSpec {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
  labels: readonly string[];
  /** Histograms only: bucket upper bounds in seconds, ascending; +Inf is implicit. */
  buckets?: readonly number[];
}

const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
const OVERHEAD_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25] as const;

export const METRIC = {
  requests: {
    name: "router_requests_total",
    type: "counter",
    help: "Inference requests finished, by pool, model, type, tenant, outcome and cache result.",
    labels: ["pool", "model", "type", "tenant", "outcome", "cache"],
  },
  responses: {
    name: "router_responses_total",
    type: "counter",
    help: "HTTP statuses the router answered inference requests with, by the pool that answered (none: no pool did).",
    labels: ["pool", "code"],
  },
  upstreamResponses: {
    name: "router_upstream_responses_total",
    type: "counter",
    help: "Upstream attempts by pool and the status the upstream answered (0: no answer).",
    labels: ["pool", "code"],
  },
  retries: {
    name: "router_retries_total",
    type: "counter",
    help: "Attempts retried within a pool.",
    labels: ["pool"],
  },
  fallbacks: {
    name: "router_fallbacks_total",
    type: "counter",
    help: "Requests that moved from one pool to the plan's next.",
    labels: ["from", "to"],
  },
  degrades: {
    name: "router_degrades_total",
    type: "counter",
    help: "Requests served by a degraded plan step.",
    labels: ["pool", "how"],
  },
  sheds: {
    name: "router_sheds_total",
    type: "counter",
    help: "Admission refusals by pool and reason.",
    labels: ["pool", "reason"],
  },
  breakerOpens: {
    name: "router_breaker_opened_total",
    type: "counter",
    help: "Times a target's circuit breaker opened, as seen by any isolate.",
    labels: ["pool", "target"],
  },
  tokens: {
    name: "router_tokens_total",
    type: "counter",
    help: "Tokens by pool, model, tenant and direction (input, output, cache_hit).",
    labels: ["pool", "model", "tenant", "direction"],
  },
  cost: {
    name: "router_cost_usd_total",
    type: "counter",
    help: "Upstream cost in USD at the prices in force when each request ended.",
    labels: ["model", "tenant"],
  },
  saved: {
    name: "router_saved_usd_total",
    type: "counter",
    help: "USD the upstream would have billed for answers the prompt cache served.",
    labels: ["tenant"],
  },
  alertsSent: {
    name: "router_alerts_total",
    type: "counter",
    help: "Alerts raised (queued for delivery), by kind.",
    labels: ["kind"],
  },
  alertsSuppressed: {
    name: "router_alerts_suppressed_total",
    type: "counter",
    help: "Alerts dropped by deduplication or the hourly cap, by kind.",
    labels: ["kind"],
  },
  ttft: {
    name: "router_time_to_first_token_seconds",
    type: "histogram",
    help: "From sending upstream to the first token (non-streamed: the whole answer).",
    labels: ["pool"],
    buckets: LATENCY_BUCKETS,
  },
  duration: {
    name: "router_request_duration_seconds",
    type: "histogram",
    help: "From receiving a request to its last byte.",
    labels: ["pool"],
    buckets: LATENCY_BUCKETS,
  },
  tenantTtft: {
    name: "router_tenant_time_to_first_token_seconds",
    type: "histogram",
    help: "Time to first token per tenant (tenants past the configured number are 'other').",
    labels: ["tenant"],
    buckets: LATENCY_BUCKETS,
  },
  tenantDuration: {
    name: "router_tenant_request_duration_seconds",
    type: "histogram",
    help: "Request duration per tenant (tenants past the configured number are 'other').",
    labels: ["tenant"],
    buckets: LATENCY_BUCKETS,
  },
  queueWait: {
    name: "router_queue_wait_seconds",
    type: "histogram",
    help: "Time an attempt waited for an admission slot and between retries.",
    labels: ["pool"],
    buckets: WAIT_BUCKETS,
  },
  overhead: {
    name: "router_overhead_seconds",
    type: "histogram",
    help: "The router's own time per request, waits on the upstream and the queue excluded.",
    labels: [],
    buckets: OVERHEAD_BUCKETS,
  },
  poolInFlight: {
    name: "router_pool_in_flight",
    type: "gauge",
    help: "Leases held per pool across its gates, read at scrape time.",
    labels: ["pool"],
  },
  poolQueued: {
    name: "router_pool_queued",
    type: "gauge",
    help: "Requests waiting for a slot per pool, read at scrape time.",
    labels: ["pool"],
  },
  poolLimit: {
    name: "router_pool_limit",
    type: "gauge",
    help: "Effective (adaptive) concurrency limit per pool, read at scrape time.",
    labels: ["pool"],
  },
  poolCeiling: {
    name: "router_pool_ceiling",
    type: "gauge",
    help: "Configured concurrency ceiling per pool.",
    labels: ["pool"],
  },
  spendUpstream: {
    name: "router_reconcile_upstream_usd",
    type: "gauge",
    help: "USD the upstream accounts' balances fell by since reconciliation began.",
    labels: [],
  },
  spendRecorded: {
    name: "router_reconcile_recorded_usd",
    type: "gauge",
    help: "USD the router recorded over the same period.",
    labels: [],
  },
  spendDrift: {
    name: "router_reconcile_drift_ratio",
    type: "gauge",
    help: "(upstream - recorded) / upstream: positive when the router under-counts what it is billed.",
    labels: [],
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricId = keyof typeof METRIC;

/** The tenant label value that absorbs every tenant past the configured number. */
export const OTHER_TENANT = "other";
