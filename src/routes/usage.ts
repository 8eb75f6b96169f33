import { Hono } from "hono";
import type { AppEnv } from "../env";
import { type LimitReport, limitsReport, scopesOf } from "../tenancy/enforce";
import { usageWindow } from "./range";

/**
 * `GET /v1/usage`: the calling tenant's own usage and cost; `from`/`to` are ISO dates or epoch ms.
 * `limits` lists each rate limit and budget of the tenant (and of the calling key) with what remains
 * of its current window.
 */
export const usage = new Hono<AppEnv>();

usage.get("/v1/usage", async (c) => {
  const now = Date.now();
  const { from, to } = usageWindow({ from: c.req.query("from"), to: c.req.query("to") }, now);
  const tenant = c.get("tenant").id;
  const endUser = c.get("endUser");
  if (endUser) {
    // A frontend token sees its own end user's counters, never the tenant's usage (issue 23).
    const scopes = scopesOf(c.get("tenant"), undefined, endUser);
    const limits = await limitsReport(c.env.SPEND_AUTHORITY, scopes, now);
    return c.json({ object: "end_user.usage", end_user: endUser.id, limits: limits.filter(isUsers) });
  }
  const [summary, limits] = await Promise.all([
    c.env.TENANT_LEDGER.getByName(tenant).summary(tenant, from, to),
    limitsReport(c.env.SPEND_AUTHORITY, scopesOf(c.get("tenant"), c.get("routerKey")), now),
  ]);
  return c.json({ ...summary, limits });
});

function isUsers(report: LimitReport): boolean {
  return report.scope.startsWith("user:");
}
