import { seededRng } from "../../loadtest/rng";
import { type LocalStack, startLocalStack } from "../../scripts/stack";
import type { SimStats } from "../../sim/stats";
import { costUsd, ratesAt } from "../../src/classify/price";
import { DEEPSEEK_PRICES } from "../../src/config/prices";
import { compareRows, formatRatio, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";

/** The workload is priced as if sent on a weekday at peak (02:00 UTC), and its batch at 04:00 UTC. */
const PEAK_AT = Date.parse("2026-11-30T02:00:00Z");
const OFF_PEAK_AT = Date.parse("2026-11-30T04:00:00Z");
const NAIVE_MODEL = "deepseek-v4-pro";

type Kind = "chat" | "reasoning" | "background";
interface Job {
  kind: Kind;
  prompt: string;
  repeat: boolean;
}

interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_cache_hit_tokens?: number;
}

interface Tally {
  requests: number;
  succeeded: number;
  usd: number;
  upstreamCalls: number;
}

/**
 * Seeded: 10% background work that can wait, 20% that needs reasoning, the rest chat; 30% of the
 * interactive requests repeat an earlier interactive prompt exactly.
 */
function workload(n: number, run: string): Job[] {
  const rng = seededRng(15);
  const jobs: Job[] = [];
  for (let i = 0; i < n; i++) {
    const draw = rng();
    const kind: Kind = draw < 0.1 ? "background" : draw < 0.3 ? "reasoning" : "chat";
    const earlier = jobs.filter((job) => job.kind !== "background" && !job.repeat);
    if (kind !== "background" && earlier.length > 0 && rng() < 0.3) {
      const pick = earlier[Math.floor(rng() * earlier.length)] as Job;
      jobs.push({ ...pick, repeat: true });
      continue;
    }
    const prompt =
      kind === "reasoning"
        ? `${run} #${i}: prove step by step that the sum of two odd numbers is even, then generalise.`
        : `${run} #${i}: summarise what an edge router does for an API, in two sentences.`;
    jobs.push({ kind, prompt, repeat: false });
  }
  return jobs;
}

function body(job: Job, model: string) {
  return {
    model,
    messages: [{ role: "user", content: job.prompt }],
    thinking: { type: job.kind === "reasoning" ? "enabled" : "disabled" },
    temperature: 0,
    max_tokens: 400,
  };
}

function priced(model: string, usage: WireUsage | undefined, at: number): number {
  const rates = ratesAt(DEEPSEEK_PRICES[model] ?? [], at);
  if (!rates || !usage) return 0;
  const hit = usage.prompt_cache_hit_tokens ?? 0;
  return costUsd(
    {
      cacheHitTokens: hit,
      cacheMissTokens: (usage.prompt_tokens ?? 0) - hit,
      outputTokens: usage.completion_tokens ?? 0,
    },
    rates.rates,
  );
}

async function simStats(stack: LocalStack): Promise<SimStats> {
  return (await (await fetch(`${stack.simUrl}/_sim/stats`)).json()) as SimStats;
}

/** Runs `work` over `items`, `concurrency` at a time. */
async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Everything to deepseek-v4-pro, straight at the upstream, at peak: what a team without a router pays. */
async function naive(stack: LocalStack, jobs: readonly Job[]): Promise<Tally> {
  const tally: Tally = { requests: jobs.length, succeeded: 0, usd: 0, upstreamCalls: 0 };
  const before = await simStats(stack);
  await pool(jobs, 8, async (job) => {
    const response = await fetch(`${stack.simUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-bench-upstream" },
      body: JSON.stringify(body(job, NAIVE_MODEL)),
    });
    if (!response.ok) return void (await response.body?.cancel());
    tally.succeeded++;
    const json = (await response.json()) as { usage?: WireUsage };
    tally.usd += priced(NAIVE_MODEL, json.usage, PEAK_AT);
  });
  tally.upstreamCalls = (await simStats(stack)).requests - before.requests;
  return tally;
}

/** Interactive work through the router with `auto` and the cache; background work as an off-peak batch. */
async function routed(stack: LocalStack, jobs: readonly Job[]): Promise<Tally & { batchSavedUsd: number }> {
  const tally = { requests: jobs.length, succeeded: 0, usd: 0, upstreamCalls: 0, batchSavedUsd: 0 };
  const before = await simStats(stack);
  const auth = { authorization: `Bearer ${stack.routerKey}` };
  const background = jobs.filter((job) => job.kind === "background");
  const batch = submitBatch(stack, background);
  await pool(
    jobs.filter((job) => job.kind !== "background"),
    8,
    async (job) => {
      const response = await fetch(`${stack.routerUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify(body(job, "auto")),
      });
      if (!response.ok) return void (await response.body?.cancel());
      tally.succeeded++;
      const json = (await response.json()) as { usage?: WireUsage };
      const cache = response.headers.get("x-router-cache");
      // A hit or a coalesced answer never reached the upstream: nothing billed.
      if (cache === "HIT" || cache === "COALESCED") return;
      tally.usd += priced(response.headers.get("x-router-model") ?? "", json.usage, PEAK_AT);
    },
  );
  const lines = await batch;
  for (const line of lines) {
    if (line.response?.status_code !== 200) continue;
    tally.succeeded++;
    const answer = line.response.body;
    const offPeak = priced(answer.model, answer.usage, OFF_PEAK_AT);
    tally.usd += offPeak;
    tally.batchSavedUsd += priced(answer.model, answer.usage, PEAK_AT) - offPeak;
  }
  tally.upstreamCalls = (await simStats(stack)).requests - before.requests;
  return tally;
}

