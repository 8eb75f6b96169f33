import { describe, expect, it } from "vitest";
import {
  ageSeconds,
  type CacheEntry,
  decodeEntry,
  encodeEntry,
  isFresh,
  storeVerdict,
} from "../../../src/cache/entry";
import { StatsBuffer } from "../../../src/cache/stats";
import { KV_MAX_VALUE_BYTES } from "../../../src/config/cache-limits";

const entry: CacheEntry = {
  v: 1,
  kind: "stream",
  endpoint: "chat",
  model: "deepseek-v4-flash",
  storedAt: 1_000_000,
  expiresAt: 1_060_000,
  finishReason: "stop",
  events: ['{"id":"x"}'],
};

describe("entries", () => {
  it("round-trip through their encoding and reject anything else", () => {
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
    expect(decodeEntry("not json")).toBeUndefined();
    expect(decodeEntry(JSON.stringify({ ...entry, v: 0 }))).toBeUndefined();
    expect(decodeEntry(JSON.stringify({ ...entry, kind: "json" }))).toBeUndefined();
  });

  it("expire by their own timestamp, checked at read, and honour a request's max-age", () => {
    expect(isFresh(entry, 1_059_999)).toBe(true);
    expect(isFresh(entry, 1_060_000)).toBe(false);
    expect(isFresh(entry, 1_030_000, 30)).toBe(true);
    expect(isFresh(entry, 1_030_001, 30)).toBe(false);
    expect(ageSeconds(entry, 1_002_999)).toBe(2);
  });
});

describe("what is stored", () => {
  const complete = { outcome: "complete" as const, finishReason: "stop", bytes: 100, servedOtherwise: false };

  it("only complete answers that finished normally, within the size limit, from the keyed step", () => {
    expect(storeVerdict(complete, 1000)).toEqual({ store: true });
    expect(storeVerdict({ ...complete, finishReason: "length" }, 1000).store).toBe(true);
    for (const outcome of ["truncated", "failed", "cancelled"] as const) {
      expect(storeVerdict({ ...complete, outcome }, 1000)).toEqual({ store: false, reason: "incomplete" });
    }
    expect(storeVerdict({ ...complete, finishReason: undefined }, 1000)).toEqual({
      store: false,
      reason: "no_finish_reason",
    });
    expect(storeVerdict({ ...complete, finishReason: "insufficient_system_resource" }, 1000)).toEqual({
      store: false,
      reason: "insufficient_system_resource",
    });
    expect(storeVerdict({ ...complete, bytes: 1001 }, 1000)).toEqual({ store: false, reason: "too_large" });
    expect(storeVerdict({ ...complete, bytes: KV_MAX_VALUE_BYTES + 1 }, Infinity).store).toBe(false);
    expect(storeVerdict({ ...complete, servedOtherwise: true }, 1000)).toEqual({
      store: false,
      reason: "served_otherwise",
    });
    expect(storeVerdict({ ...complete, malformed: true }, 1000)).toEqual({
      store: false,
      reason: "malformed",
    });
  });
});

describe("stats buffering", () => {
  it("writes a tenant's counts at most once a second and drains the rest on demand", () => {
    const buffer = new StatsBuffer();
    expect(buffer.record("acme", { hits: 1 }, 0)).toMatchObject({ hits: 1 });
    expect(buffer.record("acme", { hits: 1, savedUsd: 0.5 }, 500)).toBeUndefined();
    expect(buffer.record("globex", { misses: 1 }, 600)).toMatchObject({ misses: 1 });
    expect(buffer.record("acme", { misses: 1 }, 1000)).toMatchObject({ hits: 1, misses: 1, savedUsd: 0.5 });
    buffer.record("acme", { coalesced: 2 }, 1200);
    expect(buffer.drain()).toEqual([["acme", expect.objectContaining({ coalesced: 2, hits: 0 })]]);
    expect(buffer.drain()).toEqual([]);
  });
});
