import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScenario } from "../../../loadtest/runner";
import { applyOverrides, BUILTIN_SCENARIOS } from "../../../loadtest/scenarios";
import { type LocalStack, startLocalStack } from "../../../scripts/stack";

let stack: LocalStack | undefined;
// The router as deployed (wrangler's bundle under Miniflare) with the simulator answering at once.
beforeAll(async () => {
  stack = await startLocalStack({ sim: { ttftMs: 0, tokensPerS: 0 } });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

describe("--repeat-ratio against the router", () => {
  it("repeats are answered from the router's cache with its default settings; unique prompts never are", async () => {
    if (!stack) throw new Error("the local stack did not start");
    const seen: Array<{ repeat: boolean; cache: string | null }> = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      // Every prompt but a repeat carries a unique "[run … request N]" nonce.
      const repeat = !String(init?.body).includes("[run ");
      seen.push({ repeat, cache: response.headers.get("x-router-cache") });
      return response;
    };
    // `npm run loadtest -- --local --repeat-ratio 0.5 --vus 2 --max-requests 60`, default mix otherwise.
    const scenario = applyOverrides(BUILTIN_SCENARIOS.constant!, {
      repeatRatio: 0.5,
      vus: 2,
      maxRequests: 60,
      durationS: 30,
    });
    const result = await runScenario({
      baseUrl: stack.routerUrl,
      key: stack.routerKey,
      scenario,
      fetch: recordingFetch,
    });

    const overall = result.metrics.overall;
    expect(overall.kinds.ok).toBe(60);
    const repeats = seen.filter((r) => r.repeat);
    expect(repeats.length).toBeGreaterThan(15);
    const hits = overall.cache.HIT ?? 0;
    expect(hits).toBeGreaterThan(repeats.length / 3);
    expect(seen.filter((r) => !r.repeat).map((r) => r.cache)).not.toContain("HIT");
  }, 120_000);
});
