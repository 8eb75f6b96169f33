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
    const fresh = { ...entry, entryId: crypto.randomUUID(), requestId: `${requestId}-other` };
    expect(await ledger.recordMany([replayed, fresh])).toBe(1);
    expect((await ledger.entry(requestId))?.costUsd).toBe(entry.costUsd);
    expect((await ledger.entry(fresh.requestId))?.costUsd).toBe(entry.costUsd);
  });

  it("records every request of a caller that reuses one x-request-id: the id is not a billing key", async () => {
    const sim = await createSim();
    const requestId = `reused-${crypto.randomUUID()}`;
    for (let i = 0; i < 3; i++) {
      const response = await sim.call("/v1/chat/completions", {
        json: chatBody({ messages: [{ role: "user", content: `Question ${i}` }] }),
        headers: { "x-request-id": requestId },
      });
      expect(response.headers.get("x-request-id")).toBe(requestId);
      await response.text();
    }
    const ledger = env.TENANT_LEDGER.getByName("acme");
    await eventually(async () => expect(await ledger.entries(requestId)).toHaveLength(3));
    const rows = await ledger.entries(requestId);
    expect(new Set(rows.map((row) => row.entryId)).size).toBe(3);
    expect(rows.every((row) => row.usage.promptTokens > 0 && row.costUsd > 0)).toBe(true);
  });

  it("records a non-streamed answer cut mid-JSON as an estimated attempt, not as a free rejection", async () => {
    const sim = await createSim({
      faultScript: [{ kind: "cutMidStream" }, { kind: "cutMidStream" }, { kind: "cutMidStream" }],
    });
    const requestId = `ledger-json-cut-${crypto.randomUUID()}`;
    const response = await sim.call("/v1/chat/completions", {
      json: chatBody(),
      headers: { "x-request-id": requestId },
    });
    expect(response.status).toBe(502);
    const ledger = env.TENANT_LEDGER.getByName("acme");
    await eventually(async () => expect((await ledger.entries(requestId)).length).toBeGreaterThan(1));
    const rows = await ledger.entries(requestId);
    const attempts = rows.filter((row) => row.kind === "attempt");
    expect(attempts.length).toBe((await sim.stats()).requests);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({ estimated: true, outcome: "failed" });
      expect(attempt.usage.promptTokens).toBeGreaterThan(0);
    }
    expect(rows.filter((row) => row.kind === "request")).toMatchObject([
      { outcome: "rejected", status: 502 },
    ]);
  });

  it("records a retried attempt that the upstream accepted, beside the answer that followed", async () => {
    const sim = await createSim({ faultScript: [{ kind: "blankBody" }] });
    const requestId = `ledger-retried-${crypto.randomUUID()}`;
    const response = await sim.call("/v1/chat/completions", {
      json: chatBody(),
      headers: { "x-request-id": requestId },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-router-retries")).toBe("1");
    const ledger = env.TENANT_LEDGER.getByName("acme");
    await eventually(async () => expect(await ledger.entries(requestId)).toHaveLength(2));
    const [attempt, request] = await ledger.entries(requestId);
    expect(attempt).toMatchObject({ kind: "attempt", estimated: true });
    expect(request).toMatchObject({ kind: "request", outcome: "complete", estimated: false });
    const summary = (await (await sim.call("/v1/usage")).json()) as { totals: { requests: number } };
    expect(summary.totals.requests).toBeGreaterThan(0);
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
