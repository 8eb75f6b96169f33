import { Histogram } from "../../loadtest/histogram";
import { startLocalStack } from "../../scripts/stack";
import { type Measurement, measureRequests } from "../lib/measure";
import { distribution, formatMs, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";

const PATHS = ["direct", "bare", "router"] as const;
type Path = (typeof PATHS)[number];
const CONCURRENCY = 8;
/** Non-streamed answers come at once; streams are paced like a fast DeepSeek stream (10 ms a token). */
const PACING = { json: { ttftMs: 0, tokensPerS: 0 }, stream: { ttftMs: 0, tokensPerS: 100 } } as const;
const ROUNDS = 4;

const body = (stream: boolean) => ({
  model: "deepseek-v4-flash",
  messages: [{ role: "user", content: "Relay benchmark: a short question about edge routing." }],
  thinking: { type: "disabled" },
  stream,
});

/**
 * Issue 2's relay overhead: the same requests straight to the simulator, through a bare pass-through
 * Worker and through the router, both Workers in one workerd (Miniflare with direct sockets, nothing in
 * front). Rounds alternate the paths so drift on a shared machine hits all three alike.
 */
export const relay: BenchScenario = {
  name: "relay",
  title: "Relay overhead: direct vs bare Worker vs router",
  async run(ctx): Promise<BenchSection> {
    const perRound = ctx.quick ? 40 : 250;
    const stack = await startLocalStack({ sim: PACING.json });
    const urls: Record<Path, string> = { direct: stack.simUrl, bare: stack.bareUrl, router: stack.routerUrl };
    const results: Record<string, Measurement[]> = {};
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const stream of [false, true]) {
          await configureSim(stack.simUrl, stream ? PACING.stream : PACING.json);
          for (const path of PATHS) {
            const key = `${path}:${stream}`;
            const m = await measureRequests({
              baseUrl: urls[path],
              key: stack.routerKey,
              body: body(stream),
              n: perRound,
              concurrency: CONCURRENCY,
              warmup: round === 0 ? 20 : 0,
            });
            const runs = results[key] ?? [];
            runs.push(m);
            results[key] = runs;
            ctx.log(
              `round ${round + 1}/${ROUNDS} ${path} ${stream ? "stream" : "json"}: p50 ${m.latencyMs.p50.toFixed(2)} ms, ${m.rps.toFixed(0)} req/s, ok ${m.ok}/${m.n}`,
            );
          }
        }
      }
    } finally {
      await stack.close();
    }
    const merged = (
      path: Path,
      stream: boolean,
      pick: (m: Measurement) => Measurement["histograms"]["latency"],
    ) => {
      const all = results[`${path}:${stream}`] ?? [];
      const [first, ...rest] = all.map(pick);
      if (!first) return distribution([]);
      const copy = Histogram.fromJSON(first.toJSON());
      for (const h of rest) copy.merge(h);
      return distribution(copy);
    };
    const rps = (path: Path, stream: boolean) => {
      const all = results[`${path}:${stream}`] ?? [];
      const wall = all.reduce((sum, m) => sum + m.wallMs, 0);
      return wall > 0 ? (all.reduce((sum, m) => sum + m.n, 0) * 1000) / wall : 0;
    };

    const rows: Array<Record<string, string>> = [];
    const added: Record<string, number> = {};
    const addRows = (
      label: string,
      stream: boolean,
      pick: (m: Measurement) => Measurement["histograms"]["latency"],
    ) => {
      const d = Object.fromEntries(PATHS.map((p) => [p, merged(p, stream, pick)])) as Record<
        Path,
        ReturnType<typeof distribution>
      >;
      for (const q of ["p50", "p99"] as const) {
        const bareAdded = d.bare[q] - d.direct[q];
        const routerAdded = d.router[q] - d.direct[q];
        added[`${label} ${q} bare`] = bareAdded;
        added[`${label} ${q} router`] = routerAdded;
        rows.push({
          metric: `${label} ${q}`,
          direct: formatMs(d.direct[q]),
          bare: formatMs(d.bare[q]),
          router: formatMs(d.router[q]),
          "added by bare": formatMs(bareAdded),
          "added by router": formatMs(routerAdded),
          "router ÷ bare added": fmtRatio(ratio(routerAdded, bareAdded)),
        });
      }
    };
    addRows("non-stream latency", false, (m) => m.histograms.latency);
    addRows("stream latency", true, (m) => m.histograms.latency);
    addRows("stream TTFT", true, (m) => m.histograms.ttft);
    addRows("stream headers (TTFB)", true, (m) => m.histograms.ttfb);
    rows.push({
      metric: "throughput (req/s)",
      direct: `${rps("direct", false).toFixed(0)} / ${rps("direct", true).toFixed(0)}`,
      bare: `${rps("bare", false).toFixed(0)} / ${rps("bare", true).toFixed(0)}`,
      router: `${rps("router", false).toFixed(0)} / ${rps("router", true).toFixed(0)}`,
      "added by bare": "",
      "added by router": "",
      "router ÷ bare added": fmtRatio(ratio(rps("router", false), rps("bare", false))),
    });

    const jsonRatio = ratio(
      added["non-stream latency p50 router"] ?? Number.NaN,
      added["non-stream latency p50 bare"] ?? Number.NaN,
    );
    const streamRatio = ratio(
      added["stream latency p50 router"] ?? Number.NaN,
      added["stream latency p50 bare"] ?? Number.NaN,
    );
    const ttftAdded = added["stream TTFT p50 router"] ?? Number.NaN;
    return {
      title: relay.title,
      notes: [
        `${ROUNDS} alternating rounds × ${perRound} requests per path and mode, ${CONCURRENCY} in flight. The simulator answers at once (TTFT 0); non-streamed answers arrive whole, streams at 100 tokens/s (20-120 tokens each), so the figures are the paths' own cost.`,
        "Workers run under Miniflare with direct sockets (workerd, no dev proxy); the simulator and this client share one Node process, the same for all three paths.",
        "Throughput row: non-stream / stream req/s; its ratio is router ÷ bare (non-stream).",
        "The router holds a stream's headers until the upstream's first data event (so it can still retry or fall back); TTFT is the figure a client feels.",
        "Every streamed chunk is also read by JavaScript on a side branch (usage, deadlines, cache capture); in workerd that costs roughly 20-30 µs a chunk, invisible at real token rates but about 2-3 ms when 100 chunks arrive in one burst.",
      ],
      columns: [
        "metric",
        "direct",
        "bare",
        "router",
        "added by bare",
        "added by router",
        "router ÷ bare added",
      ],
      rows,
      goals: [
        {
          goal: "router added latency ≤ 1.5× bare (non-stream p50)",
          measured: fmtRatio(jsonRatio),
          met: jsonRatio <= 1.5,
        },
        {
          goal: "router added latency ≤ 1.5× bare (stream p50)",
          measured: fmtRatio(streamRatio),
          met: streamRatio <= 1.5,
        },
        { goal: "time to first token added ≤ 2 ms p50", measured: formatMs(ttftAdded), met: ttftAdded <= 2 },
      ],
    };
  },
};

async function configureSim(simUrl: string, patch: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${simUrl}/_sim/config`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(patch),
  });
  if (!response.ok) throw new Error(`simulator refused ${JSON.stringify(patch)}: ${response.status}`);
}

function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "—";
}
