import type { RequestSpec } from "../../loadtest/mix";
import { executeRequest, type RequestContext, type RequestOutcome } from "../../loadtest/request";
import { startLocalStack } from "../../scripts/stack";
import type { SimOptions } from "../../sim/options";
import { freeLoopbackPort } from "../lib/ports";
import { compareRows, distribution, formatMs } from "../lib/stats";
import { formatNumber } from "../lib/table";
import type { BenchContext, BenchScenario, BenchSection } from "../lib/types";

/** The simulator's account takes 16 streams at once and answers 429 to the 17th, like DeepSeek. */
const CAPACITY = 16;
/** Closed-loop clients: 4× what the upstream can serve at once. */
const CLIENTS = 4 * CAPACITY;
/** Of which high priority: half the capacity, so high alone never fills the pool. */
const HIGH_CLIENTS = CAPACITY / 2;
const SIM: Partial<SimOptions> = {
  concurrency: CAPACITY,
  overload: "reject429",
  ttftMs: 200,
  tokensPerS: 100,
  // Varied lengths (seeded), as real answers are; equal lengths would march closed-loop streams in step.
  minAnswerTokens: 40,
  maxAnswerTokens: 160,
};
/** Completions are counted only after this: the opening burst (64 requests at once) is not steady state. */
const WARMUP_S = 3;
/** What a client without a Retry-After does after a 429: the OpenAI SDK's first backoff, 0.5–1 s. */
const SDK_BACKOFF_MS = () => 500 + Math.random() * 500;

type Variant =
  | "direct"
  | "router"
  | "router, no blocks"
  | "router, 2 shards"
  | "ceiling 24, static"
  | "ceiling 24, adaptive";
const VARIANTS: readonly Variant[] = [
  "direct",
  "router",
  "router, no blocks",
  "router, 2 shards",
  "ceiling 24, static",
  "ceiling 24, adaptive",
];
/** The policy's ceiling: the real capacity, or (the case the adaptive limit exists for) 1.5× it. */
function ceilingOf(variant: Variant): number {
  return variant.startsWith("ceiling 24") ? 24 : CAPACITY;
}

interface VariantResult {
  outcomes: RequestOutcome[];
  seconds: number;
  upstream429: number;
  peakInFlight: number;
  /** x-router-queue-ms of uncontended requests: the acquire on the request path. */
  acquireMs: number[];
  /** The pool's effective limit when the run ended (GET /v1/router/pools). */
  limitAtEnd?: number;
}

export const overload: BenchScenario = {
  name: "overload",
  title: "Admission under 4× overload: router vs straight to the upstream",
  async run(ctx) {
    const seconds = ctx.quick ? 6 : 20;
    ctx.log(`calibrating: ${CAPACITY} clients straight to the simulator for ${seconds} s`);
    const calibration = await runVariant("direct", CAPACITY, seconds, ctx);
    const capacityPerS = okCount(calibration.outcomes) / calibration.seconds;
    const baseTtft = distribution(okOutcomes(calibration.outcomes).map((o) => o.ttftMs ?? 0)).p50;
    ctx.log(
      `capacity ${capacityPerS.toFixed(2)} answers/s, unloaded time to first token ${baseTtft.toFixed(0)} ms`,
    );

    const results = new Map<Variant, VariantResult>();
    for (const variant of VARIANTS) {
      ctx.log(
        `${variant}: ${CLIENTS} clients (${HIGH_CLIENTS} high priority), ${WARMUP_S} s warm-up + ${seconds} s`,
      );
      results.set(variant, await runVariant(variant, CLIENTS, seconds, ctx));
    }
    return report(results, capacityPerS, baseTtft, seconds);
  },
};

