import { describe, expect, it } from "vitest";
import {
  BUSY_RENEWAL_MS,
  holderExpiry,
  renewalMs,
  reserveOf,
  underPressure,
  unitsToLend,
} from "../../../src/admission/budget";
import {
  DrainRate,
  RETRY_AFTER_BOUNDS,
  retryAfterMs,
  tenantDrainPerSecond,
} from "../../../src/admission/drain";
import { parseMaxWait, waitBudgetMs } from "../../../src/admission/gate";
import {
  type AdaptiveLimit,
  effectiveLimit,
  initialLimit,
  LIMIT_TUNING,
  observeOutcome,
} from "../../../src/admission/limit";
import { type Waiter, WaitQueue } from "../../../src/admission/queue";
import { gateName, pickShard, shareOf, tenantShareOf } from "../../../src/admission/shards";
import type { ReleaseOutcome } from "../../../src/admission/types";
import type { PoolSpec } from "../../../src/config/policy";
import { RouterError } from "../../../src/errors";
import { policyOf } from "../policy-fixtures";

let seq = 0;
function waiter(tenant: string, fields: Partial<Waiter> = {}): Waiter {
  seq++;
  return {
    id: `${tenant}-${seq}`,
    tenant,
    priority: "normal",
    latency: "interactive",
    tenantLimit: Number.POSITIVE_INFINITY,
    seq,
    ...fields,
  };
}

/** Serves the queue `slots` times, as a gate would when slots free, counting what each tenant holds. */
function serve(queue: WaitQueue, held: Map<string, number>, slots: number): string[] {
  const served: string[] = [];
  for (let i = 0; i < slots; i++) {
    const next = queue.next((t) => held.get(t) ?? 0);
    if (!next) break;
    queue.remove(next.id);
    held.set(next.tenant, (held.get(next.tenant) ?? 0) + 1);
    served.push(next.id);
  }
  return served;
}

describe("WaitQueue order", () => {
  it("serves strictly by priority, first come first served within one", () => {
    const queue = new WaitQueue();
    const low = waiter("a", { priority: "low" });
    const normal1 = waiter("a");
    const high = waiter("a", { priority: "high" });
    const normal2 = waiter("a");
    for (const w of [low, normal1, high, normal2]) queue.add(w);
    expect(serve(queue, new Map(), 4)).toEqual([high.id, normal1.id, normal2.id, low.id]);
  });

  it("gives the next slot to the tenant holding the fewest, so a noisy tenant cannot starve a quiet one", () => {
    const queue = new WaitQueue();
    const noisy = Array.from({ length: 10 }, () => waiter("noisy"));
    const quiet = Array.from({ length: 3 }, () => waiter("quiet"));
    for (const w of [...noisy, ...quiet]) queue.add(w);
    // The noisy tenant already holds 4 slots when the quiet one's requests arrive.
    const held = new Map([["noisy", 4]]);
    const order = serve(queue, held, 8).map((id) => id.split("-")[0]);
    expect(order).toEqual(["quiet", "quiet", "quiet", "noisy", "noisy", "noisy", "noisy", "noisy"]);
  });

  it("alternates between equally placed tenants, oldest waiter first", () => {
    const queue = new WaitQueue();
    for (const w of [waiter("a"), waiter("a"), waiter("a"), waiter("b"), waiter("b")]) queue.add(w);
    const order = serve(queue, new Map(), 5).map((id) => id.split("-")[0]);
    expect(order).toEqual(["a", "b", "a", "b", "a"]);
  });

  it("passes over a tenant at its limit, even at a higher priority, instead of idling the slot", () => {
    const queue = new WaitQueue();
    const capped = waiter("capped", { priority: "high", tenantLimit: 2 });
    const other = waiter("other", { priority: "low" });
    queue.add(capped);
    queue.add(other);
    expect(queue.next((t) => (t === "capped" ? 2 : 0))?.id).toBe(other.id);
    expect(queue.next((t) => (t === "capped" ? 1 : 0))?.id).toBe(capped.id);
    expect(queue.next(() => 5)?.id).toBe(other.id);
    expect(queue.next((t) => (t === "capped" ? 2 : Number.POSITIVE_INFINITY))).toBeUndefined();
  });

  it("counts waiters by priority, by tenant and ahead of a newcomer", () => {
    const queue = new WaitQueue();
    for (const w of [
      waiter("a", { priority: "high" }),
      waiter("a"),
      waiter("b"),
      waiter("b", { priority: "low" }),
    ])
      queue.add(w);
    expect(queue.counts()).toEqual({ high: 1, normal: 2, low: 1 });
    expect(queue.queuedFor("b")).toBe(2);
    expect(queue.ahead("high")).toBe(1);
    expect(queue.ahead("normal")).toBe(3);
    expect(queue.ahead("low")).toBe(4);
  });
});

