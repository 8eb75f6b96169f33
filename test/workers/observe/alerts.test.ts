import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { gateName } from "../../../src/admission/shards";
import { parsePolicy } from "../../../src/config/policy-source";
import {
  type Alert,
  type AlertLedger,
  admitAlerts,
  DEFAULT_ALERT_RULES,
  parseAlertRules,
  rateAlerts,
} from "../../../src/observe/alerts";
import { FLEET } from "../../../src/observe/metrics";
import { emptySlot } from "../../../src/observe/series";
import { chatBody, createSim, eventually, singlePoolPolicy } from "../helpers";
import { deliveredAlerts, failDeliveries } from "./support";

const CHAT = "/v1/chat/completions";
const RULES = JSON.stringify({ minRequests: 4 });

function candidate(key: string, at: number): Alert {
  return { id: `${key}@${at}`, kind: "error_rate", key, at, summary: key, details: {} };
}

describe("alert rules", () => {
  it("send an alert once per cooldown per subject, and no more than the hourly cap in all", () => {
    const ledger: AlertLedger = { lastFired: new Map(), recent: [] };
    const rules = { ...DEFAULT_ALERT_RULES, cooldownMs: 60_000, maxPerHour: 2 };
    expect(admitAlerts([candidate("a", 0)], ledger, rules, 0).send).toHaveLength(1);
    expect(admitAlerts([candidate("a", 1_000)], ledger, rules, 1_000).suppressed).toHaveLength(1);
    expect(admitAlerts([candidate("a", 61_000)], ledger, rules, 61_000).send).toHaveLength(1);
    expect(admitAlerts([candidate("b", 62_000)], ledger, rules, 62_000).suppressed).toHaveLength(1);
    expect(admitAlerts([candidate("b", 3_700_000)], ledger, rules, 3_700_000).send).toHaveLength(1);
  });

  it("judge a pool's rates only over the window and only on enough traffic", () => {
    const now = 1_000_000;
    const slot = emptySlot(now - 5_000);
    slot.traffic.p = { answered: 10, upstream: 10, upstream5xx: 1, sheds: 5 };
    const old = emptySlot(now - 120_000);
    old.traffic.p = { answered: 0, upstream: 100, upstream5xx: 100, sheds: 0 };
    const kinds = rateAlerts([slot, old], DEFAULT_ALERT_RULES, now).map((a) => a.kind);
    expect(kinds).toEqual([]); // 10 attempts, 15 requests: under minRequests (20)
    const rules = { ...DEFAULT_ALERT_RULES, minRequests: 10 };
    expect(rateAlerts([slot, old], rules, now).map((a) => a.kind)).toEqual(["error_rate", "shed_rate"]);
  });

  it("refuse unknown or non-positive settings in ALERT_RULES", () => {
    expect(parseAlertRules('{"errorRate":0.2}')).toEqual({
      ok: true,
      rules: { ...DEFAULT_ALERT_RULES, errorRate: 0.2 },
    });
    expect(parseAlertRules('{"errorRat":0.2}')).toEqual({
      ok: false,
      error: "ALERT_RULES.errorRat: unknown rule",
    });
    expect(parseAlertRules('{"minRequests":0}').ok).toBe(false);
    expect(parseAlertRules("{").ok).toBe(false);
  });
});

