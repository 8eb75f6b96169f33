import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import { callRouter, chatBody, createSim, eventually, ledgerEntry, readSse } from "../helpers";

describe("usage ledger", () => {
  it("records a streamed answer's reported usage and its cost, once", async () => {
    const sim = await createSim();
    const requestId = `ledger-stream-${crypto.randomUUID()}`;
    const response = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true }),
      headers: { "x-request-id": requestId },
    });
    const events = await readSse(response);
    const final = JSON.parse(events.at(-2) ?? "{}") as {
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    const entry = await ledgerEntry(requestId);
    expect(entry).toMatchObject({
      outcome: "complete",
      status: 200,
      pool: "deepseek-flash",
      estimated: false,
    });
    expect(entry.usage.promptTokens).toBe(final.usage.prompt_tokens);
    expect(entry.usage.completionTokens).toBe(final.usage.completion_tokens);
    expect(entry.costUsd).toBeGreaterThan(0);

    const ledger = env.TENANT_LEDGER.getByName("acme");
    const replayed = { ...entry, costUsd: 99 };
    const fresh = { ...entry, requestId: `${requestId}-other` };
    expect(await ledger.recordMany([replayed, fresh])).toBe(1);
    expect((await ledger.entry(requestId))?.costUsd).toBe(entry.costUsd);
    expect((await ledger.entry(fresh.requestId))?.costUsd).toBe(entry.costUsd);
  });

  it("estimates usage for a stream that broke before the upstream reported it", async () => {
    const sim = await createSim({ faultScript: [{ kind: "cutMidStream", afterChunks: 5 }] });
    const requestId = `ledger-cut-${crypto.randomUUID()}`;
    const response = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true }),
      headers: { "x-request-id": requestId },
    });
    await response.text();
    const entry = await ledgerEntry(requestId);
    expect(entry.outcome).toBe("failed");
    expect(entry.estimated).toBe(true);
    expect(entry.usage.completionTokens).toBeGreaterThan(0);
    expect(entry.usage.promptTokens).toBeGreaterThan(0);
  });

  it("records a shed or rejected request with no usage", async () => {
    const sim = await createSim({ faults: { statusRates: { "503": 1 } } });
    const requestId = `ledger-503-${crypto.randomUUID()}`;
    const response = await sim.call("/v1/chat/completions", {
      json: chatBody(),
      headers: { "x-request-id": requestId },
    });
    expect(response.status).toBe(503);
    const entry = await ledgerEntry(requestId);
    expect(entry).toMatchObject({ outcome: "rejected", status: 503, estimated: false, costUsd: 0 });
    expect(entry.usage.promptTokens).toBe(0);
  });

  it("GET /v1/usage shows the caller's own usage only", async () => {
    const sim = await createSim();
    await (await sim.call("/v1/chat/completions", { json: chatBody(), key: GLOBEX_KEY })).text();
    await eventually(async () => {
      const summary = (await (await callRouter("/v1/usage", { key: GLOBEX_KEY })).json()) as {
        tenant: string;
        totals: { requests: number; costUsd: number };
        byModel: Array<{ model: string }>;
      };
      expect(summary.tenant).toBe("globex");
      expect(summary.totals.requests).toBeGreaterThanOrEqual(1);
      expect(summary.byModel.map((row) => row.model)).toContain("deepseek-v4-flash");
    });
    const acme = (await (await callRouter("/v1/usage")).json()) as { tenant: string };
    expect(acme.tenant).toBe("acme");
  });
});
