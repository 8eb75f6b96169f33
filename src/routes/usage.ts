import { Hono } from "hono";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { type LimitReport, limitsReport, scopesOf } from "../tenancy/enforce";
import { parseInstant } from "./range";

/**
 * `GET /v1/usage`: the calling tenant's own usage and cost; `from`/`to` are ISO dates or epoch ms.
 * `limits` lists each rate limit and budget of the tenant (and of the calling key) with what remains
 * of its current window.
 */
export const usage = new Hono<AppEnv>();

const WEEK_MS = 7 * 24 * 3600_000;

usage.get("/v1/usage", async (c) => {
  const now = Date.now();
  const to = parseTime(c.req.query("to"), "to") ?? now + 1;
  const from = parseTime(c.req.query("from"), "from") ?? to - WEEK_MS;
  if (from >= to) throw new RouterError("invalid_request", "'from' must be before 'to'.", { param: "from" });
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

function parseTime(value: string | undefined, param: string): number | undefined {
  return value === undefined || value === "" ? undefined : parseInstant(value, param);
}
