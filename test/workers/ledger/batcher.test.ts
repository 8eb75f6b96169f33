import { describe, expect, it } from "vitest";
import { LedgerBatcher } from "../../../src/ledger/batcher";
import type { LedgerEntry } from "../../../src/ledger/entry";

const entry = (requestId: string): LedgerEntry => ({
  entryId: requestId,
  kind: "request",
  requestId,
  at: 0,
  model: "m",
  pool: null,
  status: 200,
  outcome: "complete",
  cache: null,
  usage: { promptTokens: 1, completionTokens: 1, cacheHitTokens: 0, cacheMissTokens: 1, reasoningTokens: 0 },
  estimated: false,
  costUsd: 0,
  savedUsd: 0,
});

describe("LedgerBatcher", () => {
  it("writes what arrives together in one call per tenant, and every add waits for its write", async () => {
    const writes: Array<[string, string[]]> = [];
    const batcher = new LedgerBatcher(
      async (tenant, entries) => {
        writes.push([tenant, entries.map((e) => e.requestId)]);
      },
      () => {},
    );
    const flushes = [
      batcher.add("a", entry("1")),
      batcher.add("b", entry("2")),
      batcher.add("a", entry("3")),
    ];
    expect(writes).toEqual([]);
    await Promise.all(flushes);
    expect(writes.sort()).toEqual([
      ["a", ["1", "3"]],
      ["b", ["2"]],
    ]);
    await batcher.add("a", entry("4"));
    expect(writes.at(-1)).toEqual(["a", ["4"]]);
  });

  it("flushes at once when a tenant's batch is full", async () => {
    const sizes: number[] = [];
    const batcher = new LedgerBatcher(
      async (_, entries) => {
        sizes.push(entries.length);
      },
      () => {},
    );
    const adds = Array.from({ length: 450 }, (_, i) => batcher.add("a", entry(String(i))));
    await Promise.all(adds);
    expect(sizes).toEqual([200, 200, 50]);
  });

  it("retries a write that fails for a moment (an evicted ledger), so the usage is not lost", async () => {
    let calls = 0;
    const written: string[] = [];
    const failures: number[] = [];
    const batcher = new LedgerBatcher(
      async (_, entries) => {
        calls++;
        if (calls <= 2) throw new Error("Network connection lost.");
        written.push(...entries.map((e) => e.requestId));
      },
      (_, entries) => failures.push(entries),
    );
    await batcher.add("a", entry("kept"));
    expect({ calls, written, failures }).toEqual({ calls: 3, written: ["kept"], failures: [] });
  });

  it("reports a write that keeps failing, after its retries, without rejecting the request's waitUntil", async () => {
    const failures: number[] = [];
    const batcher = new LedgerBatcher(
      async () => {
        throw new Error("ledger down");
      },
      (_, entries) => failures.push(entries),
    );
    await expect(batcher.add("a", entry("x"))).resolves.toBeUndefined();
    expect(failures).toEqual([1]);
  });
});
