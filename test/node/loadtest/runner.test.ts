import { afterEach, describe, expect, it } from "vitest";
import { constantProfile } from "../../../loadtest/arrivals";
import { resolveMix } from "../../../loadtest/mix";
import { parseRetryAfter } from "../../../loadtest/request";
import { runScenario } from "../../../loadtest/runner";
import type { Scenario } from "../../../loadtest/scenarios";
import { type ScriptedServer, startScriptedServer } from "../../../loadtest/scripted-server";

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function scenario(over: Partial<Scenario>): Scenario {
  return {
    name: "test",
    description: "test",
    load: { kind: "open", arrival: "fixed", profile: constantProfile(50) },
    durationS: 1,
    maxRequests: 1000,
    maxInFlight: 100,
    timeoutS: 5,
    seed: 1,
    mix: resolveMix({ types: { chat: 1 }, streamRatio: 1, repeatRatio: 0 }),
    ...over,
  };
}

describe("runScenario", () => {
  it("counts 429s with Retry-After apart from errors and keeps them out of latency", async () => {
    server = await startScriptedServer({
      slots: 2,
      queueLimit: 0,
      retryAfterS: 3,
      ttftMs: 80,
      tokens: 3,
      tokenGapMs: 5,
    });
    const r = await runScenario({ baseUrl: server.url, key: "sk-t", scenario: scenario({}) });
    const o = r.metrics.overall;
    expect(o.requests).toBe(50);
    expect(o.kinds.shed).toBeGreaterThan(20);
    expect(o.kinds.shed).toBe(o.statuses["429"]);
    expect(o.retryAfterPresent).toBe(o.kinds.shed);
    expect(o.retryAfterS.percentile(50)).toBeCloseTo(3, 2);
    expect(o.kinds.ok + o.kinds.shed).toBe(50);
    expect(o.totalMs.count).toBe(o.kinds.ok);
    expect(o.totalMs.min).toBeGreaterThanOrEqual(80);
    expect(r.errors[0]).toMatchObject({ kind: "shed", status: 429 });
  });

  it("measures from the scheduled time, so a slow server cannot hide its latency", async () => {
    server = await startScriptedServer({ ttftMs: 60, tokens: 2, tokenGapMs: 1 });
    // 40 req/s for 0.5 s through one slot: each takes over 60 ms, so a queue builds and the last
    // ones leave ~800 ms late. Their latency must include that wait.
    const load = { kind: "open", arrival: "fixed", profile: constantProfile(40) } as const;
    const r = await runScenario({
      baseUrl: server.url,
      key: "sk-t",
      scenario: scenario({ maxInFlight: 1, durationS: 0.5, load }),
    });
    const o = r.metrics.overall;
    expect(o.kinds.ok).toBe(20);
    expect(o.lagMs.max).toBeGreaterThan(400);
    expect(o.totalMs.max).toBeGreaterThan(o.lagMs.max + 55);
    expect(o.ttftMs.max).toBeGreaterThan(o.lagMs.max + 55);
    expect(o.totalMs.percentile(99)).toBeGreaterThan(400);
    expect(Math.max(...r.metrics.series().map((s) => s.queuedMax))).toBeGreaterThan(3);
  });

  it("is bounded by max requests, duration and max in flight", async () => {
    server = await startScriptedServer({ ttftMs: 5, tokens: 2, tokenGapMs: 1 });
    const capped = await runScenario({
      baseUrl: server.url,
      key: "k",
      scenario: scenario({ maxRequests: 7 }),
    });
    expect(capped.metrics.overall.requests).toBe(7);
    expect(capped.stoppedBy).toBe("max-requests");
    const t0 = performance.now();
    const timed = await runScenario({
      baseUrl: server.url,
      key: "k",
      scenario: scenario({ durationS: 0.5, load: { kind: "closed", vus: 3, thinkMs: 0, rampS: 0 } }),
    });
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(timed.stoppedBy).toBe("duration");
    expect(Math.max(...timed.metrics.series().map((s) => s.inFlightMax))).toBeLessThanOrEqual(3);
    expect(timed.metrics.overall.requests).toBeGreaterThan(10);
  });

  it("cuts requests still running at the hard stop and reports them as timeouts", async () => {
    server = await startScriptedServer({ ttftMs: 5000, tokens: 1 });
    const t0 = performance.now();
    const r = await runScenario({
      baseUrl: server.url,
      key: "k",
      scenario: scenario({
        durationS: 0.2,
        timeoutS: 0.3,
        load: { kind: "open", arrival: "fixed", profile: constantProfile(10) },
      }),
    });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.metrics.overall.kinds.timeout).toBe(2);
  });

  it("classifies truncated streams and in-stream errors", async () => {
    server = await startScriptedServer({
      ttftMs: 1,
      tokens: 4,
      tokenGapMs: 1,
      truncateEvery: 3,
      streamErrorEvery: 5,
    });
    const r = await runScenario({ baseUrl: server.url, key: "k", scenario: scenario({ maxRequests: 15 }) });
    const k = r.metrics.overall.kinds;
    expect(k.truncated).toBe(4);
    expect(k.stream_error).toBe(3);
    expect(k.ok).toBe(8);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("7", 0)).toBe(7);
    expect(parseRetryAfter("Thu, 01 Jan 1970 00:00:30 GMT", 10_000)).toBe(20);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });
});
