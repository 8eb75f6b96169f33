import { beforeAll, describe, expect, it } from "vitest";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import { chatBody, createSim, errorOf, type SimInstance, singlePoolPolicy } from "../helpers";
import { asOperator } from "../observe/support";

const CHAT = "/v1/chat/completions";
let sim: SimInstance;
let vars: { ROUTER_POLICY: string };
const pool = `operator-${crypto.randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  sim = await createSim({ ttftMs: 30, tokensPerS: 0 });
  vars = { ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, { concurrency: 7 }, pool) };
  for (let i = 0; i < 3; i++) await (await sim.call(CHAT, { json: chatBody() }, vars)).text();
});

describe("GET /operator", () => {
  it("serves the self-contained page without a key; the data it polls needs the admin key", async () => {
    const page = await sim.call("/operator", { key: null }, vars);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'");
    // The page takes the admin key: no other site may frame it.
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    const html = await page.text();
    expect(html).toContain("/metrics/series?range=");
    expect(html).not.toMatch(/https?:\/\//);
    expect((await asOperator(sim.baseUrl, "/metrics/series", { key: undefined }, vars)).status).toBe(401);
  });
});

describe("GET /metrics/series", () => {
  it("gives the fleet's slots over the range, the pools now and the latency buckets", async () => {
    const response = await asOperator(sim.baseUrl, "/metrics/series?range=1h", {}, vars);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      slotMs: number;
      slots: Array<{
        requests: Record<string, number>;
        duration: number[];
        tenants: Record<string, unknown>;
      }>;
      pools: Array<{ pool: string; ceiling: number }>;
      latencyBuckets: number[];
    };
    expect(body.slotMs).toBe(10_000);
    expect(body.slots.reduce((n, s) => n + (s.requests.complete ?? 0), 0)).toBeGreaterThanOrEqual(3);
    expect(body.slots.at(-1)?.duration).toHaveLength(body.latencyBuckets.length + 1);
    expect(body.slots.some((s) => "acme" in s.tenants)).toBe(true);
    expect(body.pools).toEqual([expect.objectContaining({ pool, ceiling: 7 })]);
  });

  it("names the ranges it accepts", async () => {
    const response = await asOperator(sim.baseUrl, "/metrics/series?range=2d", {}, vars);
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "invalid_request", param: "range" });
  });
});

describe("GET /v1/router/latency", () => {
  it("shows a tenant its own latency and limits, and nothing of another tenant's", async () => {
    const mine = (await (await sim.call("/v1/router/latency", {}, vars)).json()) as {
      tenant: string;
      tracked: boolean;
      latency: { ttftP50Ms: number | null; totalP99Ms: number | null };
      series: Array<{ requests: number }>;
      limits: { maxPriority: string };
    };
    expect(mine).toMatchObject({ tenant: "acme", tracked: true, limits: { maxPriority: "high" } });
    expect(mine.latency.ttftP50Ms).toBeGreaterThan(0);
    expect(mine.series.reduce((n, s) => n + s.requests, 0)).toBeGreaterThanOrEqual(3);

    const theirs = (await (await sim.call("/v1/router/latency", { key: GLOBEX_KEY }, vars)).json()) as {
      tenant: string;
      series: unknown[];
      latency: { ttftP50Ms: number | null };
    };
    expect(theirs).toMatchObject({ tenant: "globex", series: [], latency: { ttftP50Ms: null } });
  });
});

describe("GET /operator/console", () => {
  it("serves the self-contained console without a key; everything it calls is the admin API", async () => {
    const page = await sim.call("/operator/console", { key: null }, vars);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\/(?!app\.example\.com)/);
    for (const path of ["/admin/tenants", "/admin/cache/stats", "/admin/alerts", "/batches/"])
      expect(html).toContain(path);
  });
});
