import { env } from "cloudflare:workers";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DataPoint } from "../../../src/observe/analytics";
import type { CompletionRecord } from "../../../src/observe/log";
import { chatBody, createSim, eventually, ledgerEntry, type SimInstance, singlePoolPolicy } from "../helpers";
import { asOperator, collectCompletionLogs } from "./support";

/** Spend as each record states it: tokens in and out, and dollars. */
interface Spend {
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

const CHAT = "/v1/chat/completions";
const FAST_RETRY = { max: 1, baseMs: 1, capMs: 2, budgetRatio: 1 };

let logged: CompletionRecord[] = [];
let points: DataPoint[] = [];

beforeEach(() => {
  logged = [];
  points = [];
  collectCompletionLogs(logged);
  vi.spyOn(env.REQUEST_EVENTS, "writeDataPoint").mockImplementation((point) => {
    points.push(point as DataPoint);
  });
});
afterEach(() => vi.restoreAllMocks());

function sum<T>(items: T[], spend: (item: T) => Spend): Spend {
  return items.map(spend).reduce(
    (a, b) => ({
      promptTokens: a.promptTokens + b.promptTokens,
      completionTokens: a.completionTokens + b.completionTokens,
      costUsd: a.costUsd + b.costUsd,
    }),
    { promptTokens: 0, completionTokens: 0, costUsd: 0 },
  );
}

const fromLog = (r: CompletionRecord): Spend => ({
  promptTokens: r.usage?.promptTokens ?? 0,
  completionTokens: r.usage?.completionTokens ?? 0,
  costUsd: r.costUsd ?? 0,
});
// Analytics Engine's columns: double5 prompt tokens, double6 output tokens, double8 cost (analytics.ts).
const fromPoint = (p: DataPoint): Spend => ({
  promptTokens: p.doubles[4] ?? 0,
  completionTokens: p.doubles[5] ?? 0,
  costUsd: p.doubles[7] ?? 0,
});

async function ledgerSpend(sim: SimInstance, policy: string): Promise<Spend & { requests: number }> {
  const response = await sim.call("/v1/usage", {}, { ROUTER_POLICY: policy });
  const { totals } = (await response.json()) as { totals: Spend & { requests: number } };
  return totals;
}

/** The fleet's counters for tenant acme, summed over pools and models. */
async function metricSpend(sim: SimInstance, policy: string): Promise<Spend> {
  const text = await (await asOperator(sim.baseUrl, "/metrics", {}, { ROUTER_POLICY: policy })).text();
  const families = parsePrometheusTextFormat(text);
  const total = (name: string, direction?: string) =>
    (families.find((f) => f.name === name)?.metrics ?? [])
      .filter((m) => m.labels?.tenant === "acme" && (!direction || m.labels?.direction === direction))
      .reduce((n, m) => n + Number(m.value), 0);
  return {
    promptTokens: total("router_tokens_total", "input"),
    completionTokens: total("router_tokens_total", "output"),
    costUsd: total("router_cost_usd_total"),
  };
}

/** Tokens exactly; dollars to `digits` decimals (the ledger's summary rounds to micro-dollars). */
function expectSame(actual: Spend, expected: Spend, digits = 9): void {
  expect(actual.promptTokens).toBe(expected.promptTokens);
  expect(actual.completionTokens).toBe(expected.completionTokens);
  expect(actual.costUsd).toBeCloseTo(expected.costUsd, digits);
}

describe("a request's log line, metrics and Analytics Engine point carry every attempt it spent", () => {
  it("an answer cut mid-body, then a failed retry: the 5xx record holds the cut attempt's estimate", async () => {
    const sim = await createSim({
      faultScript: [{ kind: "cutMidStream" }, { kind: "status", status: 503 }],
    });
    const policy = singlePoolPolicy(sim.baseUrl, { retries: FAST_RETRY });
    const requestId = `cut-then-503-${crypto.randomUUID()}`;
    const response = await sim.call(
      CHAT,
      { json: chatBody(), headers: { "x-request-id": requestId } },
      { ROUTER_POLICY: policy },
    );
    expect(response.status).toBeGreaterThanOrEqual(500);
    await response.text();

    const record = logged.find((r) => r.requestId === requestId);
    expect(record).toMatchObject({ estimated: true, spentAttempts: 1 });
    expect(record?.usage?.promptTokens).toBeGreaterThan(0);
    expect(record?.costUsd).toBeGreaterThan(0);
    const point = points.find((p) => p.blobs[8] === requestId);
    expect(point && fromPoint(point)).toEqual(record && fromLog(record));

    // The request's own row books nothing (no answer came); its attempt row holds what the log says.
    expect((await ledgerEntry(requestId)).usage.promptTokens).toBe(0);
    const rows = await env.TENANT_LEDGER.getByName("acme").entries(requestId);
    expect(sum(rows, (row) => ({ ...row.usage, costUsd: row.costUsd }))).toEqual(record && fromLog(record));
  });

  it("after a chaos run with cuts, stalls, 429s, 503s and departures, the log, metrics, Analytics Engine and ledger agree", async () => {
    const sim = await createSim({
      ttftMs: 10,
      tokensPerS: 500,
      minAnswerTokens: 10,
      maxAnswerTokens: 40,
      seed: 11,
      faults: {
        statusRates: { "429": 0.1, "503": 0.1 },
        cutMidStreamRate: 0.15,
        stallBeforeFirstTokenRate: 0.05,
        stallMidStreamRate: 0.05,
        stallMs: 400,
        stallKeepAlive: true,
      },
    });
    const policy = singlePoolPolicy(sim.baseUrl, {
      timeouts: {
        firstTokenMs: { interactive: 200, background: 200 },
        idleMs: 200,
        totalMs: { interactive: 3_000, background: 3_000 },
      },
      retries: FAST_RETRY,
    });
    const ledgerBefore = await ledgerSpend(sim, policy);
    const metricsBefore = await metricSpend(sim, policy);
    logged.length = 0;
    points = [];

    const REQUESTS = 30;
    await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const leave = new AbortController();
        if (i % 4 === 0) setTimeout(() => leave.abort(), 30 + i * 7);
        try {
          const response = await sim.call(
            CHAT,
            {
              json: chatBody({ stream: i % 2 === 0, messages: [{ role: "user", content: `Chaos ${i}` }] }),
              signal: leave.signal,
            },
            { ROUTER_POLICY: policy },
          );
          await response.text();
        } catch {
          // A departed caller sees its own abort.
        }
      }),
    );

    let ledger = ledgerBefore;
    await eventually(async () => {
      ledger = await ledgerSpend(sim, policy);
      expect(ledger.requests - ledgerBefore.requests).toBe(REQUESTS);
      expect(logged).toHaveLength(REQUESTS);
    }, 30_000);
    const fromLogs = sum(logged, fromLog);
    expect(logged.some((r) => (r.spentAttempts ?? 0) > 0)).toBe(true);
    expectSame(sum(points, fromPoint), fromLogs);
    // The ledger keeps the request rows and every spent attempt's row; its totals are their sums.
    expectSame(
      {
        promptTokens: ledger.promptTokens - ledgerBefore.promptTokens,
        completionTokens: ledger.completionTokens - ledgerBefore.completionTokens,
        costUsd: ledger.costUsd - ledgerBefore.costUsd,
      },
      fromLogs,
      5,
    );
    await eventually(async () => {
      const fleet = await metricSpend(sim, policy);
      expectSame(
        {
          promptTokens: fleet.promptTokens - metricsBefore.promptTokens,
          completionTokens: fleet.completionTokens - metricsBefore.completionTokens,
          costUsd: fleet.costUsd - metricsBefore.costUsd,
        },
        fromLogs,
      );
    }, 10_000);
  }, 60_000);
});
