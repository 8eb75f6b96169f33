import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../../src/config/policy-source";
import { DEFAULT_ALERT_RULES } from "../../../src/observe/alerts";
import { DeltaRecorder } from "../../../src/observe/delta";
import type { RequestSample } from "../../../src/observe/sample";
import type { ObserveConfig } from "../../../src/observe/settings";
import { singlePoolPolicy } from "../helpers";

const CONFIG: ObserveConfig = { maxTenants: 2, rules: DEFAULT_ALERT_RULES, pools: {} };

/** An aggregator of its own: tests in a file share storage. */
function freshAggregator() {
  return env.METRICS.getByName(`test-${crypto.randomUUID()}`);
}

function sample(fields: Partial<RequestSample> = {}): RequestSample {
  return {
    requestId: crypto.randomUUID(),
    tenant: "acme",
    pool: "flash",
    model: "deepseek-v4-flash",
    type: "chat",
    stream: false,
    status: 200,
    outcome: "complete",
    cache: "miss",
    promptTokens: 10,
    completionTokens: 20,
    cacheHitTokens: 0,
    costUsd: 0.001,
    savedUsd: 0,
    firstTokenMs: 120,
    totalMs: 900,
    upstreamMs: 880,
    ...fields,
  };
}

function deltaOf(samples: RequestSample[]) {
  const recorder = new DeltaRecorder();
  for (const s of samples) recorder.request(s);
  return recorder.take();
}

describe("MetricsAggregator", () => {
  it("adds deltas from many isolates into one set of counters and histograms", async () => {
    const aggregator = freshAggregator();
    await aggregator.merge(deltaOf([sample(), sample()]), CONFIG);
    await aggregator.merge(deltaOf([sample({ firstTokenMs: 3_000 })]), CONFIG);
    const { counters, histograms } = await aggregator.snapshot();
    const requests = counters.find((c) => c.metric === "requests");
    expect(requests?.value).toBe(3);
    const ttft = histograms.find((h) => h.metric === "ttft");
    expect(ttft?.counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(ttft?.sum).toBeCloseTo(0.12 * 2 + 3, 6);
  });

  it("folds tenants beyond the configured number into 'other', keeping the first ones seen", async () => {
    const aggregator = freshAggregator();
    const tenants = ["t1", "t2", "t3", "t4", "t1"];
    await aggregator.merge(deltaOf(tenants.map((tenant) => sample({ tenant }))), CONFIG);
    const { counters } = await aggregator.snapshot();
    const byTenant = Object.fromEntries(
      counters.filter((c) => c.metric === "requests").map((c) => [c.labels.tenant, c.value]),
    );
    expect(byTenant).toEqual({ t1: 2, t2: 1, other: 2 });
  });

  it("keeps its counters through eviction, so Prometheus never sees a counter go down", async () => {
    const aggregator = freshAggregator();
    await aggregator.merge(deltaOf([sample(), sample()]), CONFIG);
    await evictDurableObject(aggregator);
    await aggregator.merge(deltaOf([sample()]), CONFIG);
    const { counters } = await aggregator.snapshot();
    expect(counters.find((c) => c.metric === "requests")?.value).toBe(3);
    const series = await aggregator.series(900_000);
    expect(series.slots.reduce((n, s) => n + (s.requests.complete ?? 0), 0)).toBe(3);
  });

  it("keeps a time series of slots with outcomes, cache hits, cost and latency buckets", async () => {
    const aggregator = freshAggregator();
    await aggregator.merge(
      deltaOf([
        sample({ cache: "hit", savedUsd: 0.002, costUsd: 0 }),
        sample({ outcome: "failed", status: 502 }),
        sample(),
      ]),
      CONFIG,
    );
    const { slotMs, slots } = await aggregator.series(3_600_000);
    expect(slotMs).toBe(10_000);
    const [slot] = slots;
    expect(slot?.requests).toEqual({ complete: 2, failed: 1 });
    expect(slot?.errors).toBe(1);
    expect([slot?.cacheHits, slot?.cacheLookups]).toEqual([1, 3]);
    expect(slot?.savedUsd).toBeCloseTo(0.002, 9);
    expect(slot?.duration.reduce((a, b) => a + b, 0)).toBe(3);
    expect((await aggregator.series(86_400_000)).slotMs).toBe(300_000);
  });

  it("keeps a tenant named like an object's own property (a tenant stored before such ids were refused) as its own entry", async () => {
    const aggregator = freshAggregator();
    await aggregator.merge(
      deltaOf([sample({ tenant: "__proto__" }), sample({ tenant: "constructor" })]),
      CONFIG,
    );
    const { slots } = await aggregator.series(3_600_000);
    expect(Object.keys(slots[0]?.tenants ?? {}).sort()).toEqual(["__proto__", "constructor"]);
    // Nothing leaked onto every object's prototype, and the tenant's own view reads its entry.
    expect(({} as Record<string, unknown>).requests).toBeUndefined();
    const own = await aggregator.tenantSeries("__proto__", 3_600_000);
    expect(own.slots.map((slot) => slot.requests)).toEqual([1]);
    expect((await aggregator.tenantSeries("toString", 3_600_000)).slots).toEqual([]);
  });

  it("samples pool gauges on its alarm", async () => {
    const aggregator = freshAggregator();
    const parsed = parsePolicy(JSON.parse(singlePoolPolicy("http://127.0.0.1:9", {}, "gauged")), "test", env);
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    const { pools } = parsed.value;
    await aggregator.merge(deltaOf([sample({ pool: "gauged" })]), { ...CONFIG, pools });
    expect(await runDurableObjectAlarm(aggregator)).toBe(true);
    const { slots } = await aggregator.series(900_000);
    expect(slots.at(-1)?.pools.gauged).toMatchObject({ inFlight: 0, queued: 0, ceiling: 100 });
  });
});
