import { createHash } from "node:crypto";
import { startLocalStack } from "../../scripts/stack";
import { type Measurement, measureRequests } from "../lib/measure";
import { formatMs, median, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";

const CONCURRENCY = 8;
const ROUNDS = 6;
const TENANTS = {
  unlimited: { key: "sk-bench-unlimited", limits: undefined },
  limited: {
    key: "sk-bench-limited",
    // High enough never to refuse here: the figure is what checking and spending them costs.
    limits: {
      requestsPerMinute: 1_000_000,
      tokensPerMinute: 1_000_000_000,
      usdPerDay: 1_000_000,
      usdPerMonth: 10_000_000,
      maxTokens: 4_096,
      models: ["chat", "deepseek-v4-flash"],
    },
  },
} as const;
type Path = keyof typeof TENANTS;
const PATHS = Object.keys(TENANTS) as Path[];

const body = {
  model: "deepseek-v4-flash",
  messages: [{ role: "user", content: "Limits benchmark: a short question about budgets." }],
  thinking: { type: "disabled" },
  max_tokens: 64,
};

/**
 * Issue 12: relay throughput for a tenant with requests/min, tokens/min, daily and monthly budgets,
 * an allowlist and a max_tokens cap, against a tenant with none, through one router in one run.
 * Rounds alternate the tenants so drift on a shared machine hits both alike.
 */
export const limitsBench: BenchScenario = {
  name: "limits",
  title: "Tenant limits and budgets: relay throughput with and without",
  async run(ctx): Promise<BenchSection> {
    const perRound = ctx.quick ? 60 : 300;
    const tenants = PATHS.map((id) => ({
      id,
      keys: [createHash("sha256").update(TENANTS[id].key).digest("hex")],
      ...(TENANTS[id].limits ? { limits: TENANTS[id].limits } : {}),
    }));
    const stack = await startLocalStack({
      sim: { ttftMs: 0, tokensPerS: 0 },
      vars: { ROUTER_TENANTS: JSON.stringify(tenants) },
    });
    const results: Record<Path, Measurement[]> = { unlimited: [], limited: [] };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const path of round % 2 === 0 ? PATHS : [...PATHS].reverse()) {
          const m = await measureRequests({
            baseUrl: stack.routerUrl,
            key: TENANTS[path].key,
            body,
            n: perRound,
            concurrency: CONCURRENCY,
            warmup: round === 0 ? 20 : 0,
          });
          results[path].push(m);
          ctx.log(
            `round ${round + 1}/${ROUNDS} ${path}: ${m.rps.toFixed(0)} req/s, p50 ${m.latencyMs.p50.toFixed(2)} ms, ok ${m.ok}/${m.n}`,
          );
        }
      }
    } finally {
      await stack.close();
    }
    const rps = (path: Path) => {
      const wall = results[path].reduce((sum, m) => sum + m.wallMs, 0);
      return wall > 0 ? (results[path].reduce((sum, m) => sum + m.n, 0) * 1000) / wall : 0;
    };
    const p50 = (path: Path) => median(results[path].map((m) => m.latencyMs.p50));
    const ok = (path: Path) => results[path].reduce((sum, m) => sum + m.ok, 0);
    const allRounds = ratio(rps("limited"), rps("unlimited"));
    // Paired: each round measures both tenants back to back, so a round's ratio shares its machine load.
    const paired = median(
      results.limited.map((m, i) => ratio(m.rps, results.unlimited[i]?.rps ?? Number.NaN)),
    );
    return {
      title: limitsBench.title,
      notes: [
        `${ROUNDS} alternating rounds × ${perRound} non-streamed requests per tenant, ${CONCURRENCY} in flight, simulator answering at once.`,
        "The limited tenant has every limit set (default lease: each isolate holds up to 5% of each limit), so requests are reserved from the isolate's blocks and settled locally; the authority is called to refill, off the path of most requests.",
      ],
      columns: ["metric", "unlimited", "limited", "limited ÷ unlimited"],
      rows: [
        {
          metric: "throughput (req/s)",
          unlimited: rps("unlimited").toFixed(0),
          limited: rps("limited").toFixed(0),
          "limited ÷ unlimited": `${allRounds.toFixed(2)}× (median paired round ${paired.toFixed(2)}×)`,
        },
        {
          metric: "latency p50 (median of rounds)",
          unlimited: formatMs(p50("unlimited")),
          limited: formatMs(p50("limited")),
          "limited ÷ unlimited": `${ratio(p50("limited"), p50("unlimited")).toFixed(2)}×`,
        },
        {
          metric: "answered 200",
          unlimited: ok("unlimited"),
          limited: ok("limited"),
          "limited ÷ unlimited": "",
        },
      ],
      goals: [
        {
          goal: "throughput with limits ≥ 0.9× without (median paired round)",
          measured: `${paired.toFixed(2)}×`,
          met: paired >= 0.9,
        },
      ],
    };
  },
};
