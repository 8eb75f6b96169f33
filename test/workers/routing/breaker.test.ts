import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../../src/routing/breaker";
import { type Candidate, selectTarget } from "../../../src/routing/select";
import { TargetState } from "../../../src/routing/target-state";

describe("circuit breaker", () => {
  const config = { consecutiveFailures: 3, cooldownMs: 1000, maxCooldownMs: 4000 };

  it("opens after consecutive failures, probes once when half-open, and closes on success", () => {
    const breaker = new CircuitBreaker(config);
    breaker.onFailure(0);
    breaker.onFailure(1);
    expect(breaker.state(2)).toBe("closed");
    breaker.onFailure(2);
    expect(breaker.state(3)).toBe("open");
    expect(breaker.tryAcquire(500)).toBe(false);
    expect(breaker.retryInMs(500)).toBe(502);
    expect(breaker.state(1002)).toBe("half-open");
    expect(breaker.tryAcquire(1002)).toBe(true);
    expect(breaker.tryAcquire(1003)).toBe(false);
    breaker.onSuccess();
    expect(breaker.state(1004)).toBe("closed");
  });

  it("re-opens with a doubled cool-down when the probe fails, up to the cap", () => {
    const breaker = new CircuitBreaker(config);
    for (let i = 0; i < 3; i++) breaker.onFailure(0);
    expect(breaker.tryAcquire(1000)).toBe(true);
    breaker.onFailure(1000);
    expect(breaker.state(2999)).toBe("open");
    expect(breaker.state(3000)).toBe("half-open");
    breaker.tryAcquire(3000);
    breaker.onFailure(3000);
    breaker.tryAcquire(7000);
    breaker.onFailure(7000);
    expect(breaker.retryInMs(7000)).toBe(4000);
  });

  it("a success resets the failure count", () => {
    const breaker = new CircuitBreaker(config);
    breaker.onFailure(0);
    breaker.onFailure(0);
    breaker.onSuccess();
    breaker.onFailure(0);
    breaker.onFailure(0);
    expect(breaker.state(0)).toBe("closed");
  });

  it("an abandoned probe lets another request probe", () => {
    const breaker = new CircuitBreaker(config);
    for (let i = 0; i < 3; i++) breaker.onFailure(0);
    expect(breaker.tryAcquire(1000)).toBe(true);
    breaker.onAbandon();
    expect(breaker.tryAcquire(1000)).toBe(true);
  });
});

function candidate(name: string, weight: number, inFlight = 0, ttft?: number): Candidate {
  const state = new TargetState();
  state.inFlight = inFlight;
  if (ttft !== undefined) state.recordTtft(ttft);
  return { target: { name, weight, baseUrl: "https://x.test", keySecret: "K" }, state };
}

function counts(pick: () => Candidate | undefined, n = 4000): Record<string, number> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const name = pick()?.target.name ?? "none";
    seen[name] = (seen[name] ?? 0) + 1;
  }
  return seen;
}

/** A seeded generator so the shares below are exact for the run, not luck. */
function rng(seed = 42): () => number {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) % 2 ** 32;
    return state / 2 ** 32;
  };
}

describe("target selection", () => {
  it("weighted: picks in proportion to weight", () => {
    const random = rng();
    const seen = counts(() => selectTarget("weighted", [candidate("a", 3), candidate("b", 1)], random));
    expect((seen.a ?? 0) / 4000).toBeGreaterThan(0.7);
    expect((seen.a ?? 0) / 4000).toBeLessThan(0.8);
  });

  it("least-inflight: picks the least busy", () => {
    expect(
      selectTarget(
        "least-inflight",
        [candidate("a", 1, 5), candidate("b", 1, 2), candidate("c", 1, 9)],
        rng(),
      )?.target.name,
    ).toBe("b");
  });

  it("latency: power of two choices prefers the faster target", () => {
    const random = rng();
    const seen = counts(() =>
      selectTarget(
        "latency",
        [candidate("slow", 1, 0, 900), candidate("fast", 1, 0, 100), candidate("mid", 1, 0, 400)],
        random,
      ),
    );
    expect(seen.fast ?? 0).toBeGreaterThan(seen.mid ?? 0);
    expect(seen.mid ?? 0).toBeGreaterThan(seen.slow ?? 0);
    expect(seen.slow ?? 0).toBe(0);
  });

  it("latency: load counts as well as speed", () => {
    const random = rng();
    const seen = counts(() =>
      selectTarget(
        "latency",
        [candidate("fast-busy", 1, 10, 100), candidate("slower-idle", 1, 0, 300)],
        random,
      ),
    );
    expect(seen["slower-idle"]).toBe(4000);
  });
});
