import { Hono } from "hono";
import { activePolicy } from "../config/policy-source";
import { loadSettings } from "../config/settings";
import { loadTenants } from "../config/tenants";
import type { AppEnv } from "../env";

/**
 * Unauthenticated liveness and configuration check. It names invalid configuration fields (never their
 * values) so an operator can fix a bad deploy; the data plane refuses traffic until then. A rejected
 * hot-reload policy shows as "degraded": the deployed policy keeps serving.
 */
export const health = new Hono<AppEnv>();

health.get("/healthz", async (c) => {
  const settings = loadSettings(c.env);
  const tenants = loadTenants(c.env.ROUTER_TENANTS);
  const policy = settings.ok ? await activePolicy(c.env, Date.now()) : undefined;
  const errors = [
    ...(settings.ok ? [] : settings.errors),
    ...(tenants.ok ? [] : tenants.errors),
    ...(policy && !policy.ok ? policy.errors : []),
  ];
  if (errors.length > 0) {
    console.error(JSON.stringify({ event: "config_invalid", errors }));
    return c.json({ status: "misconfigured", errors }, 503);
  }
  const active = policy?.ok ? policy.value : undefined;
  if (active?.rejected) {
    return c.json({ status: "degraded", policy: active.source, rejected: active.rejected });
  }
  return c.json({ status: "ok", policy: active?.source });
});
