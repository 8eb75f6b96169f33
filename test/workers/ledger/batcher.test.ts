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
  keyId: null,
  endUser: null,
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

  it("keeps each add's promise pending until its own entry is written, when its window was written early", async () => {
    // A request holds this promise in its waitUntil: resolved before its entry is written, the request
    // could end, and workerd would cancel what its write still waits for (a captured payload's timer).
    let release: () => void = () => {};
    const firstWrite = new Promise<void>((resolve) => {
      release = resolve;
    });
    const written: string[] = [];
    let calls = 0;
    const batcher = new LedgerBatcher(
      async (_, entries) => {
        if (++calls === 1) await firstWrite;
        written.push(...entries.map((e) => e.requestId));
      },
      () => {},
    );
    const full = Array.from({ length: 200 }, (_, i) => batcher.add("a", entry(String(i))));
    let firstSettled = false;
    void full[0]?.then(() => {
      firstSettled = true;
    });
    // The next window is written by its own timer while the full one's write is still held up.
    await batcher.add("a", entry("next"));
    expect(written).toEqual(["next"]);
    expect(firstSettled).toBe(false);
    release();
    await Promise.all(full);
    expect(written).toHaveLength(201);
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
