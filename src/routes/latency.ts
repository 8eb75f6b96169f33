import { Hono } from "hono";
import type { AppEnv } from "../env";
import { METRIC } from "../observe/catalog";
import { zeros } from "../observe/delta";
import { FLEET, metrics } from "../observe/metrics";
import { quantile } from "../observe/series";
import { parseRange } from "./range";

export const LATENCY_PATHS = ["/v1/router/latency"] as const;

/**
 * `GET /v1/router/latency?range=15m|1h|24h`: the calling tenant's own time to first token and total
 * latency (p50/p99 over the range and per slot), and the limits that apply to it. Only its own
 * numbers: other tenants' never leave the aggregator.
 */
export const latency = new Hono<AppEnv>();

latency.get(LATENCY_PATHS[0], async (c) => {
  const { range, ms: rangeMs } = parseRange(c.req.query("range"), ["15m", "1h", "24h"]);
  const tenant = c.get("tenant");
  await metrics.flush(c.env, c.get("policy"));
  const view = await c.env.METRICS.getByName(FLEET).tenantSeries(tenant.id, rangeMs);
  const bounds = METRIC.duration.buckets;
  const ms = (counts: number[], q: number) => {
    const seconds = quantile(bounds, counts, q);
    return seconds === null ? null : Math.round(seconds * 1000);
  };
  const total = { ttft: zeros(bounds.length + 1), duration: zeros(bounds.length + 1) };
  for (const slot of view.slots) {
    for (const [i, n] of slot.ttft.entries()) total.ttft[i] = (total.ttft[i] ?? 0) + n;
    for (const [i, n] of slot.duration.entries()) total.duration[i] = (total.duration[i] ?? 0) + n;
  }
  return c.json({
    tenant: tenant.id,
    range,
    tracked: view.tracked,
    slotMs: view.slotMs,
    latency: {
      ttftP50Ms: ms(total.ttft, 0.5),
      ttftP99Ms: ms(total.ttft, 0.99),
      totalP50Ms: ms(total.duration, 0.5),
      totalP99Ms: ms(total.duration, 0.99),
    },
    series: view.slots.map((slot) => ({
      start: slot.start,
      requests: slot.requests,
      ttftP50Ms: ms(slot.ttft, 0.5),
      totalP50Ms: ms(slot.duration, 0.5),
      totalP99Ms: ms(slot.duration, 0.99),
    })),
    limits: {
      concurrencyPerPool: tenant.concurrency ?? null,
      maxPriority: tenant.maxPriority,
      allowDegrade: tenant.allowDegrade,
      cache: tenant.cache ?? "policy",
      cacheScope: tenant.cacheScope ?? "tenant",
    },
    /** The tenant's dollar budgets (UTC day and month); what remains is in /v1/usage's `limits`. */
    budget:
      tenant.limits?.usdPerDay === undefined && tenant.limits?.usdPerMonth === undefined
        ? null
        : { usdPerDay: tenant.limits.usdPerDay ?? null, usdPerMonth: tenant.limits.usdPerMonth ?? null },
  });
});
