import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Limits } from "../../../src/config/limits";
import { RouterError } from "../../../src/errors";
import { reserveSpend } from "../../../src/tenancy/enforce";
import { windowOf } from "../../../src/tenancy/spend";
import { HOLDING_FRESH_MS, type SpendAuthority } from "../../../src/tenancy/spend-authority";
import type { SpendHolder } from "../../../src/tenancy/spend-holder";
import { eventually } from "../helpers";

const ISOLATES = 4;
const CALLERS_PER_ISOLATE = 8;

interface Run {
  /** Real dollars of every admitted request. */
  spent: number;
  /** What real usage exceeded reservations by, summed: the stated overshoot bound. */
  excess: number;
  admitted: number;
  refused: number;
  /** Refusals for what requests in flight had reserved (429 `budget_reserved`), retried. */
  deferred: number;
  /** The authority's count once every request settled and every isolate gave back its idle spare. */
  authorityUsed: number;
}

/**
 * Many callers in several router isolates (each with its own holder state, as separate isolates have)
 * spend one tenant's daily budget through the real authority Durable Object until it refuses them.
 * Real cost is the estimate times 0.5 to 1.3, so some requests cost more than they reserved.
 */
async function spendDown(limits: Limits, budget: number): Promise<Run> {
  const tenant = `t-${crypto.randomUUID().slice(0, 8)}`;
  const pending: Array<Promise<unknown>> = [];
  const run: Run = { spent: 0, excess: 0, admitted: 0, refused: 0, deferred: 0, authorityUsed: 0 };
  const isolates = Array.from({ length: ISOLATES }, () => new Map<string, SpendHolder>());
  const caller = async (holders: Map<string, SpendHolder>) => {
    for (;;) {
      const estimate = 0.005 + Math.random() * 0.02;
      let spend: Awaited<ReturnType<typeof reserveSpend>>;
      try {
        spend = await reserveSpend({
          authorities: env.SPEND_AUTHORITY,
          scopes: { tenant: { id: tenant, limits } },
          classification: { promptTokens: 10, outputTokens: 10, estimatedCostUsd: estimate },
          now: Date.now(),
          waitUntil: (work) => pending.push(work),
          holders,
        });
      } catch (error) {
        expect(error).toBeInstanceOf(RouterError);
        const { code } = error as RouterError;
        if (code === "budget_reserved") {
          // What is left is held by this isolate's requests in flight: retry, as an SDK would.
          run.deferred++;
          await new Promise((resolve) => setTimeout(resolve, 2));
          continue;
        }
        expect(code).toBe("budget_exhausted");
        run.refused++;
        return;
      }
      run.admitted++;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      const real = estimate * (0.5 + Math.random() * 0.8);
      run.spent += real;
      run.excess += Math.max(0, real - estimate);
      spend?.settle(20, real);
    }
  };
  await Promise.all(
    isolates.flatMap((holders) => Array.from({ length: CALLERS_PER_ISOLATE }, () => caller(holders))),
  );
  while (pending.length > 0) await Promise.all(pending.splice(0));
  const { start, end } = windowOf("usd-day", Date.now());
  const [used] = await env.SPEND_AUTHORITY.getByName(tenant).used([
    { counter: "tenant:usd-day", kind: "usd-day", window: start, windowEnd: end },
  ]);
  run.authorityUsed = used ?? 0;
  expect(run.spent).toBeGreaterThan(budget / 2);
  return run;
}

describe(`a budget spent by ${ISOLATES} router isolates at once`, () => {
  it.each([
    ["leased in blocks of 5%", 0.05],
    ["with zero tolerance (no lease)", 0],
  ])("is overshot by no more than real usage beyond reservations, %s", async (_, lease) => {
    const budget = 1;
    const run = await spendDown({ usdPerDay: budget, lease }, budget);
    expect(run.refused).toBe(ISOLATES * CALLERS_PER_ISOLATE);
    expect(run.spent).toBeLessThanOrEqual(budget + run.excess + 1e-9);
    // Every refund came home and every debt was heard: the authority counts what was really spent.
    expect(run.authorityUsed).toBeCloseTo(run.spent, 9);
    // Nor is the tenant locked out early: what stays unspent is at most a block per isolate and a request.
    expect(run.spent).toBeGreaterThanOrEqual(budget - ISOLATES * budget * lease - 0.025 - run.excess);
  });
});

