import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FLEET } from "../../../src/observe/metrics";
import type { ObserveVars } from "../../../src/observe/settings";
import { windowOf } from "../../../src/tenancy/spend";
import { eventually } from "../helpers";
import { deliveredAlerts } from "../observe/support";

const TENANT = `t-${crypto.randomUUID().slice(0, 8)}`;
const LIMIT = 1;
/** The tenant's own webhook: the loopback receiver's `/hooks/<tenant>`, beside the operator's `/hooks`. */
const OWN_WEBHOOK = `${new URL((env as Env & ObserveVars).ALERT_WEBHOOK_URL ?? "").origin}/hooks/${TENANT}`;

/** Reserves `need` dollars of the tenant's daily budget at its authority (or gives `give` back), as an isolate would. */
async function spend(need: number, { tenant = TENANT, limit = LIMIT, give = 0 } = {}): Promise<boolean> {
  const window = windowOf("usd-day", Date.now());
  const answer = await env.SPEND_AUTHORITY.getByName(tenant).lend(
    [
      {
        counter: "tenant:usd-day",
        kind: "usd-day",
        window: window.start,
        windowEnd: window.end,
        limit,
        need,
        give,
        want: 0,
      },
    ],
    { tenant, alertWebhook: OWN_WEBHOOK },
  );
  return answer.ok;
}

function thresholdsIn(deliveries: Array<{ body: string }>): number[] {
  return deliveries
    .map((d) => JSON.parse(d.body) as { kind: string; details: { threshold: number } })
    .filter((alert) => alert.kind === "budget")
    .map((alert) => alert.details.threshold)
    .sort((a, b) => a - b);
}

describe("budget alerts", () => {
  it("fire once per threshold and window, to the operator's webhook and the tenant's own", async () => {
    expect(await spend(0.3)).toBe(true); // 30%: nothing
    expect(await spend(0.25)).toBe(true); // 55%: 50%
    expect(await spend(0.3)).toBe(true); // 85%: 80%
    expect(await spend(0.08)).toBe(true); // 93%: nothing new
    expect(await spend(0.1)).toBe(false); // refused with 7% left: spent, 100%
    expect(await spend(0.1)).toBe(false); // refused again: no second alert

    const operator = () =>
      deliveredAlerts(`budget:${TENANT}/`).then((all) => all.filter((d) => d.path === "/hooks"));
    const own = () =>
      deliveredAlerts(`budget:${TENANT}/`).then((all) => all.filter((d) => d.path === `/hooks/${TENANT}`));
    await eventually(async () => {
      expect(thresholdsIn(await operator())).toEqual([50, 80, 100]);
      expect(thresholdsIn(await own())).toEqual([50, 80, 100]);
    }, 10_000);
    // Nothing more arrives later: each threshold was raised once.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await operator()).toHaveLength(3);
    const [first] = await own();
    const alert = JSON.parse(first?.body ?? "{}") as { summary: string; details: Record<string, unknown> };
    expect(alert.summary).toBe(`Tenant '${TENANT}' has used 50% of its daily budget of $1.`);
    expect(alert.details).toMatchObject({ tenant: TENANT, scope: "tenant", budget: "usd-day", limit: 1 });
    // Listed with the fleet's alerts (the operator's page, /admin/alerts) and counted in router_alerts_total.
    const fleet = env.METRICS.getByName(FLEET);
    await eventually(async () => {
      const listed = (await fleet.series(3_600_000)).alerts.filter((a) => a.tenant === TENANT);
      expect(listed.map((a) => Number(a.details.threshold)).sort((a, b) => a - b)).toEqual([50, 80, 100]);
    });
    const { counters } = await fleet.snapshot();
    const sent = counters.find((c) => c.metric === "alertsSent" && c.labels.kind === "budget");
    expect(sent?.value).toBeGreaterThanOrEqual(3);
  });

  it("judge a raised budget by its own thresholds, and never an isolate's give-back under the old one", async () => {
    const tenant = `t-${crypto.randomUUID().slice(0, 8)}`;
    expect(await spend(0.6, { tenant, limit: 1 })).toBe(true); // 60% of $1: 50%
    // Raised to $2. An idle isolate gives back spare it was lent under $1: at 59% of $1 that is no
    // news, and it must not read as 80% of anything.
    expect(await spend(0, { tenant, limit: 0.7, give: 0.01 })).toBe(true);
    expect(await spend(0.5, { tenant, limit: 2 })).toBe(true); // 54.5% of $2: its own 50%
    expect(await spend(0.2, { tenant, limit: 2 })).toBe(true); // 64.5% of $2: nothing new
    const alerts = async () =>
      (await deliveredAlerts(`budget:${tenant}/`))
        .filter((d) => d.path === "/hooks")
        .map((d) => JSON.parse(d.body) as { details: { limit: number; threshold: number } })
        .map(({ details }) => `${details.threshold}% of $${details.limit}`)
        .sort();
    await eventually(async () => expect(await alerts()).toEqual(["50% of $1", "50% of $2"]), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await alerts()).toHaveLength(2);
  });
});
