import { Hono } from "hono";
import { wellFormedId } from "../batch/ids";
import { isTenantId } from "../config/tenants";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { parseAlertRules } from "../observe/alerts";
import { FLEET } from "../observe/metrics";
import { namedTenant } from "../tenancy/tenant-directory";

/**
 * The operator console's view of what tenants run (behind the admin guard of routes/admin.ts): a tenant's
 * batches, to follow and cancel, and the alert rules with the recent alerts.
 */
export const adminOps = new Hono<AppEnv>();

const DAY_MS = 86_400_000;

adminOps.get("/tenants/:tenant/batches", async (c) => {
  const { id } = await namedTenant(c.env, tenantId(c.req.param("tenant")));
  const page = await c.env.BATCHES.getByName(id).list({
    after: c.req.query("after"),
    limit: 100,
  });
  return c.json({ object: "list", data: page.data, has_more: page.hasMore });
});

adminOps.post("/tenants/:tenant/batches/:id/cancel", async (c) => {
  const id = c.req.param("id");
  const batches = c.env.BATCHES.getByName(tenantId(c.req.param("tenant")));
  const batch = wellFormedId(id, "batch_") ? await batches.cancel(id) : null;
  if (!batch) throw new RouterError("not_found", `No batch '${id}' for this tenant.`, { param: "id" });
  return c.json(batch);
});

/** The rules in force (`ALERT_RULES` over the defaults) and the latest alerts, newest first. */
adminOps.get("/alerts", async (c) => {
  const rules = parseAlertRules(Reflect.get(c.env, "ALERT_RULES") as string | undefined);
  const { alerts } = await c.env.METRICS.getByName(FLEET).series(DAY_MS);
  return c.json({
    rules: rules.ok ? rules.rules : null,
    rulesError: rules.ok ? null : rules.error,
    recent: alerts,
  });
});

/** A tenant id from the path, or the 400 every admin route answers for one that cannot be. */
export function tenantId(id: string): string {
  if (!isTenantId(id)) throw new RouterError("invalid_request", "Not a tenant id.", { param: "tenant" });
  return id;
}
