import { METRIC } from "./catalog";
import type { MetricsDelta } from "./delta";
import { zeros } from "./delta";

/** A pool's admission gauges as the aggregator sampled them. */
export interface PoolSample {
  inFlight: number;
  queued: number;
  limit: number;
  ceiling: number;
}

/** One pool's traffic in a slot: what its rate alerts judge. */
export interface PoolTraffic {
  /** Requests the pool answered (finished with this pool). */
  answered: number;
  upstream: number;
  /** Upstream attempts answered with a 5xx, or not at all. */
  upstream5xx: number;
  sheds: number;
}

/** One tenant's share of a slot (tenants past the configured number are folded into `other`). */
export interface TenantSlot {
  requests: number;
  costUsd: number;
  /** Latency histogram counts, as the slot's own. */
  ttft: number[];
  duration: number[];
}

/** What the fleet did in one time slot: the operator dashboard's and the rate alerts' input. */
export interface Slot {
  start: number;
  /** Finished requests by outcome. */
  requests: Record<string, number>;
  /** Answers with a 5xx status (the router's own or relayed). */
  errors: number;
  upstream: number;
  upstream429: number;
  upstream5xx: number;
  sheds: number;
  retries: number;
  fallbacks: number;
  cacheHits: number;
  cacheLookups: number;
  costUsd: number;
  savedUsd: number;
  /** Histogram counts over the latency buckets (+Inf last). */
  ttft: number[];
  duration: number[];
  tenants: Record<string, TenantSlot>;
  /** Last sample of each pool's gauges within the slot. */
  pools: Record<string, PoolSample>;
  traffic: Record<string, PoolTraffic>;
}

/** Two resolutions: ten-second slots for the last hour, five-minute slots for the last day. */
export const RESOLUTIONS = [
  { id: 0, slotMs: 10_000, keep: 360 },
  { id: 1, slotMs: 300_000, keep: 288 },
] as const;

export function emptySlot(start: number): Slot {
  const buckets = METRIC.duration.buckets.length + 1;
  return {
    start,
    requests: {},
    errors: 0,
    upstream: 0,
    upstream429: 0,
    upstream5xx: 0,
    sheds: 0,
    retries: 0,
    fallbacks: 0,
    cacheHits: 0,
    cacheLookups: 0,
    costUsd: 0,
    savedUsd: 0,
    ttft: zeros(buckets),
    duration: zeros(buckets),
    tenants: {},
    pools: {},
    traffic: {},
  };
}

export function slotStart(now: number, slotMs: number): number {
  return now - (now % slotMs);
}

/** Adds a (tenant-folded) delta into a slot. */
export function addToSlot(slot: Slot, delta: MetricsDelta): void {
  for (const { metric, labels, value } of delta.counters) {
    switch (metric) {
      case "requests": {
        const outcome = labels.outcome ?? "";
        slot.requests[outcome] = (slot.requests[outcome] ?? 0) + value;
        const cache = labels.cache;
        if (cache === "hit" || cache === "coalesced") slot.cacheHits += value;
        if (cache === "hit" || cache === "coalesced" || cache === "miss") slot.cacheLookups += value;
        tenantOf(slot, labels.tenant).requests += value;
        if (labels.pool !== "none") trafficOf(slot, labels.pool).answered += value;
        break;
      }
      case "responses":
        if (Number(labels.code) >= 500) slot.errors += value;
        break;
      case "upstreamResponses": {
        const code = Number(labels.code);
        const traffic = trafficOf(slot, labels.pool);
        slot.upstream += value;
        traffic.upstream += value;
        if (code === 429) slot.upstream429 += value;
        if (code >= 500 || code === 0) {
          slot.upstream5xx += value;
          traffic.upstream5xx += value;
        }
        break;
      }
      case "sheds":
        slot.sheds += value;
        trafficOf(slot, labels.pool).sheds += value;
        break;
      case "retries":
        slot.retries += value;
        break;
      case "fallbacks":
        slot.fallbacks += value;
        break;
      case "cost": {
        slot.costUsd += value;
        tenantOf(slot, labels.tenant).costUsd += value;
        break;
      }
      case "saved":
        slot.savedUsd += value;
        break;
    }
  }
  for (const { metric, labels, counts } of delta.histograms) {
    const into =
      metric === "ttft"
        ? slot.ttft
        : metric === "duration"
          ? slot.duration
          : metric === "tenantTtft"
            ? tenantOf(slot, labels.tenant).ttft
            : metric === "tenantDuration"
              ? tenantOf(slot, labels.tenant).duration
              : undefined;
    if (!into) continue;
    for (const [i, n] of counts.entries()) into[i] = (into[i] ?? 0) + n;
  }
}

function tenantOf(slot: Slot, tenant = ""): TenantSlot {
  return ownEntry(slot.tenants, tenant, () => {
    const buckets = METRIC.duration.buckets.length + 1;
    return { requests: 0, costUsd: 0, ttft: zeros(buckets), duration: zeros(buckets) };
  });
}

function trafficOf(slot: Slot, pool = ""): PoolTraffic {
  return ownEntry(slot.traffic, pool, () => ({ answered: 0, upstream: 0, upstream5xx: 0, sheds: 0 }));
}

/**
 * `record`'s own entry for `key`, made when absent. Slots are plain objects (they are stored as JSON),
 * so a key such as `__proto__` must be read and written as an own property, never through the prototype.
 */
function ownEntry<T>(record: Record<string, T>, key: string, create: () => T): T {
  if (Object.hasOwn(record, key)) return record[key] as T;
  const entry = create();
  Object.defineProperty(record, key, { value: entry, enumerable: true, writable: true, configurable: true });
  return entry;
}

/**
 * The q-quantile (0..1) of bucket counts, in seconds, interpolated linearly within the bucket as
 * Prometheus's histogram_quantile does; the +Inf bucket reports the largest finite bound.
 */
export function quantile(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    if (seen + n >= rank && n > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1] as number;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return lower + (upper - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return bounds[bounds.length - 1] as number;
}
