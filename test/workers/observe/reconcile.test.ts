import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FLEET } from "../../../src/observe/metrics";
import { accountsFingerprint, reconcile } from "../../../src/observe/reconcile";
import { chatBody, createSim, eventually } from "../helpers";
import { asOperator, deliveredAlerts } from "./support";

/** Long answers, so the balance falls by cents. The router and the simulator both price at DeepSeek's list. */
const ANSWER_TOKENS = 6_000;

function policy(baseUrl: string): string {
  return JSON.stringify({
    pools: {
      books: {
        provider: "deepseek",
        targets: [{ name: "deepseek", baseUrl, keySecret: "DEEPSEEK_API_KEY" }],
        models: { "deepseek-v4-pro": "deepseek-v4-pro" },
        capabilities: ["tools", "fim", "thinking", "json"],
        concurrency: 20,
      },
    },
    routes: { chat: ["books"], code: ["books"], reasoning: ["books"] },
  });
}

describe("reconciliation with the upstream's balance", () => {
  it("compares the balance's fall with recorded spend, and a top-up starts a new baseline", () => {
    const first = reconcile(undefined, { at: 0, balanceUsd: 10, recordedUsd: 0 });
    expect(first.result).toBeUndefined();
    const { result } = reconcile(first.baseline, { at: 60_000, balanceUsd: 8, recordedUsd: 1.9 });
    expect(result).toMatchObject({ from: 0, to: 60_000, upstreamUsd: 2, recordedUsd: 1.9 });
    expect(result?.drift).toBeCloseTo(0.05, 9);
    expect(reconcile(first.baseline, { at: 1, balanceUsd: 50, recordedUsd: 2 }).baseline.balanceUsd).toBe(50);
  });

  it("starts a new baseline when the policy's accounts change, instead of reading a removed account as spent", async () => {
    const both = await accountsFingerprint([
      { baseUrl: "https://a.example", key: "sk-a" },
      { baseUrl: "https://b.example", key: "sk-b" },
    ]);
    const reordered = await accountsFingerprint([
      { baseUrl: "https://b.example", key: "sk-b" },
      { baseUrl: "https://a.example", key: "sk-a" },
    ]);
    const one = await accountsFingerprint([{ baseUrl: "https://a.example", key: "sk-a" }]);
    expect(reordered).toBe(both);
    expect(both).not.toContain("sk-");

    const first = reconcile(undefined, { at: 0, balanceUsd: 20, recordedUsd: 0, accounts: both });
    const same = reconcile(first.baseline, { at: 1, balanceUsd: 19, recordedUsd: 1, accounts: reordered });
    expect(same.result?.drift).toBeCloseTo(0, 9);
    // Account b (holding $10) left the policy: its balance is not spend.
    const changed = reconcile(same.baseline, { at: 2, balanceUsd: 9, recordedUsd: 1, accounts: one });
    expect(changed.result).toBeUndefined();
    expect(changed.baseline).toMatchObject({ at: 2, balanceUsd: 9, accounts: one });
  });

  it("finds a seeded under-count: the upstream bills 1.5× what it reports, and the operator is told", async () => {
    // CNY balances move in 0.01 CNY steps (about $0.0014), fine enough for the few cents spent here.
    const sim = await createSim({
      currency: "CNY",
      billingMultiplier: 1.5,
      minAnswerTokens: ANSWER_TOKENS,
      maxAnswerTokens: ANSWER_TOKENS,
    });
    const overrides = {
      ROUTER_POLICY: policy(sim.baseUrl),
      ALERT_RULES: JSON.stringify({ spendDrift: 0.1, minDriftUsd: 0.01 }),
    };
    const ask = async (i: number) => {
      const body = chatBody({
        model: "deepseek-v4-pro",
        max_tokens: ANSWER_TOKENS,
        messages: [{ role: "user", content: `Books ${i}` }],
      });
      const response = await sim.call("/v1/chat/completions", { json: body }, overrides);
      expect(response.status).toBe(200);
      await response.text();
    };
    const scrape = () => asOperator(sim.baseUrl, "/metrics", {}, overrides).then((r) => r.text());
    const fleet = env.METRICS.getByName(FLEET);

    await ask(0);
    await scrape(); // the aggregator learns the pools (and so the upstream account) from a flush
    expect(await fleet.reconcile()).toBeUndefined(); // the baseline
    for (let i = 1; i <= 10; i++) await ask(i);

    let drift = 0;
    await eventually(async () => {
      await scrape();
      const result = await fleet.reconcile();
      expect(result?.recordedUsd).toBeGreaterThan(0.05);
      drift = result?.drift ?? 0;
    }, 10_000);
    // Billed 1.5× what the router can see: it recorded a third less than the upstream billed.
    expect(drift).toBeGreaterThan(0.28);
    expect(drift).toBeLessThan(0.39);
    expect(await scrape()).toMatch(/^router_reconcile_drift_ratio 0\.3\d*$/m);
    await eventually(async () => {
      const alerts = await deliveredAlerts("spend_drift");
      expect(alerts.length).toBeGreaterThanOrEqual(1);
      expect(alerts[0]?.body).toContain("less than the upstream billed");
    }, 10_000);
  }, 60_000);
});
