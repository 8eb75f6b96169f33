import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mergePages, recordId } from "../../../src/ledger/request-records";
import type { TenantLedger } from "../../../src/ledger/tenant-ledger";
import type { RequestRecord } from "../../../src/trace";

const DAY_MS = 24 * 3600_000;

/** A typical record: a streamed chat answer after one admission wait and one attempt. */
function record(at: number, over: Partial<RequestRecord> = {}): RequestRecord {
  const random = crypto.randomUUID().replaceAll("-", "");
  return {
    id: recordId(at, random),
    requestId: `rq-${random}`,
    at,
    tenant: "size",
    keyId: "key_7f3a9c1e2b4d",
    surface: "openai",
    endpoint: "chat",
    stream: true,
    askedModel: "deepseek-v4-flash",
    model: "deepseek-v4-flash",
    pool: "deepseek-flash",
    target: "deepseek",
    classification: { type: "chat", latency: "interactive", priority: "normal", why: "thinking disabled" },
    route: "thinking disabled; pool deepseek-flash",
    status: 200,
    outcome: "complete",
    finishReason: "stop",
    cache: "MISS",
    usage: {
      promptTokens: 1840,
      completionTokens: 212,
      cacheHitTokens: 1536,
      cacheMissTokens: 304,
      reasoningTokens: 0,
    },
    estimated: false,
    costUsd: 0.00012345,
    savedUsd: 0,
    latencyMs: 2312.45,
    firstTokenMs: 388.12,
    retries: 0,
    fallbacks: 0,
    prompt: {
      family: "9f2c4e1a7b3d5f60",
      prefixHash: "1a2b3c4d5e6f7081",
      promptHash: random.slice(0, 16),
      prefixTokens: 1480,
    },
    timeline: [
      { kind: "admission", atMs: 1.2, durationMs: 3.4, pool: "deepseek-flash" },
      {
        kind: "attempt",
        atMs: 4.7,
        durationMs: 380.1,
        pool: "deepseek-flash",
        model: "deepseek-v4-flash",
        target: "deepseek",
        status: 200,
      },
      { kind: "first_token", atMs: 388.12 },
      { kind: "end", atMs: 2312.45, status: 200 },
    ],
    trace: { traceId: random, spanId: random.slice(0, 16), sampled: true },
    ...over,
  };
}

describe("request records in the tenant ledger", () => {
  it("store a typical record in under 2.5 KB of SQLite, indexes included", async () => {
    const ledger = env.TENANT_LEDGER.getByName(`size-${crypto.randomUUID()}`);
    const size = () => runInDurableObject(ledger, (_: TenantLedger, state) => state.storage.sql.databaseSize);
    await ledger.recordRequests([record(Date.now())]); // creates the tables
    const before = await size();
    const n = 2_000;
    const now = Date.now();
    for (let i = 0; i < n; i += 200) {
      await ledger.recordRequests(Array.from({ length: 200 }, (_, j) => record(now + i + j)));
    }
    const perRecord = ((await size()) - before) / n;
    const json = JSON.stringify(record(now)).length;
    console.log(
      JSON.stringify({
        event: "request_record_size",
        bytesPerRecord: Math.round(perRecord),
        jsonBytes: json,
      }),
    );
    expect(perRecord).toBeGreaterThan(json * 0.8);
    expect(perRecord).toBeLessThan(2_560);
  });

  it("are written once however often a batch is retried, and kept 14 days", async () => {
    const ledger = env.TENANT_LEDGER.getByName(`records-${crypto.randomUUID()}`);
    const now = Date.parse("2026-06-01T00:00:00Z");
    await runInDurableObject(ledger, (instance: TenantLedger) => {
      instance.clock = () => now;
    });
    const old = record(now - 15 * DAY_MS);
    const recent = record(now - DAY_MS);
    expect(await ledger.recordRequests([old, recent])).toBe(2);
    expect(await ledger.recordRequests([old, recent])).toBe(0);
    expect(await runDurableObjectAlarm(ledger)).toBe(true);
    expect(await ledger.request(old.id)).toBeNull();
    expect(await ledger.request(recent.id)).toMatchObject({ id: recent.id });
  });

  it("store the rest of a batch when SQLite refuses one record", async () => {
    const ledger = env.TENANT_LEDGER.getByName(`records-${crypto.randomUUID()}`);
    const before = record(Date.now() - 2);
    // Past what SQLite takes in a Durable Object: no record the router makes comes near it.
    const name = "m".repeat(2_500_000);
    const huge = record(Date.now() - 1, { askedModel: name, model: name });
    const after = record(Date.now());
    expect(await ledger.recordRequests([before, huge, after].map((r) => JSON.stringify(r)))).toBe(2);
    expect(await ledger.request(before.id)).toMatchObject({ id: before.id });
    expect(await ledger.request(after.id)).toMatchObject({ id: after.id });
    expect(await ledger.request(huge.id)).toBeNull();
  });

  it("merge several tenants' pages newest first", () => {
    const at = Date.now();
    const a = [record(at + 3), record(at + 1)];
    const b = [record(at + 2), record(at)];
    const merged = mergePages(
      [
        { data: a, hasMore: false },
        { data: b, hasMore: false },
      ],
      3,
    );
    expect(merged.data.map((r) => r.at)).toEqual([at + 3, at + 2, at + 1]);
    expect(merged.hasMore).toBe(true);
  });
});