interface OutputLine {
  response?: { status_code: number; body: { model: string; usage?: WireUsage } };
}

/**
 * The background work as one batch. The benchmark cannot wait for off-peak hours, so it asks for
 * `{"schedule": "now"}` and prices the lines at the off-peak rates of the boundary an off-peak batch
 * submitted at peak would start at (tests show that start).
 */
async function submitBatch(stack: LocalStack, jobs: readonly Job[]): Promise<OutputLine[]> {
  const auth = { authorization: `Bearer ${stack.routerKey}` };
  const input = jobs
    .map((job, i) =>
      JSON.stringify({
        custom_id: `bg-${i}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: body(job, "auto"),
      }),
    )
    .join("\n");
  const form = new FormData();
  form.set("purpose", "batch");
  form.set("file", new File([input], "background.jsonl"));
  const file = (await (
    await fetch(`${stack.routerUrl}/v1/files`, { method: "POST", headers: auth, body: form })
  ).json()) as { id: string };
  const created = await fetch(`${stack.routerUrl}/v1/batches`, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { schedule: "now" },
    }),
  });
  const { id } = (await created.json()) as { id: string };
  const deadline = Date.now() + 120_000;
  for (;;) {
    const batch = (await (await fetch(`${stack.routerUrl}/v1/batches/${id}`, { headers: auth })).json()) as {
      status: string;
      output_file_id: string | null;
    };
    if (batch.status === "completed" && batch.output_file_id) {
      const content = await fetch(`${stack.routerUrl}/v1/files/${batch.output_file_id}/content`, {
        headers: auth,
      });
      return (await content.text())
        .split("\n")
        .filter((row) => row.trim() !== "")
        .map((row) => JSON.parse(row) as OutputLine);
    }
    if (Date.now() > deadline || ["failed", "expired", "cancelled"].includes(batch.status)) {
      throw new Error(`batch ${id} ended ${batch.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Issue 15: what the router saves on a mixed workload, against sending everything to the big model at peak. */
export const cost: BenchScenario = {
  name: "cost",
  title: "Cost: auto routing, the cache and off-peak batches vs everything to deepseek-v4-pro at peak",
  async run(ctx): Promise<BenchSection> {
    const n = ctx.quick ? 60 : 300;
    const stack = await startLocalStack({ sim: { ttftMs: 20, tokensPerS: 0 } });
    let results: { naive: Tally; router: Tally & { batchSavedUsd: number } };
    try {
      const run = `cost-${Date.now()}`;
      const direct = await naive(stack, workload(n, `${run}-naive`));
      ctx.log(`naive: $${direct.usd.toFixed(6)}, ${direct.succeeded}/${direct.requests} succeeded`);
      const router = await routed(stack, workload(n, `${run}-router`));
      ctx.log(`router: $${router.usd.toFixed(6)}, ${router.succeeded}/${router.requests} succeeded`);
      results = { naive: direct, router };
    } finally {
      await stack.close();
    }
    const { naive: base, router } = results;
    const share = ratio(router.usd, base.usd);
    const success = (t: Tally) => t.succeeded / t.requests;
    const usd = (v: number) => `$${v.toFixed(6)}`;
    const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
    const table = compareRows({
      metricColumn: "metric",
      variants: ["naive", "router"],
      baseline: "naive",
      metrics: [
        { label: "requests", values: { naive: base.requests, router: router.requests } },
        { label: "succeeded", values: { naive: base.succeeded, router: router.succeeded } },
        {
          label: "upstream calls (counted at the simulator)",
          values: { naive: base.upstreamCalls, router: router.upstreamCalls },
        },
        {
          label: "spend (USD, DeepSeek prices)",
          values: { naive: base.usd, router: router.usd },
          format: usd,
        },
      ],
    });
    return {
      title: cost.title,
      notes: [
        `${n} seeded requests: 10% background work that can wait, 20% that need reasoning (thinking on), the rest chat; 30% of the interactive requests repeat an earlier prompt; temperature 0, max_tokens 400; 8 in flight.`,
        `naive: every request to ${NAIVE_MODEL} straight at the simulator, priced at its peak rates (a weekday, 02:00 UTC) from the usage the simulator reported with each answer.`,
        "router: interactive requests with model `auto` through the router (cache on by policy for temperature 0), priced per answer at the served model's peak rates, hits and coalesced answers at 0; background work as one Batch API batch, priced at the off-peak rates of the 04:00 UTC boundary an off-peak batch submitted at 02:00 starts at (the run itself asks for schedule now: a benchmark cannot wait two hours).",
        `Off-peak batching saved ${usd(router.batchSavedUsd)} of the router's spend; success rate naive ${pct(success(base))}, router ${pct(success(router))}.`,
      ],
      ...table,
      goals: [
        { goal: "router spend ≤ 40% of naive", measured: formatRatio(share), met: share <= 0.4 },
        {
          goal: "equal success rate",
          measured: `${pct(success(router))} vs ${pct(success(base))}`,
          met: success(router) >= success(base),
        },
      ],
    };
  },
};
