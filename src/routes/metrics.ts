import { Hono } from "hono";
import { poolStatus } from "../admission/status";
import type { AppEnv } from "../env";
import { withPolicy } from "../middleware/policy";
import { METRIC } from "../observe/catalog";
import { CONSOLE_HTML } from "../observe/console-page";
import { FLEET, metrics } from "../observe/metrics";
import { OPERATOR_HTML } from "../observe/operator-page";
import {
  type HistogramSample,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
  type Sample,
} from "../observe/prometheus";
import { requireAdmin } from "./admin";
import { PAGE_HEADERS } from "./dashboard";
import { parseRange } from "./range";

/**
 * The operator's views, behind the admin key: `GET /metrics` (Prometheus text format, fleet-wide)
 * and `GET /metrics/series` (the dashboard's JSON). `GET /operator` is the dashboard page itself,
 * which carries no data and asks for the admin key.
 */
export const operator = new Hono<AppEnv>();

operator.get("/operator", (c) => c.html(OPERATOR_HTML, 200, PAGE_HEADERS));
/** The console that changes things (tenants, keys, batches, cache): like /operator, a page holding no data. */
operator.get("/operator/console", (c) => c.html(CONSOLE_HTML, 200, PAGE_HEADERS));

// Guards per route, not `use`: this router is mounted at the root beside the tenant API.
operator.get("/metrics", requireAdmin, withPolicy, async (c) => {
  const policy = c.get("policy");
  // This isolate's pending deltas first, so a scrape right after traffic sees it.
  await metrics.flush(c.env, policy);
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
  const books = snapshot.reconciliation;
  if (books) {
    gauges.push(
      { metric: "spendUpstream", labels: {}, value: books.upstreamUsd },
      { metric: "spendRecorded", labels: {}, value: books.recordedUsd },
      { metric: "spendDrift", labels: {}, value: books.drift },
    );
  }
  const body = renderPrometheus([...snapshot.counters, ...gauges], snapshot.histograms as HistogramSample[]);
  return c.body(body, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
});

operator.get("/metrics/series", requireAdmin, withPolicy, async (c) => {
  const { range, ms } = parseRange(c.req.query("range"), ["5m", "15m", "1h", "6h", "24h"]);
  const policy = c.get("policy");
  await metrics.flush(c.env, policy);
  const [series, pools] = await Promise.all([
    c.env.METRICS.getByName(FLEET).series(ms),
    Promise.all(Object.entries(policy.pools).map(([name, spec]) => poolStatus(c.env.POOL_GATE, name, spec))),
  ]);
  return c.json({ range, now: Date.now(), latencyBuckets: METRIC.duration.buckets, ...series, pools });
});