describe("who is shed when the queue is full", () => {
  it("sheds low priority first, then background, then the tenant with most waiters, then the newest", () => {
    const queue = new WaitQueue();
    const highOld = waiter("a", { priority: "high" });
    const lowInteractive = waiter("a", { priority: "low" });
    const lowBackground = waiter("b", { priority: "low", latency: "background" });
    for (const w of [highOld, lowInteractive, lowBackground]) queue.add(w);
    expect(queue.victimFor(waiter("c", { priority: "high" })).id).toBe(lowBackground.id);
    queue.remove(lowBackground.id);
    expect(queue.victimFor(waiter("c", { priority: "normal" })).id).toBe(lowInteractive.id);

    const busy = new WaitQueue();
    busy.add(waiter("busy", { priority: "low" }));
    const newestOfBusy = waiter("busy", { priority: "low" });
    busy.add(newestOfBusy);
    busy.add(waiter("quiet", { priority: "low" }));
    expect(busy.victimFor(waiter("x", { priority: "high" })).id).toBe(newestOfBusy.id);
  });

  it("sheds the newcomer itself when it is the least important", () => {
    const queue = new WaitQueue();
    queue.add(waiter("a", { priority: "high" }));
    queue.add(waiter("b"));
    const newcomer = waiter("c", { priority: "low" });
    expect(queue.victimFor(newcomer)).toBe(newcomer);
    // Same priority and class, and its tenant is no quieter than the waiting one: the newest goes.
    const sameTenantNewer = waiter("b");
    expect(queue.victimFor(sameTenantNewer)).toBe(sameTenantNewer);
  });
});

