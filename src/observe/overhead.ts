import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { metrics } from "./metrics";

/**
 * Records the router's own time per inference request into the overhead histogram: the same figure
 * as `x-router-overhead-ms` (waits on the upstream and the queue excluded), taken just inside the
 * request-context middleware that stamps the header.
 */
export const recordOverhead = createMiddleware<AppEnv>(async function recordOverhead(c, next) {
  await next();
  if (c.req.method !== "POST" || c.get("tenant") === undefined) return;
  const ms = performance.now() - c.get("receivedAt") - c.get("waitedMs");
  metrics.event({ kind: "router_overhead", ms: Math.max(0, ms) });
});
