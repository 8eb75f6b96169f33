import { Hono } from "hono";
import { poolStatus } from "../admission/status";
import type { AppEnv } from "../env";

export const POOL_PATHS = ["/v1/router/pools"] as const;

/**
 * `GET /v1/router/pools`: each pool's concurrency ceiling, its effective (adaptive) limit, and what is
 * in flight and waiting, per gate. Reading it wakes every gate of every pool: an operator's view, not
 * something to poll per request.
 */
export const pools = new Hono<AppEnv>();

pools.get(POOL_PATHS[0], async (c) => {
  const policy = c.get("policy");
  const data = await Promise.all(
    Object.entries(policy.pools).map(([name, spec]) => poolStatus(c.env.POOL_GATE, name, spec)),
  );
  return c.json({ object: "list", data });
});
