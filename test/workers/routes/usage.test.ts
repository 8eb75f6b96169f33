import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { UsageSummary } from "../../../src/ledger/entry";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import { callRouter, errorOf, ledgerRow } from "../helpers";

const DAY_MS = 24 * 3600_000;
const MARCH_1 = Date.parse("2001-03-01T00:00:00Z");

async function usage(query: string, key?: string): Promise<UsageSummary> {
  const response = await callRouter(`/v1/usage${query}`, key === undefined ? {} : { key });
  expect(response.status).toBe(200);
  return response.json();
}

beforeAll(async () => {
  const now = Date.now();
  await env.TENANT_LEDGER.getByName("acme").recordMany([
    ledgerRow("at-from", MARCH_1),
    ledgerRow("inside", MARCH_1 + DAY_MS + 5, { model: "deepseek-v4-pro", outcome: "failed", costUsd: 1.25 }),
    ledgerRow("at-to", MARCH_1 + 2 * DAY_MS),
    ledgerRow("yesterday", now - DAY_MS),
    ledgerRow("eight-days-ago", now - 8 * DAY_MS),
  ]);
  await env.TENANT_LEDGER.getByName("globex").recordMany([ledgerRow("globex-inside", MARCH_1 + 10)]);
});

describe("GET /v1/usage", () => {
  it("sums the caller's requests in [from, to), by model, day and outcome", async () => {
    const summary = await usage("?from=2001-03-01T00:00:00Z&to=2001-03-03T00:00:00Z");
    expect(summary).toMatchObject({ tenant: "acme", from: MARCH_1, to: MARCH_1 + 2 * DAY_MS });
    expect(summary.totals).toMatchObject({
      requests: 2,
      promptTokens: 200,
      completionTokens: 20,
      costUsd: 1.75,
    });
    expect(summary.byModel.map((row) => [row.model, row.requests])).toEqual([
      ["deepseek-v4-flash", 1],
      ["deepseek-v4-pro", 1],
    ]);
    expect(summary.byDay.map((row) => row.day)).toEqual(["2001-03-01", "2001-03-02"]);
    expect(summary.byOutcome).toEqual({ complete: 1, failed: 1 });
  });

  it("takes epoch milliseconds as well as ISO dates", async () => {
    const iso = await usage("?from=2001-03-01T00:00:00Z&to=2001-03-03T00:00:00Z");
    const epoch = await usage(`?from=${MARCH_1}&to=${MARCH_1 + 2 * DAY_MS}`);
    expect(epoch).toEqual(iso);
  });

  it("defaults to the last seven days", async () => {
    const before = Date.now();
    const summary = await usage("");
    expect(summary.totals.requests).toBe(1);
    expect(summary.to).toBeGreaterThanOrEqual(before);
    expect(summary.to - summary.from).toBe(7 * DAY_MS);
  });

  it("shows each tenant only its own requests", async () => {
    const range = "?from=2001-03-01T00:00:00Z&to=2001-03-02T00:00:00Z";
    expect((await usage(range, GLOBEX_KEY)).totals.requests).toBe(1);
    expect((await usage(range, GLOBEX_KEY)).tenant).toBe("globex");
    expect((await usage(range)).totals.requests).toBe(1);
  });

  it.each([
    ["?from=yesterday", "from"],
    ["?to=soon", "to"],
    // Date.parse reads these as dates in 2001: not ISO 8601, not epoch milliseconds.
    ["?from=-1", "from"],
    ["?from=1%202", "from"],
    ["?to=March%207", "to"],
    ["?from=2001-03-02T00:00:00Z&to=2001-03-01T00:00:00Z", "from"],
  ])("400s %s naming '%s'", async (query, param) => {
    const response = await callRouter(`/v1/usage${query}`);
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "invalid_request", param });
  });

  it("needs a router key", async () => {
    expect((await callRouter("/v1/usage", { key: null })).status).toBe(401);
  });

  it("is 405 for POST, naming GET", async () => {
    const response = await callRouter("/v1/usage", { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
  });
});
