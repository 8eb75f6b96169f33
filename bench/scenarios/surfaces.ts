import { startLocalStack } from "../../scripts/stack";
import { type Measurement, measureRequests } from "../lib/measure";
import { formatMs, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";

const CONCURRENCY = 8;
const ROUNDS = 3;
const PROMPT = "Surface benchmark: a short question about edge routing.";

/** One request per front door, the same prompt, thinking off, so answers are alike in size. */
const SURFACES = {
  chat: {
    path: "/v1/chat/completions",
    body: (stream: boolean) => ({
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: PROMPT }],
      thinking: { type: "disabled" },
      stream,
    }),
  },
  anthropic: {
    path: "/anthropic/v1/messages",
    body: (stream: boolean) => ({
      model: "deepseek-v4-flash",
      max_tokens: 512,
      messages: [{ role: "user", content: PROMPT }],
      thinking: { type: "disabled" },
      stream,
    }),
  },
  responses: {
    path: "/v1/responses",
    body: (stream: boolean) => ({
      model: "deepseek-v4-flash",
      input: PROMPT,
      reasoning: { effort: "none" },
      stream,
    }),
  },
} as const;
type Surface = keyof typeof SURFACES;
const PATHS = ["bare", "router"] as const;

/**
 * Issue 14: what each front door costs. The same question through chat completions, the Anthropic
 * Messages API and the Responses API, to the simulator through a bare pass-through Worker and through
 * the router; rounds alternate so drift on a shared machine hits every path alike. The figure that
 * matters is each surface's router-added latency against chat completions' (the dialect readers parse
 * every event of the other surfaces; chat completions' tap skips most of them unparsed).
 */
export const surfaces: BenchScenario = {
  name: "surfaces",
  title: "Front doors: router overhead per API surface",
  async run(ctx): Promise<BenchSection> {
    const perRound = ctx.quick ? 30 : 200;
    const stack = await startLocalStack({ sim: { ttftMs: 0, tokensPerS: 0 } });
    const urls = { bare: stack.bareUrl, router: stack.routerUrl };
    const results = new Map<string, Measurement[]>();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const surface of Object.keys(SURFACES) as Surface[]) {
          for (const stream of [false, true]) {
            for (const path of PATHS) {
              const m = await measureRequests({
                baseUrl: urls[path],
                path: SURFACES[surface].path,
                key: stack.routerKey,
                body: SURFACES[surface].body(stream),
                n: perRound,
                concurrency: CONCURRENCY,
                warmup: round === 0 ? 10 : 0,
              });
              const key = `${surface}:${stream}:${path}`;
              results.set(key, [...(results.get(key) ?? []), m]);
              ctx.log(
                `round ${round + 1}/${ROUNDS} ${surface} ${stream ? "stream" : "json"} ${path}: p50 ${m.latencyMs.p50.toFixed(2)} ms, ok ${m.ok}/${m.n}`,
              );
            }
          }
        }
      }
    } finally {
      await stack.close();
    }
    // The median over rounds of each round's p50: robust to one disturbed round.
    const p50 = (surface: Surface, stream: boolean, path: (typeof PATHS)[number]) => {
      const values = (results.get(`${surface}:${stream}:${path}`) ?? []).map((m) => m.latencyMs.p50);
      values.sort((a, b) => a - b);
      return values[Math.floor(values.length / 2)] ?? Number.NaN;
    };
    const okShare = (surface: Surface, stream: boolean) => {
      const runs = results.get(`${surface}:${stream}:router`) ?? [];
      const ok = runs.reduce((sum, m) => sum + m.ok, 0);
      const n = runs.reduce((sum, m) => sum + m.n, 0);
      return `${ok}/${n}`;
    };
    const rows: Array<Record<string, string>> = [];
    for (const stream of [false, true]) {
      const chatAdded = p50("chat", stream, "router") - p50("chat", stream, "bare");
      for (const surface of Object.keys(SURFACES) as Surface[]) {
        const bare = p50(surface, stream, "bare");
        const router = p50(surface, stream, "router");
        const added = router - bare;
        rows.push({
          surface: `${surface} ${stream ? "stream" : "json"}`,
          "bare p50": formatMs(bare),
          "router p50": formatMs(router),
          "added by router": formatMs(added),
          "÷ chat's added": ratio(added, chatAdded).toFixed(2),
          "router ok": okShare(surface, stream),
        });
      }
    }
    return {
      title: surfaces.title,
      notes: [
        `${ROUNDS} alternating rounds × ${perRound} requests per surface, mode and path, ${CONCURRENCY} in flight; the simulator answers at once (TTFT 0, unpaced), so the figures are the paths' own cost. p50 is the median of the rounds' p50s.`,
        "Same prompt and thinking off on every surface, so the answers are alike in size; the Anthropic and Responses streams carry more framing per token (named events).",
        "Each row's router-added latency is compared with chat completions' in the same mode.",
      ],
      columns: ["surface", "bare p50", "router p50", "added by router", "÷ chat's added", "router ok"],
      rows,
    };
  },
};
