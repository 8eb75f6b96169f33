import { constantProfile } from "../../loadtest/arrivals";
import { resolveMix } from "../../loadtest/mix";
import { runScenario } from "../../loadtest/runner";
import type { Scenario } from "../../loadtest/scenarios";
import { startLocalStack } from "../../scripts/stack";
import type { BenchScenario, BenchSection } from "../lib/types";

const RATE = 40;
const CAPACITY = 32;
const DIP_CAPACITY = 4;

interface SimStats {
  requests: number;
}

async function sim(
  simUrl: string,
  method: "GET" | "PATCH" | "POST",
  path: string,
  body?: unknown,
): Promise<SimStats> {
  const response = await fetch(`${simUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`simulator ${method} ${path}: ${response.status}`);
  return (await response.json().catch(() => ({ requests: 0 }))) as SimStats;
}

/**
 * Issue 6's spike: the simulator fails 20% of requests with 503 and, two seconds in, drops to an
 * eighth of its capacity for two seconds. The same open-loop load goes straight to it and through the
 * router; the router may retry (within its 10% budget), fall back and queue, and must not multiply the
 * upstream's load while doing so.
 */
export const spike: BenchScenario = {
  name: "spike",
  title: "Spike: 20% upstream 503s plus a 2 s capacity dip",
  async run(ctx): Promise<BenchSection> {
    const durationS = ctx.quick ? 6 : 12;
    const stack = await startLocalStack({
      sim: {
        ttftMs: 100,
        tokensPerS: 200,
        concurrency: CAPACITY,
        overload: "reject429",
        faults: { statusRates: { "503": 0.2 } },
      },
    });
    const scenario: Scenario = {
      name: "spike-bench",
      description: `${RATE} streams/s for ${durationS} s`,
      load: { kind: "open", arrival: "poisson", profile: constantProfile(RATE) },
      durationS,
      maxRequests: RATE * durationS * 2,
      maxInFlight: 512,
      timeoutS: 60,
      seed: 7,
      mix: resolveMix({
        types: { chat: 1 },
        streamRatio: 1,
        maxTokens: 48,
        repeatRatio: 0,
        promptTokens: { kind: "fixed", tokens: 200 },
      }),
    };
    const rows: Array<Record<string, string>> = [];
    const results: Record<string, { ok: number; total: number; p99: number; upstream: number }> = {};
    try {
      for (const [name, baseUrl] of [
        ["direct", stack.simUrl],
        ["router", stack.routerUrl],
      ] as const) {
        await sim(stack.simUrl, "POST", "/_sim/reset");
        await sim(stack.simUrl, "PATCH", "/_sim/config", { concurrency: CAPACITY });
        const dip = setTimeout(
          () => void sim(stack.simUrl, "PATCH", "/_sim/config", { concurrency: DIP_CAPACITY }),
          2_000,
        );
        const restore = setTimeout(
          () => void sim(stack.simUrl, "PATCH", "/_sim/config", { concurrency: CAPACITY }),
          4_000,
        );
        const result = await runScenario({ baseUrl, key: stack.routerKey, scenario });
        clearTimeout(dip);
        clearTimeout(restore);
        const stats = await sim(stack.simUrl, "GET", "/_sim/stats");
        const all = result.metrics.overall;
        const total = all.requests;
        results[name] = {
          ok: all.kinds.ok,
          total,
          p99: all.totalMs.percentile(99),
          upstream: stats.requests,
        };
        ctx.log(`${name}: ${all.kinds.ok}/${total} ok, upstream requests ${stats.requests}`);
      }
    } finally {
      await stack.close();
    }
    const direct = results.direct ?? { ok: 0, total: 1, p99: Number.NaN, upstream: 0 };
    const router = results.router ?? { ok: 0, total: 1, p99: Number.NaN, upstream: 0 };
    const extra = router.upstream / router.total;
    for (const [name, r] of Object.entries(results)) {
      rows.push({
        path: name,
        requests: String(r.total),
        "success rate": `${((r.ok / r.total) * 100).toFixed(1)} % (${(r.ok / r.total / (direct.ok / direct.total)).toFixed(2)}×)`,
        "p99 latency (ok)": `${r.p99.toFixed(0)} ms (${(r.p99 / direct.p99).toFixed(2)}×)`,
        "upstream requests": String(r.upstream),
        "upstream ÷ client requests": `${(r.upstream / r.total).toFixed(3)}×`,
      });
    }
    return {
      title: spike.title,
      notes: [
        `Open-loop Poisson arrivals at ${RATE} streams/s for ${durationS} s; the simulator holds ${CAPACITY} streams (429 beyond), fails 20% with 503, and drops to ${DIP_CAPACITY} from t=2 s to t=4 s.`,
        "Upstream requests are counted at the simulator; a ratio above 1 is the extra load retries caused.",
      ],
      columns: [
        "path",
        "requests",
        "success rate",
        "p99 latency (ok)",
        "upstream requests",
        "upstream ÷ client requests",
      ],
      rows,
      goals: [
        {
          goal: "extra upstream load from retries ≤ 1.1×",
          measured: `${extra.toFixed(3)}×`,
          met: extra <= 1.1,
        },
      ],
    };
  },
};
