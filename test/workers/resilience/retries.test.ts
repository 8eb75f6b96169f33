import { describe, expect, it } from "vitest";
import { fullJitterMs, RetryBudget, requestedWaitMs, retryDelayMs } from "../../../src/upstream/retry";
import { chatBody, createSim, singlePoolPolicy } from "../helpers";

const RETRIES = { max: 2, baseMs: 250, capMs: 4_000, retryAfterCapMs: 10_000, budgetRatio: 0.1 };

describe("backoff and Retry-After (pure)", () => {
  it("full jitter stays within [0, min(cap, base·2^n))", () => {
    for (const [retry, bound] of [
      [0, 250],
      [1, 500],
      [5, 4_000],
    ] as const) {
      expect(fullJitterMs(retry, RETRIES, () => 0)).toBe(0);
      expect(fullJitterMs(retry, RETRIES, () => 0.999999)).toBe(bound - 1);
    }
  });

  it("reads retry-after-ms, retry-after seconds and an HTTP date", () => {
    const now = Date.parse("2026-11-24T10:00:00Z");
    expect(requestedWaitMs(new Headers({ "retry-after-ms": "1500" }), now)).toBe(1500);
    expect(requestedWaitMs(new Headers({ "retry-after": "2" }), now)).toBe(2000);
    expect(requestedWaitMs(new Headers({ "retry-after": "Tue, 24 Nov 2026 10:00:03 GMT" }), now)).toBe(3000);
    expect(requestedWaitMs(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(requestedWaitMs(new Headers(), now)).toBeUndefined();
  });

  it("waits at least what the upstream asks, moves on when it asks too much or time runs out", () => {
    const noJitter = () => 0;
    expect(retryDelayMs(0, 1_000, RETRIES, 60_000, noJitter)).toBe(1_000);
    expect(retryDelayMs(0, undefined, RETRIES, 60_000, () => 0.5)).toBe(125);
    expect(retryDelayMs(0, 20_000, RETRIES, 60_000, noJitter)).toBeUndefined();
    expect(retryDelayMs(0, 1_000, RETRIES, 900, noJitter)).toBeUndefined();
    expect(retryDelayMs(2, undefined, RETRIES, 60_000, noJitter)).toBeUndefined();
  });

  it("the retry budget allows 10% of recent requests, with a floor of 3", () => {
    const budget = new RetryBudget(0.1, 3, 10);
    const t = 1_000_000;
    for (let i = 0; i < 50; i++) budget.recordRequest(t);
    const granted = Array.from({ length: 20 }, () => budget.tryRetry(t)).filter(Boolean).length;
    expect(granted).toBe(5);
    const quiet = new RetryBudget(0.1, 3, 10);
    quiet.recordRequest(t);
    expect(Array.from({ length: 5 }, () => quiet.tryRetry(t)).filter(Boolean).length).toBe(3);
    // Ten seconds later the window has moved on.
    expect(budget.tryRetry(t + 10_001)).toBe(true);
  });
});

describe("retries against the simulator", () => {
  it("honours the upstream's Retry-After before retrying", async () => {
    const sim = await createSim({
      retryAfter: true,
      retryAfterSeconds: 1,
      faultScript: [{ kind: "status", status: 503 }],
    });
    const started = Date.now();
    const response = await sim.call(
      "/v1/chat/completions",
      { json: chatBody() },
      { ROUTER_POLICY: singlePoolPolicy(sim.baseUrl) },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("x-router-retries")).toBe("1");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect((await sim.stats()).requests).toBe(2);
  });

  it("the budget keeps a failing upstream from seeing the retries of every request", async () => {
    const sim = await createSim({ faults: { statusRates: { "503": 1 } } });
    const policy = singlePoolPolicy(sim.baseUrl);
    for (let i = 0; i < 40; i++) {
      const response = await sim.call(
        "/v1/chat/completions",
        { json: chatBody() },
        { ROUTER_POLICY: policy },
      );
      expect(response.status).toBe(503);
    }
    // Without a budget: 40 × 3 attempts. With it: 40, plus max(3, 10% of 40) retries.
    expect((await sim.stats()).requests).toBeLessThanOrEqual(44);
  });

  it("falls back to another provider serving the model when the first keeps failing", async () => {
    const failing = await createSim({ faults: { statusRates: { "503": 1 } } });
    const healthy = await createSim();
    const policy = JSON.stringify({
      pools: {
        primary: {
          provider: "deepseek",
          targets: [{ name: "deepseek", baseUrl: failing.baseUrl, keySecret: "DEEPSEEK_API_KEY" }],
          models: { "deepseek-v4-flash": "deepseek-v4-flash" },
          capabilities: ["tools", "thinking", "json"],
          concurrency: 10,
          retries: { max: 1 },
        },
        other: {
          provider: "openai-compatible",
          targets: [{ name: "other-host", baseUrl: `${healthy.baseUrl}/v1`, keySecret: "DEEPSEEK_API_KEY" }],
          models: { "deepseek-v4-flash": "deepseek-v4-flash" },
          capabilities: ["tools", "thinking", "json"],
          concurrency: 10,
        },
      },
      routes: { chat: ["primary", "other"], code: ["primary"], reasoning: ["primary", "other"] },
    });
    const response = await failing.call(
      "/v1/chat/completions",
      { json: chatBody({ stream: true }) },
      { ROUTER_POLICY: policy },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("x-router-pool")).toBe("other");
    expect(response.headers.get("x-router-target")).toBe("other-host");
    expect(await response.text()).toContain("data: [DONE]");
    expect((await failing.stats()).requests).toBe(2);
    const [received] = (await healthy.stats()).recent as Array<{
      path: string;
      body?: Record<string, unknown>;
    }>;
    expect(received?.path).toBe("/v1/chat/completions");
    expect(received?.body).not.toHaveProperty("thinking");
  });
});
