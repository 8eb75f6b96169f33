import { createHash } from "node:crypto";
import { seededRng } from "../../loadtest/rng";
import { startLocalStack } from "../../scripts/stack";
import type { SimStats } from "../../sim/stats";
import { costUsd, ratesAt } from "../../src/classify/price";
import { DEEPSEEK_PRICES } from "../../src/config/prices";
import { type Measurement, measureRequests } from "../lib/measure";
import { compareRows, formatMs, formatRatio, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";

const MODEL = "deepseek-v4-flash";
const ADMIN_KEY = "sk-bench-admin";

const body = (prompt: string, stream: boolean) => ({
  model: MODEL,
  messages: [{ role: "user", content: prompt }],
  thinking: { type: "disabled" },
  temperature: 0,
  stream,
});

async function simStats(simUrl: string): Promise<SimStats> {
  return (await (await fetch(`${simUrl}/_sim/stats`)).json()) as SimStats;
}

/** What the simulator's counted tokens cost at DeepSeek's prices now: the upstream bill. */
function upstreamUsd(stats: SimStats): number {
  const rates = ratesAt(DEEPSEEK_PRICES[MODEL] ?? [], Date.now());
  if (!rates) return 0;
  return costUsd(
    {
      cacheHitTokens: stats.cacheHitTokens,
      cacheMissTokens: stats.promptTokens - stats.cacheHitTokens,
      outputTokens: stats.completionTokens,
    },
    rates.rates,
  );
}

/**
 * Issue 5: a cache hit against a miss and against the upstream itself, at the simulator's default timing
 * (200 ms to the first token, 80 tokens/s, 20-120 tokens per answer). Hits are sent one at a time, so
 * their figures are latency, not queueing.
 */
export const cacheLatency: BenchScenario = {
  name: "cache",
  title: "Prompt cache: hit vs miss vs direct upstream",
  async run(ctx): Promise<BenchSection> {
    const slow = ctx.quick ? 32 : 160;
    const hits = ctx.quick ? 300 : 2000;
    const stack = await startLocalStack();
    const run = `bench-${Date.now()}`;
    const results: Record<string, Measurement> = {};
    try {
      const common = { key: stack.routerKey, concurrency: 16, timeoutMs: 60_000 };
      results.direct = await measureRequests({
        ...common,
        baseUrl: stack.simUrl,
        body: (i) => body(`${run} direct ${i}: what does an edge cache do?`, true),
        n: slow,
      });
      ctx.log(`direct: p50 ${results.direct.latencyMs.p50.toFixed(1)} ms`);
      results.miss = await measureRequests({
        ...common,
        baseUrl: stack.routerUrl,
        body: (i) => body(`${run} miss ${i}: what does an edge cache do?`, true),
        n: slow,
      });
      ctx.log(
        `miss: p50 ${results.miss.latencyMs.p50.toFixed(1)} ms, cache ${JSON.stringify(results.miss.cache)}`,
      );
      for (const stream of [true, false]) {
        const prompt = `${run} hit ${stream}: what does an edge cache do?`;
        const m = await measureRequests({
          ...common,
          baseUrl: stack.routerUrl,
          concurrency: 1,
          body: body(prompt, stream),
          n: hits,
          warmup: 20,
        });
        results[stream ? "hit" : "hit (JSON)"] = m;
        ctx.log(
          `hit ${stream ? "stream" : "json"}: p50 ${m.latencyMs.p50.toFixed(2)} ms, cache ${JSON.stringify(m.cache)}`,
        );
      }
    } finally {
      await stack.close();
    }
    const variants = ["direct", "miss", "hit", "hit (JSON)"] as const;
    const pick = (f: (m: Measurement) => number) =>
      Object.fromEntries(variants.map((v) => [v, results[v] ? f(results[v]) : Number.NaN]));
    const table = compareRows({
      metricColumn: "metric",
      variants,
      baseline: "miss",
      metrics: [
        { label: "latency p50 (to last byte)", values: pick((m) => m.latencyMs.p50), format: formatMs },
        { label: "latency p99 (to last byte)", values: pick((m) => m.latencyMs.p99), format: formatMs },
        { label: "time to first token p50", values: pick((m) => m.ttftMs.p50), format: formatMs },
        {
          label: "router overhead p50 (x-router-overhead-ms)",
          values: pick((m) => m.overheadMs.p50),
          format: formatMs,
        },
      ],
    });
    const hit = results.hit?.latencyMs.p50 ?? Number.NaN;
    const speedup = ratio(results.miss?.latencyMs.p50 ?? Number.NaN, hit);
    const hitShare = (results.hit?.cache.HIT ?? 0) / (results.hit?.n || 1);
    return {
      title: cacheLatency.title,
      notes: [
        `direct and miss: ${slow} streamed requests each, 16 in flight, every prompt new; hits: ${hits} requests one at a time after 20 warm-up requests (${(hitShare * 100).toFixed(1)}% answered HIT).`,
        "Simulator at its default timing; router under Miniflare with direct sockets (workerd, KV and the Cache API in local mode), client and simulator in one Node process.",
        "Latency is send to last byte, so a miss includes the whole generated answer, as the caller waits for it; ratios are against the miss column.",
        "Repeated hits are served from the isolate's memory tier; x-router-overhead-ms reads ~0 for them because workerd advances its clock only across I/O and such a hit does none.",
      ],
      ...table,
      goals: [
        { goal: "hit p50 ≤ 2 ms locally", measured: formatMs(hit), met: hit <= 2 },
        { goal: "hit ≥ 20× faster than a miss (p50)", measured: formatRatio(speedup), met: speedup >= 20 },
      ],
    };
  },
};

/**
 * Issue 5: a workload where 30% of requests repeat an earlier prompt (some while the first is still in
 * flight, so they coalesce), run once with the cache switched off and once with it on.
 */
export const cacheWorkload: BenchScenario = {
  name: "cache-repeats",
  title: "Prompt cache: upstream calls and USD saved at 30% repeats",
  async run(ctx): Promise<BenchSection> {
    const n = ctx.quick ? 80 : 400;
    const digest = createHash("sha256").update(ADMIN_KEY).digest("hex");
    const stack = await startLocalStack({ vars: { ROUTER_ADMIN_KEY: digest } });
    const outcome: Record<string, { m: Measurement; calls: number; spent: number; distinct: number }> = {};
    let savedUsd = 0;
    try {
      for (const variant of ["no cache", "cache"] as const) {
        const rng = seededRng(5);
        const prompts: string[] = [];
        const promptOf = (i: number) => {
          if (prompts.length > 0 && rng() < 0.3) return prompts[Math.floor(rng() * prompts.length)] as string;
          const prompt = `${variant} ${Date.now()} question ${i}: how do edge caches stay consistent?`;
          prompts.push(prompt);
          return prompt;
        };
        const schedule = Array.from({ length: n }, (_, i) => promptOf(i));
        const before = await simStats(stack.simUrl);
        const m = await measureRequests({
          baseUrl: stack.routerUrl,
          key: stack.routerKey,
          body: (i) => body(schedule[i] as string, true),
          headers: variant === "cache" ? {} : { "x-router-cache": "off" },
          n,
          concurrency: 16,
          timeoutMs: 60_000,
        });
        const after = await simStats(stack.simUrl);
        const delta = {
          ...after,
          requests: after.requests - before.requests,
          promptTokens: after.promptTokens - before.promptTokens,
          cacheHitTokens: after.cacheHitTokens - before.cacheHitTokens,
          completionTokens: after.completionTokens - before.completionTokens,
        };
        outcome[variant] = { m, calls: delta.requests, spent: upstreamUsd(delta), distinct: prompts.length };
        ctx.log(`${variant}: ${delta.requests} upstream calls, cache ${JSON.stringify(m.cache)}`);
      }
      const stats = await fetch(`${stack.routerUrl}/admin/cache/stats`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      const json = (await stats.json()) as { total: { savedUsd: number } };
      savedUsd = json.total.savedUsd;
    } finally {
      await stack.close();
    }
    const off = outcome["no cache"];
    const on = outcome.cache;
    const both = (f: (o: { m: Measurement; calls: number; spent: number }) => number) => ({
      "no cache": off ? f(off) : Number.NaN,
      cache: on ? f(on) : Number.NaN,
    });
    const usd = (v: number) => `$${v.toFixed(6)}`;
    const table = compareRows({
      metricColumn: "metric",
      variants: ["no cache", "cache"],
      baseline: "no cache",
      metrics: [
        { label: "requests", values: both((o) => o.m.n) },
        { label: "upstream calls (counted at the simulator)", values: both((o) => o.calls) },
        { label: "answered HIT", values: both((o) => o.m.cache.HIT ?? 0) },
        { label: "answered COALESCED", values: both((o) => o.m.cache.COALESCED ?? 0) },
        { label: "upstream spend (USD)", values: both((o) => o.spent), format: usd },
        { label: "latency p50", values: both((o) => o.m.latencyMs.p50), format: formatMs },
        { label: "latency p99", values: both((o) => o.m.latencyMs.p99), format: formatMs },
      ],
    });
    const avoided = (off?.calls ?? 0) - (on?.calls ?? 0);
    const distinct = on?.distinct ?? Number.NaN;
    return {
      title: cacheWorkload.title,
      notes: [
        `${n} streamed temperature-0 requests, 16 in flight, 30% of them repeating an earlier prompt of the same run (seeded); simulator at its default timing.`,
        `Saved USD reported by the router (GET /admin/cache/stats, what hits and coalesced answers would have cost upstream): ${usd(savedUsd)}; upstream calls avoided: ${avoided}.`,
        "The no-cache run sends x-router-cache: off; spend prices the simulator's counted tokens at DeepSeek's deepseek-v4-flash prices at run time.",
      ],
      ...table,
      goals: [
        {
          goal: "every repeat answered without an upstream call",
          measured: `${on?.calls ?? "—"} upstream calls for ${distinct} distinct prompts in ${n} requests`,
          met: on?.calls === distinct,
        },
      ],
    };
  },
};