describe("a dollar budget held by reservations of requests in flight", () => {
  const reserve = (tenant: string, holders: Map<string, SpendHolder>, estimatedCostUsd: number) =>
    reserveSpend({
      authorities: env.SPEND_AUTHORITY,
      scopes: { tenant: { id: tenant, limits: { usdPerDay: 1, lease: 0 } } },
      classification: { promptTokens: 10, outputTokens: 10, estimatedCostUsd },
      now: Date.now(),
      waitUntil: () => {},
      holders,
    });
  const codeOf = (attempt: Promise<unknown>) =>
    attempt.then(
      () => "admitted",
      (error: RouterError) => error.code,
    );

  it("is 429 budget_reserved while requests in flight hold it, in any isolate, and fits once they settle", async () => {
    const tenant = `t-${crypto.randomUUID().slice(0, 8)}`;
    const [here, elsewhere] = [new Map<string, SpendHolder>(), new Map<string, SpendHolder>()];
    const inFlight = await reserve(tenant, here, 0.7);
    expect(await codeOf(reserve(tenant, here, 0.5))).toBe("budget_reserved");
    // Another isolate sees it through what this one reported to the authority with its call.
    expect(await codeOf(reserve(tenant, elsewhere, 0.5))).toBe("budget_reserved");
    // It spent a tenth of what it reserved and gave the rest back.
    inFlight?.settle(20, 0.07);
    let admitted: Awaited<ReturnType<typeof reserve>>;
    await eventually(async () => {
      admitted = await reserve(tenant, elsewhere, 0.5);
    });
    admitted?.settle(20, 0.5);
    // Now $0.57 of $1 is really spent: what is left cannot cover the request, whoever asks.
    expect(await codeOf(reserve(tenant, here, 0.5))).toBe("budget_exhausted");
    expect(await codeOf(reserve(tenant, elsewhere, 0.5))).toBe("budget_exhausted");
  });

  it("says what is left when it cannot cover the request, and that the budget is spent when nothing is", async () => {
    const tenant = `t-${crypto.randomUUID().slice(0, 8)}`;
    const holders = new Map<string, SpendHolder>();
    (await reserve(tenant, holders, 0.6))?.settle(20, 0.6);
    const short = await reserve(tenant, holders, 0.5).catch((error: RouterError) => error);
    expect(short).toMatchObject({ code: "budget_exhausted" });
    expect((short as RouterError).message).toContain(
      "daily budget of $1 has $0.400000 left, less than this request's estimated cost of about $0.500000",
    );
    (await reserve(tenant, holders, 0.4))?.settle(20, 0.4);
    const spent = await reserve(tenant, holders, 0.1).catch((error: RouterError) => error);
    expect((spent as RouterError).message).toContain("daily budget of $1 is spent");
  });

  it("counts what a holder silent for a minute reported as spent: its isolate may be gone", async () => {
    const tenant = `t-${crypto.randomUUID().slice(0, 8)}`;
    const [gone, elsewhere] = [new Map<string, SpendHolder>(), new Map<string, SpendHolder>()];
    await reserve(tenant, gone, 0.7);
    await runInDurableObject(env.SPEND_AUTHORITY.getByName(tenant), (authority: SpendAuthority) => {
      authority.clock = () => Date.now() + HOLDING_FRESH_MS + 1_000;
    });
    expect(await codeOf(reserve(tenant, elsewhere, 0.5))).toBe("budget_exhausted");
  });
});
