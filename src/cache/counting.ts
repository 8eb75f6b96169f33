import { type CacheCounters, StatsBuffer, zeroCounters } from "./stats";

const buffer = new StatsBuffer();
const writing = new Set<Promise<void>>();

/**
 * Counts a cache event for `tenant`. Counts are buffered in the isolate and written to the tenant's
 * CacheStats object at most once a second, off the response path (`background` is `waitUntil`). Counts
 * still buffered when an isolate is evicted are lost: at most its last second of one tenant's events.
 */
export function countCache(
  env: Env,
  background: (work: Promise<unknown>) => void,
  tenant: string,
  delta: Partial<CacheCounters>,
): void {
  const batch = buffer.record(tenant, delta, Date.now());
  if (batch) background(write(env, tenant, batch));
}

/** Writes what this isolate still buffers and waits for writes under way, e.g. before a stats read. */
export async function flushCacheCounts(env: Env): Promise<void> {
  for (const [tenant, batch] of buffer.drain()) void write(env, tenant, batch);
  await Promise.all([...writing]);
}

/** Each tenant's counters as its CacheStats object holds them. */
export async function readCacheCounts(
  env: Env,
  tenants: readonly string[],
): Promise<Record<string, CacheCounters>> {
  const counts = await Promise.all(
    tenants.map(async (tenant) => [tenant, await env.CACHE_STATS.getByName(tenant).read()] as const),
  );
  const result: Record<string, CacheCounters> = {};
  for (const [tenant, counters] of counts) result[tenant] = { ...zeroCounters(), ...counters };
  return result;
}

function write(env: Env, tenant: string, batch: CacheCounters): Promise<void> {
  const work = env.CACHE_STATS.getByName(tenant)
    .add(batch)
    .catch((error: unknown) => {
      console.error(JSON.stringify({ event: "cache_stats_write_failed", tenant, error: String(error) }));
    })
    .finally(() => writing.delete(work));
  writing.add(work);
  return work;
}