describe("alerts end to end", () => {
  it("a breaker opening and a 5xx rate each reach the webhook once, through a failed first delivery", async () => {
    const sim = await createSim({ ttftMs: 0, faults: { statusRates: { "500": 1 } } });
    const pool = `alerting-${crypto.randomUUID().slice(0, 8)}`;
    const vars = {
      ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, { retries: { maxAttempts: 1 } }, pool),
      ALERT_RULES: RULES,
    };
    await failDeliveries(`breaker_open:${pool}`, 1);
    for (let i = 0; i < 8; i++) await (await sim.call(CHAT, { json: chatBody() }, vars)).text();
    const fleet = env.METRICS.getByName(FLEET);
    await runDurableObjectAlarm(fleet);
    await runDurableObjectAlarm(fleet);

    await eventually(async () => {
      const delivered = await deliveredAlerts(pool);
      expect(delivered.map((d) => JSON.parse(d.body).kind).sort()).toEqual(["breaker_open", "error_rate"]);
    }, 15_000);
    const [breaker] = await deliveredAlerts(`breaker_open:${pool}`);
    expect(JSON.parse(breaker?.body ?? "{}")).toMatchObject({ kind: "breaker_open", details: { pool } });
    expect(breaker?.id).toMatch(new RegExp(`^breaker_open:${pool}/deepseek@\\d+$`));
    // The first delivery was refused; the queue retried the same alert.
    expect((await deliveredAlerts(`breaker_open:${pool}`, true)).map((d) => d.id)).toEqual([breaker?.id]);

    // More failures and more evaluations: deduplicated, nothing new is delivered.
    for (let i = 0; i < 4; i++) await (await sim.call(CHAT, { json: chatBody() }, vars)).text();
    await runDurableObjectAlarm(fleet);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await deliveredAlerts(pool)).toHaveLength(2);
  }, 30_000);

  it("a shed rate over the threshold alerts once", async () => {
    const sim = await createSim({ ttftMs: 400, tokensPerS: 0 });
    const pool = `shedding-${crypto.randomUUID().slice(0, 8)}`;
    const vars = {
      ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, { concurrency: 1 }, pool),
      ALERT_RULES: RULES,
    };
    const slow = sim.call(CHAT, { json: chatBody() }, vars);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const shed = await Promise.all(
      Array.from({ length: 5 }, () =>
        sim.call(CHAT, { json: chatBody(), headers: { "x-router-max-wait-ms": "0" } }, vars),
      ),
    );
    expect(shed.map((r) => r.status)).toEqual([429, 429, 429, 429, 429]);
    await (await slow).text();
    const fleet = env.METRICS.getByName(FLEET);
    await runDurableObjectAlarm(fleet);
    await runDurableObjectAlarm(fleet);
    await eventually(async () => {
      expect((await deliveredAlerts(pool)).map((d) => JSON.parse(d.body).kind)).toEqual(["shed_rate"]);
    }, 15_000);
  }, 30_000);

  it("an adaptive limit cut deeper than the configured share alerts once", async () => {
    const pool = `cut-${crypto.randomUUID().slice(0, 8)}`;
    const parsed = parsePolicy(
      JSON.parse(singlePoolPolicy("http://127.0.0.1:9", { concurrency: 10 }, pool)),
      "test",
      env,
    );
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    const aggregator = env.METRICS.getByName(`cut-${crypto.randomUUID()}`);
    const config = { maxTenants: 5, rules: DEFAULT_ALERT_RULES, pools: parsed.value.pools };
    await aggregator.merge({ counters: [], histograms: [] }, config);
    await runDurableObjectAlarm(aggregator); // the peak: 10

    const gate = env.POOL_GATE.getByName(gateName(pool, 0));
    const limits = { ceiling: 10, maxQueue: 10, leaseTtlMs: 60_000, adaptive: true };
    for (let i = 0; i < 5; i++) {
      const leaseId = crypto.randomUUID();
      await gate.acquire({
        leaseId,
        tenant: "acme",
        priority: "normal",
        latency: "interactive",
        waitMs: 0,
        limits,
      });
      await new Promise((resolve) => setTimeout(resolve, 3));
      await gate.release(leaseId, { kind: "failure", status: 429 });
    }
    expect((await gate.status()).limit).toBeLessThan(7);
    await runDurableObjectAlarm(aggregator);
    await runDurableObjectAlarm(aggregator);
    const { alerts } = await aggregator.series(900_000);
    expect(alerts.map((a) => [a.kind, a.details.pool, a.details.peak])).toEqual([["limit_cut", pool, 10]]);
    await eventually(async () => {
      expect((await deliveredAlerts(`limit_cut:${pool}`)).length).toBe(1);
    }, 15_000);
  }, 30_000);
});