describe("adaptive limit (AIMD)", () => {
  const CEILING = 16;
  const ok = { kind: "success" as const, status: 200, latencyMs: 100 };
  const tooMany = { kind: "failure" as const, status: 429 };
  /** A release at `now` of a lease granted at `grantedAt`, with `inFlight` held before it. */
  const release = (
    limit: AdaptiveLimit,
    outcome: ReleaseOutcome,
    now: number,
    grantedAt = now - 500,
    inFlight = CEILING,
  ) => observeOutcome(limit, { outcome, grantedAt, inFlight }, CEILING, now);

  it("shrinks by a tenth on an upstream 429 or 503 of a lease granted since the last decrease", () => {
    let limit = initialLimit(CEILING);
    limit = release(limit, tooMany, 10_000, 9_000);
    expect(effectiveLimit(limit, CEILING)).toBe(14);
    // Granted before that decrease: the same overload, already answered.
    limit = release(limit, tooMany, 10_001, 9_500);
    expect(effectiveLimit(limit, CEILING)).toBe(14);
    // Granted after it and refused all the same: the new limit is still too high.
    limit = release(limit, { kind: "failure", status: 503 }, 10_002, 10_001);
    expect(effectiveLimit(limit, CEILING)).toBe(12);
    for (let t = 11_000; t < 11_100; t++) limit = release(limit, tooMany, t, t - 1);
    expect(effectiveLimit(limit, CEILING)).toBe(1);
  });

  it("ignores failures that say nothing about capacity", () => {
    const limit = initialLimit(CEILING);
    expect(release(limit, { kind: "failure", status: 500 }, 1)).toBe(limit);
    expect(release(limit, { kind: "abandoned" }, 1)).toBe(limit);
  });

  it("grows back additively while answers succeed at a used limit, never above the ceiling", () => {
    let limit: AdaptiveLimit = { ...initialLimit(CEILING), value: 8 };
    // Barely used: no evidence the upstream could take more, no growth.
    expect(release(limit, ok, 1, 0, 3).value).toBe(8);
    let answers = 0;
    while (effectiveLimit(limit, CEILING) < CEILING && answers < 1_000) {
      limit = release(limit, ok, 1_000 + answers, 0, Math.ceil(limit.value));
      answers++;
    }
    expect(effectiveLimit(limit, CEILING)).toBe(CEILING);
    // About one slot per limit's worth of answers: 8 + 9 + ... + 15.
    expect(answers).toBeGreaterThan(80);
    expect(answers).toBeLessThan(100);
    for (let i = 0; i < 100; i++) limit = release(limit, ok, 5_000 + i);
    expect(limit.value).toBe(CEILING);
  });

  it("shrinks gently when time to first token rises well above its baseline, once per cooldown", () => {
    let limit = initialLimit(CEILING);
    for (let i = 0; i < LIMIT_TUNING.minSamples; i++) limit = release(limit, { ...ok, latencyMs: 200 }, i);
    expect(effectiveLimit(limit, CEILING)).toBe(CEILING);
    let t = 10_000;
    while (limit.value === CEILING && t < 10_100) limit = release(limit, { ...ok, latencyMs: 2_000 }, t++);
    expect(limit.value).toBeCloseTo(CEILING * LIMIT_TUNING.latencyDecreaseFactor);
    const afterFirst = limit.value;
    for (let i = 0; i < 50; i++) limit = release(limit, { ...ok, latencyMs: 5_000 }, t + i);
    expect(limit.value).toBeGreaterThanOrEqual(afterFirst);
  });

  it("never reports more than the ceiling, even when the ceiling was lowered", () => {
    expect(effectiveLimit(initialLimit(100), 10)).toBe(10);
    expect(effectiveLimit({ ...initialLimit(10), value: 0.2 }, 10)).toBe(1);
  });
});

describe("drain rate and Retry-After", () => {
  it("measures slots freed per second over a sliding window", () => {
    const drain = new DrainRate(10);
    expect(drain.perSecond(0)).toBe(0);
    for (let t = 0; t < 5_000; t += 100) drain.record(t);
    expect(drain.perSecond(5_000)).toBeCloseTo(10, 0);
    for (let t = 5_000; t < 20_000; t += 500) drain.record(t);
    expect(drain.perSecond(20_000)).toBeCloseTo(2, 0);
    expect(drain.perSecond(60_000)).toBe(0);
  });

  it("estimates the wait as the slots that must free first over the drain rate, within bounds", () => {
    expect(retryAfterMs(9, 5)).toBe(2_000);
    expect(retryAfterMs(0, 100)).toBe(RETRY_AFTER_BOUNDS.minMs);
    expect(retryAfterMs(10_000, 1)).toBe(RETRY_AFTER_BOUNDS.maxMs);
    expect(retryAfterMs(3, 0)).toBe(RETRY_AFTER_BOUNDS.unknownMs);
    expect(tenantDrainPerSecond(10, 2, 8)).toBe(2.5);
    expect(tenantDrainPerSecond(10, 0, 0)).toBe(0);
  });
});

describe("shards", () => {
  it("splits a ceiling with the remainder on the first shards, and names the gates", () => {
    expect([0, 1, 2].map((i) => shareOf(16, 3, i))).toEqual([6, 5, 5]);
    expect([0, 1, 2, 3].map((i) => tenantShareOf(2, 4, i))).toEqual([1, 1, 1, 1]);
    expect(gateName("deepseek-flash", 2)).toBe("deepseek-flash#2");
  });

  it("picks the less loaded of two random shards", () => {
    const loads = [
      { inFlight: 8, queued: 4, limit: 8 },
      { inFlight: 2, queued: 0, limit: 8 },
      { inFlight: 8, queued: 0, limit: 8 },
    ];
    const randoms =
      (...values: number[]) =>
      () =>
        values.shift() ?? 0;
    expect(pickShard(loads, randoms(0, 0))).toBe(1);
    expect(pickShard(loads, randoms(0.9, 0.9))).toBe(1);
    expect(pickShard(loads, randoms(0, 0.9))).toBe(2);
    expect(pickShard([loads[0], undefined], randoms(0, 0))).toBe(1);
    expect(pickShard([loads[0]], randoms(0.5))).toBe(0);
  });
});