async function runVariant(
  variant: Variant,
  clients: number,
  seconds: number,
  ctx: BenchContext,
): Promise<VariantResult> {
  const simPort = await freeLoopbackPort();
  const simUrl = `http://127.0.0.1:${simPort}`;
  const stack = await startLocalStack({
    sim: SIM,
    simPort,
    vars: { ROUTER_POLICY: policy(simUrl, variant) },
  });
  try {
    const direct = variant === "direct";
    const base: Omit<RequestContext, "signal"> = {
      baseUrl: direct ? `${simUrl}/v1` : `${stack.routerUrl}/v1`,
      key: direct ? "sk-bench-direct-000000000000000000" : stack.routerKey,
      timeoutMs: 120_000,
      now: () => performance.now(),
      fetch,
    };
    const acquireMs = direct ? [] : await uncontended(base);
    const stop = new AbortController();
    const outcomes: RequestOutcome[] = [];
    const runStart = performance.now();
    const windowStart = runStart + WARMUP_S * 1000;
    const endAt = windowStart + seconds * 1000;
    const timer = setTimeout(() => stop.abort(), endAt - runStart);
    let seq = 0;
    const client = async (priority: "high" | "low") => {
      while (performance.now() < endAt) {
        const sentAt = performance.now();
        const outcome = await executeRequest(
          spec(seq++, priority),
          { ...base, signal: stop.signal },
          sentAt,
          runStart,
        );
        if (outcome.kind === "timeout") break;
        // Counted when it ended inside the window (steady state), however long ago it started.
        if (performance.now() >= windowStart) outcomes.push(outcome);
        if (outcome.status === 429 || outcome.status >= 500 || outcome.kind === "stream_error") {
          const wait = outcome.retryAfterS !== undefined ? outcome.retryAfterS * 1000 : SDK_BACKOFF_MS();
          await sleep(Math.min(wait, Math.max(0, endAt - performance.now())));
        }
      }
    };
    const high = clients === CAPACITY ? 0 : HIGH_CLIENTS;
    await Promise.all(Array.from({ length: clients }, (_, i) => client(i < high ? "high" : "low")));
    clearTimeout(timer);
    const stats = (await (await fetch(`${simUrl}/_sim/stats`)).json()) as {
      rejected429: number;
      peakInFlight: number;
    };
    ctx.log(
      `  ${okCount(outcomes)} answers, ${outcomes.length} responses, ${stats.rejected429} upstream 429s`,
    );
    const limitAtEnd = direct ? undefined : await effectiveLimit(stack.routerUrl, stack.routerKey);
    return {
      outcomes,
      seconds,
      upstream429: stats.rejected429,
      peakInFlight: stats.peakInFlight,
      acquireMs,
      limitAtEnd,
    };
  } finally {
    await stack.close();
  }
}

async function effectiveLimit(routerUrl: string, key: string): Promise<number> {
  const response = await fetch(`${routerUrl}/v1/router/pools`, {
    headers: { authorization: `Bearer ${key}` },
  });
  const { data } = (await response.json()) as { data: Array<{ limit: number }> };
  return data[0]?.limit ?? Number.NaN;
}

/** Sequential requests with nothing else in flight: x-router-queue-ms is then the acquire round trip. */
async function uncontended(base: Omit<RequestContext, "signal">): Promise<number[]> {
  const waits: number[] = [];
  for (let i = 0; i < 40; i++) {
    const probe = spec(-1 - i, "high");
    probe.body = { ...probe.body, max_tokens: 1 };
    const outcome = await executeRequest(probe, base, performance.now(), performance.now());
    if (i >= 10 && outcome.router.queueMs !== undefined) waits.push(outcome.router.queueMs);
  }
  return waits;
}

function policy(simUrl: string, variant: Variant): string {
  const pool = {
    provider: "deepseek",
    targets: [{ name: "sim", baseUrl: simUrl, keySecret: "DEEPSEEK_API_KEY" }],
    models: { "deepseek-v4-flash": "deepseek-v4-flash" },
    capabilities: ["tools", "json", "thinking"],
    concurrency: ceilingOf(variant),
    admission: {
      adaptive: variant === "ceiling 24, adaptive",
      shards: variant === "router, 2 shards" ? 2 : 1,
      leaseBlocks: variant !== "router, no blocks",
    },
  };
  return JSON.stringify({
    pools: { overload: pool },
    routes: { chat: ["overload"], code: ["overload"], reasoning: ["overload"] },
  });
}

function spec(seq: number, priority: "high" | "low"): RequestSpec {
  return {
    seq,
    type: "chat",
    stream: true,
    repeat: false,
    priority,
    tenant: "local",
    path: "/chat/completions",
    headers: { "content-type": "application/json", "x-router-priority": priority },
    body: {
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: `Request ${seq}: say something.` }],
      thinking: { type: "disabled" },
      stream: true,
    },
  };
}

function okOutcomes(outcomes: RequestOutcome[]): RequestOutcome[] {
  return outcomes.filter((o) => o.kind === "ok");
}

function okCount(outcomes: RequestOutcome[]): number {
  return okOutcomes(outcomes).length;
}

/** Time waiting for a slot, seen from the client: time to first token beyond the unloaded one. */
function queueWaits(outcomes: RequestOutcome[], priority: string, baseTtft: number): number[] {
  return okOutcomes(outcomes)
    .filter((o) => o.priority === priority && o.ttftMs !== undefined)
    .map((o) => Math.max(0, (o.ttftMs as number) - baseTtft));
}

