import { describe, expect, it } from "vitest";
import type { CacheEntry } from "../../../src/cache/entry";
import { isInFlight, joinOrLead, land } from "../../../src/cache/flight";
import { MemoryTier } from "../../../src/cache/memory";

function entry(expiresAt = 1_000_000): CacheEntry {
  return {
    v: 1,
    kind: "json",
    endpoint: "chat",
    model: "m",
    storedAt: 0,
    expiresAt,
    finishReason: "stop",
    json: "{}",
  };
}

describe("the isolate's memory tier", () => {
  it("evicts the least recently used entries beyond its byte budget", () => {
    const memory = new MemoryTier(100, 60_000);
    memory.set("a", entry(), 25, 0);
    memory.set("b", entry(), 25, 0);
    memory.set("c", entry(), 25, 0);
    expect(memory.get("a", 1)).toBeDefined();
    memory.set("d", entry(), 25, 1);
    memory.set("e", entry(), 25, 1);
    expect(memory.get("b", 2)).toBeUndefined();
    expect(memory.get("a", 2)).toBeDefined();
    expect(memory.size).toEqual({ entries: 4, bytes: 100 });
    memory.set("huge", entry(), 26, 2);
    expect(memory.get("huge", 3)).toBeUndefined();
  });

  it("keeps an entry no longer than its max age or its own expiry, and purges by prefix", () => {
    const memory = new MemoryTier(1000, 60_000);
    memory.set("cache:v1:tenant:a:1", entry(), 10, 0);
    memory.set("cache:v1:tenant:a:2", entry(30_000), 10, 0);
    memory.set("cache:v1:tenant:b:1", entry(), 10, 0);
    expect(memory.get("cache:v1:tenant:a:2", 29_999)).toBeDefined();
    expect(memory.get("cache:v1:tenant:a:2", 30_000)).toBeUndefined();
    expect(memory.get("cache:v1:tenant:a:1", 60_000)).toBeUndefined();
    memory.set("cache:v1:tenant:a:1", entry(), 10, 0);
    memory.deletePrefix("cache:v1:tenant:a:");
    expect(memory.get("cache:v1:tenant:a:1", 1)).toBeUndefined();
    expect(memory.get("cache:v1:tenant:b:1", 1)).toBeDefined();
  });
});

describe("flights", () => {
  it("one leader per key; a flight past its leader's deadline is abandoned, not joined", () => {
    const key = `flight-${crypto.randomUUID()}`;
    const first = joinOrLead(key, 0, 1_000);
    expect(first.role).toBe("leader");
    expect(joinOrLead(key, 500, 2_000)).toEqual({ role: "follower", flight: first.flight });
    expect(isInFlight(key, 1_001)).toBe(false);
    const next = joinOrLead(key, 1_001, 3_000);
    expect(next.role).toBe("leader");
    land(key, first.flight);
    expect(isInFlight(key, 1_002)).toBe(true);
    land(key, next.flight);
    expect(isInFlight(key, 1_002)).toBe(false);
  });

  it("a finished flight can be joined only briefly, while its entry is written", () => {
    const key = `flight-${crypto.randomUUID()}`;
    const { flight } = joinOrLead(key, Date.now(), Date.now() + 60_000);
    flight.answering("json", { model: "m", pool: "p", target: "t" });
    flight.end({ outcome: "complete", finishReason: "stop" });
    expect(isInFlight(key, Date.now())).toBe(true);
    expect(isInFlight(key, Date.now() + 10_001)).toBe(false);
    flight.fail("abandoned");
    expect(flight.state.phase).toBe("ended");
    land(key, flight);
  });

  it("a failed flight is never joined", () => {
    const key = `flight-${crypto.randomUUID()}`;
    const { flight } = joinOrLead(key, 0, 60_000);
    flight.fail("abandoned");
    expect(isInFlight(key, 1)).toBe(false);
    land(key, flight);
  });
});
