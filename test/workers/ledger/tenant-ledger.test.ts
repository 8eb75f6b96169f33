import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TenantLedger } from "../../../src/ledger/tenant-ledger";
import { ledgerRow } from "../helpers";

const DAY_MS = 24 * 3600_000;

describe("TenantLedger", () => {
  it("keeps 35 days: the daily alarm drops older rows, on the ledger's own clock", async () => {
    const ledger = env.TENANT_LEDGER.getByName(`retention-${crypto.randomUUID()}`);
    const now = Date.parse("2026-06-01T00:00:00Z");
    await runInDurableObject(ledger, (instance: TenantLedger) => {
      instance.clock = () => now;
    });
    await ledger.recordMany([ledgerRow("old", now - 36 * DAY_MS), ledgerRow("recent", now - 2 * DAY_MS)]);
    expect(await runDurableObjectAlarm(ledger)).toBe(true);
    expect(await ledger.entry("old")).toBeNull();
    expect(await ledger.entry("recent")).not.toBeNull();
  });

  it("sums what the tenant, a key or an end user spent since a time; rows from before spenders were kept count for the tenant", async () => {
    const ledger = env.TENANT_LEDGER.getByName(`spenders-${crypto.randomUUID()}`);
    const now = Date.now();
    // A ledger of the schema before rows named their spender, with one such row.
    await runInDurableObject(ledger, (_: TenantLedger, state) => {
      state.storage.sql.exec("DROP TABLE usage_rows");
      state.storage.sql.exec(`CREATE TABLE usage_rows (entry_id TEXT PRIMARY KEY, request_id TEXT NOT NULL,
        kind TEXT NOT NULL, at INTEGER NOT NULL, model TEXT NOT NULL, pool TEXT, status INTEGER NOT NULL,
        outcome TEXT NOT NULL, cache TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
        cache_hit_tokens INTEGER NOT NULL, cache_miss_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
        estimated INTEGER NOT NULL, cost_usd REAL NOT NULL, saved_usd REAL NOT NULL)`);
      state.storage.sql.exec(
        "INSERT INTO usage_rows VALUES ('old', 'old', 'request', ?, 'm', NULL, 200, 'complete', NULL, 1, 1, 0, 1, 0, 0, 1, 0)",
        now - 1_000,
      );
      new TenantLedger(state, env);
    });
    await ledger.recordMany([
      ledgerRow("a", now, { costUsd: 2, keyId: "key_a" }),
      ledgerRow("b", now, { costUsd: 4, keyId: "key_b", endUser: "u_1" }),
      ledgerRow("before", now - DAY_MS, { costUsd: 8, keyId: "key_a" }),
    ]);
    const from = now - 60_000;
    expect(
      await ledger.spentSince([
        { from },
        { keyId: "key_a", from },
        { endUser: "u_1", from },
        { keyId: "nobody", from },
      ]),
    ).toEqual([7, 2, 4, 0]);
    expect((await ledger.entry("b"))?.endUser).toBe("u_1");
  });
});
