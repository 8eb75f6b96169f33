import type { GateLoad } from "./types";

/** The Durable Object name of shard `index` of `pool`. */
export function gateName(pool: string, index: number): string {
  return `${pool}#${index}`;
}

/** Shard `index`'s part of `total` split over `shards`; the remainder goes to the first shards. */
export function shareOf(total: number, shards: number, index: number): number {
  const base = Math.floor(total / shards);
  return base + (index < total % shards ? 1 : 0);
}

/**
 * A tenant's concurrency limit at one shard: its share, but at least one slot, so a tenant with a
 * limit below the shard count is not locked out of the shards that got no share. A sharded pool can
 * therefore admit a small tenant up to `shards` requests; with one shard the limit is exact.
 */
export function tenantShareOf(limit: number, shards: number, index: number): number {
  return Math.max(1, shareOf(limit, shards, index));
}

/** How full a gate looks: waiting and in-flight requests per slot of its limit. */
function pressure(load: GateLoad | undefined): number {
  if (!load) return 0;
  return (load.inFlight + load.queued) / Math.max(1, load.limit);
}

/**
 * Power of two choices: two distinct shards at random, the less loaded one wins. Loads are what this
 * isolate last heard from each gate (unknown counts as empty, which also makes a cold isolate explore).
 * Two random choices already cut the worst shard's excess load from O(log n / log log n) to
 * O(log log n) compared with one, without any shard-wide coordination.
 */
export function pickShard(loads: ReadonlyArray<GateLoad | undefined>, random: () => number): number {
  const n = loads.length;
  if (n <= 1) return 0;
  const first = Math.floor(random() * n);
  const second = (first + 1 + Math.floor(random() * (n - 1))) % n;
  return pressure(loads[second]) < pressure(loads[first]) ? second : first;
}
