/** The cache's counters, per tenant (the requesting tenant, also for entries in a shared scope). */
export interface CacheCounters {
  hits: number;
  misses: number;
  bypasses: number;
  coalesced: number;
  refreshes: number;
  /** Entries written, and their size. */
  stores: number;
  bytesStored: number;
  /** Complete answers not stored: too large, cut short, served by a fallback step. */
  notStored: number;
  /** Bytes sent from the cache to callers (hits). */
  bytesServed: number;
  /** What the hits and coalesced answers would have cost upstream, at the prices in force. */
  savedUsd: number;
}

export const COUNTER_NAMES = [
  "hits",
  "misses",
  "bypasses",
  "coalesced",
  "refreshes",
  "stores",
  "bytesStored",
  "notStored",
  "bytesServed",
  "savedUsd",
] as const satisfies ReadonlyArray<keyof CacheCounters>;

export function zeroCounters(): CacheCounters {
  return {
    hits: 0,
    misses: 0,
    bypasses: 0,
    coalesced: 0,
    refreshes: 0,
    stores: 0,
    bytesStored: 0,
    notStored: 0,
    bytesServed: 0,
    savedUsd: 0,
  };
}

export function addCounters(into: CacheCounters, delta: Partial<CacheCounters>): CacheCounters {
  for (const name of COUNTER_NAMES) into[name] += delta[name] ?? 0;
  return into;
}

/** How often one isolate writes one tenant's counters at most. */
const FLUSH_INTERVAL_MS = 1_000;

/**
 * Counts buffered in an isolate and written to the tenant's CacheStats object at most once a second,
 * so a hot tenant costs one Durable Object write per isolate per second instead of one per request.
 * Pure: the caller passes `now` and performs the writes it is handed.
 */
export class StatsBuffer {
  private readonly pending = new Map<string, { counters: CacheCounters; flushedAt: number }>();

  /** Adds `delta`; returns the tenant's batch when it is due to be written now. */
  record(tenant: string, delta: Partial<CacheCounters>, now: number): CacheCounters | undefined {
    let slot = this.pending.get(tenant);
    if (!slot) {
      slot = { counters: zeroCounters(), flushedAt: Number.NEGATIVE_INFINITY };
      this.pending.set(tenant, slot);
    }
    addCounters(slot.counters, delta);
    if (now - slot.flushedAt < FLUSH_INTERVAL_MS) return undefined;
    const batch = slot.counters;
    slot.counters = zeroCounters();
    slot.flushedAt = now;
    return batch;
  }

  /** Everything not yet written, e.g. before a stats read. */
  drain(): Array<[string, CacheCounters]> {
    const batches: Array<[string, CacheCounters]> = [];
    for (const [tenant, slot] of this.pending) {
      if (COUNTER_NAMES.some((name) => slot.counters[name] !== 0)) batches.push([tenant, slot.counters]);
      slot.counters = zeroCounters();
    }
    return batches;
  }
}
