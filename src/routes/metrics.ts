import { Hono } from "hono";
import { poolStatus } from "../admission/status";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { withPolicy } from "../middleware/policy";
import { METRIC } from "../observe/catalog";
import { FLEET, metrics } from "../observe/metrics";
import { OPERATOR_HTML } from "../observe/operator-page";
import {
  type HistogramSample,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
  type Sample,
} from "../observe/prometheus";
import { observeSettings } from "../observe/settings";
import { requireAdmin } from "./admin";

/**
 * The operator's views, behind the admin key: `GET /metrics` (Prometheus text format, fleet-wide)
 * and `GET /metrics/series` (the dashboard's JSON). `GET /operator` is the dashboard page itself,
 * which carries no data and asks for the admin key.
 */
export const operator = new Hono<AppEnv>();

operator.get("/operator", (c) =>
  c.html(OPERATOR_HTML, 200, {
    "content-security-policy":
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
    "cache-control": "no-store",
  }),
);

// Guards per route, not `use`: this router is mounted at the root beside the tenant API.
operator.get("/metrics", requireAdmin, withPolicy, async (c) => {
  const policy = c.get("policy");
  // This isolate's pending deltas first, so a scrape right after traffic sees it.
  await metrics.flush(c.env, observeSettings(c.env), policy);
  const [snapshot, pools] = await Promise.all([
    c.env.METRICS.getByName(FLEET).snapshot(),
    Promise.all(Object.entries(policy.pools).map(([name, spec]) => poolStatus(c.env.POOL_GATE, name, spec))),
  ]);
  const gauges: Sample[] = pools.flatMap((p) => [
    { metric: "poolInFlight", labels: { pool: p.pool }, value: p.inFlight },
    { metric: "poolQueued", labels: { pool: p.pool }, value: p.queued },
    { metric: "poolLimit", labels: { pool: p.pool }, value: p.limit },
    { metric: "poolCeiling", labels: { pool: p.pool }, value: p.ceiling },
  ]);
  const body = renderPrometheus([...snapshot.counters, ...gauges], snapshot.histograms as HistogramSample[]);
  return c.body(body, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
});

const RANGES: Record<string, number> = {
  "5m": 300_000,
  "15m": 900_000,
  "1h": 3_600_000,
  "6h": 21_600_000,
  "24h": 86_400_000,
};

operator.get("/metrics/series", requireAdmin, withPolicy, async (c) => {
  const range = c.req.query("range") ?? "15m";
  const rangeMs = RANGES[range];
  if (rangeMs === undefined) {
    throw new RouterError("invalid_request", `range must be one of ${Object.keys(RANGES).join(", ")}.`, {
      param: "range",
    });
  }
  const policy = c.get("policy");
  await metrics.flush(c.env, observeSettings(c.env), policy);
  const [series, pools] = await Promise.all([
    c.env.METRICS.getByName(FLEET).series(rangeMs),
    Promise.all(Object.entries(policy.pools).map(([name, spec]) => poolStatus(c.env.POOL_GATE, name, spec))),
  ]);
  return c.json({ range, now: Date.now(), latencyBuckets: METRIC.duration.buckets, ...series, pools });
});