describe("wait budget", () => {
  const pool = policyOf().pools["deepseek-flash"] as PoolSpec;
  const admittee = { tenant: { id: "acme" }, priority: "normal" as const, totalAt: 1_000_000 };

  it("takes the latency class's wait, or the caller's ask capped at the pool's longest, within the deadline", () => {
    expect(waitBudgetMs(pool, { ...admittee, latency: "interactive" }, 0)).toBe(10_000);
    expect(waitBudgetMs(pool, { ...admittee, latency: "background" }, 0)).toBe(60_000);
    expect(waitBudgetMs(pool, { ...admittee, latency: "interactive", maxWaitMs: 30_000 }, 0)).toBe(30_000);
    expect(waitBudgetMs(pool, { ...admittee, latency: "interactive", maxWaitMs: 999_999 }, 0)).toBe(60_000);
    expect(waitBudgetMs(pool, { ...admittee, latency: "background" }, 995_000)).toBe(5_000);
  });

  it("validates x-router-max-wait-ms", () => {
    expect(parseMaxWait(undefined)).toBeUndefined();
    expect(parseMaxWait("0")).toBe(0);
    expect(parseMaxWait("2500")).toBe(2_500);
    for (const bad of ["", "-1", "1.5", "soon", "3600001"]) {
      expect(() => parseMaxWait(bad)).toThrow(RouterError);
    }
    try {
      parseMaxWait("x");
    } catch (error) {
      expect(error).toMatchObject({ status: 400, param: "x-router-max-wait-ms" });
    }
  });
});

describe("block lending", () => {
  const state = { limit: 100, usedElsewhere: 0, queued: 0 };

  it("lends what the holder wants while the pool is quiet, never out of the reserve", () => {
    expect(reserveOf(100)).toBe(13);
    expect(reserveOf(4)).toBe(1);
    expect(unitsToLend(state, { keep: 0, want: 10, inUse: 0 })).toBe(10);
    // 100 − 13 reserved − 60 used elsewhere = 27 free: at most half of it.
    expect(unitsToLend({ ...state, usedElsewhere: 60 }, { keep: 0, want: 40, inUse: 0 })).toBe(13);
    expect(unitsToLend({ ...state, usedElsewhere: 86 }, { keep: 0, want: 40, inUse: 0 })).toBe(0);
    // Permits in use are the holder's real load, not spare: four equal holders settle on equal blocks.
    expect(unitsToLend({ limit: 40, usedElsewhere: 24, queued: 0 }, { keep: 8, want: 8, inUse: 5 })).toBe(8);
  });

  it("lends nothing more while anyone waits, and never takes back what the holder keeps", () => {
    expect(unitsToLend({ ...state, queued: 1 }, { keep: 4, want: 20, inUse: 1 })).toBe(4);
    // A holder whose permits are in use keeps them even over the limit: the count must match reality.
    expect(unitsToLend({ ...state, usedElsewhere: 100 }, { keep: 5, want: 5, inUse: 5 })).toBe(5);
    expect(unitsToLend(state, { keep: 6, want: 2, inUse: 0 })).toBe(6);
  });

  it("says pressure once waiters queue or the reserve is reached", () => {
    expect(underPressure(state, 10)).toBe(false);
    expect(underPressure({ ...state, queued: 1 }, 0)).toBe(true);
    expect(underPressure({ ...state, usedElsewhere: 80 }, 7)).toBe(true);
  });

  it("has busy holders check in often once three quarters of the limit is out", () => {
    expect(renewalMs(40, 20, 10_000)).toBeCloseTo(3_333.3, 0);
    expect(renewalMs(40, 30, 10_000)).toBe(BUSY_RENEWAL_MS);
  });

  it("stops a holder a tenth of the TTL early, counted from when it sent its call", () => {
    expect(holderExpiry(1_000, 10_000)).toBe(10_000);
  });
});