function report(
  results: Map<Variant, VariantResult>,
  capacityPerS: number,
  baseTtft: number,
  seconds: number,
): BenchSection {
  const per = (f: (r: VariantResult) => number): Record<string, number> =>
    Object.fromEntries([...results].map(([variant, r]) => [variant, f(r)]));
  const goodput = per((r) => okCount(r.outcomes) / r.seconds / capacityPerS);
  const fivexx = per((r) => r.outcomes.filter((o) => o.status >= 500).length);
  const p99 = (r: VariantResult, priority: string) =>
    distribution(queueWaits(r.outcomes, priority, baseTtft)).p99;
  const percent = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : "—");
  const { columns, rows } = compareRows({
    metricColumn: "metric",
    variants: VARIANTS,
    baseline: "direct",
    metrics: [
      { label: "goodput (answers/s)", values: per((r) => okCount(r.outcomes) / r.seconds) },
      { label: "goodput, share of capacity", values: goodput, format: percent },
      { label: "client-visible 5xx", values: fivexx },
      { label: "429s to clients", values: per((r) => r.outcomes.filter((o) => o.status === 429).length) },
      {
        label: "sheds told in-band (committed streams)",
        values: per((r) => r.outcomes.filter((o) => o.kind === "stream_error").length),
      },
      { label: "upstream 429s (whole run)", values: per((r) => r.upstream429) },
      { label: "upstream peak in flight", values: per((r) => r.peakInFlight) },
      {
        label: "effective limit at the end",
        values: Object.fromEntries(
          [...results].flatMap(([v, r]) => (r.limitAtEnd === undefined ? [] : [[v, r.limitAtEnd]])),
        ),
      },
      {
        label: "queue wait p50, high",
        values: per((r) => distribution(queueWaits(r.outcomes, "high", baseTtft)).p50),
        format: formatMs,
      },
      { label: "queue wait p99, high", values: per((r) => p99(r, "high")), format: formatMs },
      { label: "queue wait p99, low", values: per((r) => p99(r, "low")), format: formatMs },
      {
        label: "acquire on the request path, p50 (uncontended)",
        values: Object.fromEntries(
          [...results]
            .filter(([, r]) => r.acquireMs.length > 0)
            .map(([v, r]) => [v, distribution(r.acquireMs).p50]),
        ),
        format: formatMs,
      },
    ],
  });
  const router = results.get("router") as VariantResult;
  const highP99 = p99(router, "high");
  const lowP99 = p99(router, "low");
  const share = goodput.router ?? 0;
  return {
    title: overload.title,
    notes: [
      `The simulator serves ${CAPACITY} streams at once (40–160 tokens, seeded, at 100 tokens/s after a 200 ms first token) and answers 429 beyond that, as DeepSeek does. ${CLIENTS} closed-loop clients (${HIGH_CLIENTS} high priority, the rest low) offer 4× that. Each column: ${WARMUP_S} s warm-up, then ${seconds} s counted (answers that end in the window).`,
      `Capacity is measured, not assumed: ${CAPACITY} clients straight to the simulator over the same window complete ${formatNumber(capacityPerS)} answers/s. Goodput share = answers/s ÷ that.`,
      "After a 429, a 5xx or an in-band error, clients honour Retry-After (the router sends one with every shed); without one (DeepSeek sends none) they back off 0.5–1 s like the OpenAI SDK's first retry.",
      `Queue wait is seen from the client: time to first token minus the unloaded ${formatNumber(baseTtft)} ms. A stream still queued after 1 s is committed with keep-alives, so x-router-queue-ms could only report the first second of such a wait.`,
      `"router": ceiling ${CAPACITY}, static limit (the goals are read from this column). "router, no blocks": the same with \`admission.leaseBlocks: false\`, every request at the gate (the design before blocks of permits). "router, 2 shards": the same ${CAPACITY} slots over two gates chosen by power of two choices. "ceiling 24": the policy overstates the upstream's capacity by half, the case the adaptive limit exists for — static, then adaptive (AIMD on the upstream's 429s).`,
      "Upstream 429s count the whole run, warm-up included. The router retries an upstream 429 (pool default: up to 2 retries, within a 10% retry budget) before a client sees it.",
      "Acquire latency: x-router-queue-ms of sequential requests with nothing else in flight: one acquire RPC from the Worker to the gate, at workerd's 1 ms timer resolution (the release is sent after the answer ends, off the request path). The gate's own acquire+release round trip and throughput are in the admission-gate section.",
    ],
    columns,
    rows,
    goals: [
      { goal: "goodput ≥ 95% of capacity", measured: percent(share), met: share >= 0.95 },
      {
        goal: "client-visible 5xx = 0",
        measured: String(fivexx.router ?? 0),
        met: (fivexx.router ?? 0) === 0,
      },
      {
        goal: "upstream 429s = 0 with a static limit",
        measured: String(router.upstream429),
        met: router.upstream429 === 0,
      },
      {
        goal: "p99 queue wait: high ≤ 1/5 of low",
        measured: `${formatMs(highP99)} vs ${formatMs(lowP99)}`,
        met: highP99 <= lowP99 / 5,
      },
    ],
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
