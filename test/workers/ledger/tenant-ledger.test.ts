import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TenantLedger } from "../../../src/ledger/tenant-ledger";
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
});
