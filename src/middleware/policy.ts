import { createMiddleware } from "hono/factory";
import { activePolicy } from "../config/policy-source";
import { misconfigured } from "../config/settings";
import type { AppEnv } from "../env";

/** Puts the routing policy in force on the request; refuses traffic while no valid policy exists. */
export const withPolicy = createMiddleware<AppEnv>(async function withPolicy(c, next) {
  const active = await activePolicy(c.env, Date.now());
  if (!active.ok) throw misconfigured();
  c.set("policy", active.value.policy);
  await next();
});
