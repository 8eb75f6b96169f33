import { env } from "cloudflare:workers";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { beforeAll, describe, expect, it } from "vitest";
import { chatBody, createSim, errorOf, type SimInstance, singlePoolPolicy } from "../helpers";
import { ADMIN_KEY, asOperator } from "./support";

const CHAT = "/v1/chat/completions";

let sim: SimInstance;
let policy: { ROUTER_POLICY: string };
const pool = `metrics-${crypto.randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  sim = await createSim({ ttftMs: 5, tokensPerS: 0 });
  policy = { ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, {}, pool) };
});

async function scrape(): Promise<{ text: string; response: Response }> {
  const response = await asOperator(sim.baseUrl, "/metrics", {}, policy);
  return { text: await response.clone().text(), response };
}

/** The format rules the lenient parser does not enforce (reference §6.2–6.3). */
function expectWellFormed(text: string): void {
  expect(text.endsWith("\n")).toBe(true);
  expectCumulativeHistograms(text);
  const histograms = new Set([...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1]));
  const runs: string[] = [];
  for (const line of text.trimEnd().split("\n")) {
    const name = line.match(/^# (?:HELP|TYPE) (\S+)/)?.[1] ?? line.match(/^([^{ ]+)/)?.[1] ?? "";
    expect(name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    const base = name.replace(/_(bucket|sum|count)$/, "");
    const family = histograms.has(base) ? base : name;
    if (runs.at(-1) !== family) runs.push(family);
  }
  // Each family's lines form one uninterrupted group.
  expect(new Set(runs).size).toBe(runs.length);
}

/** Every histogram series: buckets never decrease, `+Inf` is last and equals `_count`. */
function expectCumulativeHistograms(text: string): void {
  const series = new Map<string, number[]>();
  for (const match of text.matchAll(/^(\w+)_bucket\{(.*),le="([^"]+)"\} (\S+)$/gm)) {
    const key = `${match[1]}{${match[2]}}`;
    series.set(key, [...(series.get(key) ?? []), Number(match[4])]);
    if (match[3] === "+Inf") {
      const counts = series.get(key) ?? [];
      for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1] ?? 0);
      expect(text).toContain(`${match[1]}_count{${match[2]}} ${match[4]}\n`);
    }
  }
  expect(series.size).toBeGreaterThan(0);
}

describe("GET /metrics", () => {
  it("does not exist without an admin key configured, and refuses a tenant's router key", async () => {
    expect((await sim.call("/metrics", { key: ADMIN_KEY }, policy)).status).toBe(404);
    const response = await asOperator(sim.baseUrl, "/metrics", { key: undefined }, policy);
    expect(response.status).toBe(401);
    expect((await errorOf(response)).code).toBe("unauthorized");
  });

  it("serves fleet counters, histograms and pool gauges in the Prometheus text format", async () => {
    for (const stream of [false, true, false]) {
      const response = await sim.call(CHAT, { json: chatBody({ stream }) }, policy);
      await response.text();
    }
    const { text, response } = await scrape();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expectWellFormed(text);
    const families = parsePrometheusTextFormat(text);
    const family = (name: string) => families.find((f) => f.name === name);

    const requests = family("router_requests_total");
    expect(requests?.type).toBe("COUNTER");
    const mine = requests?.metrics.filter((m) => m.labels?.pool === pool) ?? [];
    expect(mine.reduce((n, m) => n + Number(m.value), 0)).toBe(3);
    expect(mine[0]?.labels).toMatchObject({
      tenant: "acme",
      outcome: "complete",
      model: "deepseek-v4-flash",
    });

    const tokens = family("router_tokens_total")?.metrics.filter((m) => m.labels?.pool === pool) ?? [];
    expect(tokens.find((m) => m.labels?.direction === "output")?.value).not.toBe("0");

    const ok = family("router_upstream_responses_total")?.metrics.find(
      (m) => m.labels?.pool === pool && m.labels?.code === "200",
    );
    expect(ok?.value).toBe("3");

    expect(family("router_time_to_first_token_seconds")?.type).toBe("HISTOGRAM");
    // The parser drops a histogram's labels and its _count, so those are read from the text.
    expect(text).toContain(`router_time_to_first_token_seconds_bucket{pool="${pool}",le="+Inf"} 3\n`);
    expect(text).toContain(`router_time_to_first_token_seconds_count{pool="${pool}"} 3\n`);
    expect(text).toContain(`router_request_duration_seconds_count{pool="${pool}"} 3\n`);

    const gauges = [
      "router_pool_in_flight",
      "router_pool_queued",
      "router_pool_limit",
      "router_pool_ceiling",
    ];
    for (const name of gauges) expect(family(name)?.metrics.some((m) => m.labels?.pool === pool)).toBe(true);
    expect(family("router_pool_ceiling")?.metrics.find((m) => m.labels?.pool === pool)?.value).toBe("100");
  });

  it("counts upstream failures, retries and the status the caller got", async () => {
    const failing = await createSim({ ttftMs: 0, faults: { statusRates: { "500": 1 } } });
    const failingPool = `failing-${crypto.randomUUID().slice(0, 8)}`;
    const failingPolicy = {
      ROUTER_POLICY: singlePoolPolicy(
        failing.baseUrl,
        { retries: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, budgetRatio: 1 } },
        failingPool,
      ),
    };
    const response = await failing.call(CHAT, { json: chatBody() }, failingPolicy);
    expect(response.status).toBeGreaterThanOrEqual(500);
    const text = await (await asOperator(failing.baseUrl, "/metrics", {}, failingPolicy)).text();
    const families = parsePrometheusTextFormat(text);
    const upstream = families
      .find((f) => f.name === "router_upstream_responses_total")
      ?.metrics.find((m) => m.labels?.pool === failingPool && m.labels?.code === "500");
    expect(Number(upstream?.value)).toBeGreaterThanOrEqual(2);
    const retries = families
      .find((f) => f.name === "router_retries_total")
      ?.metrics.find((m) => m.labels?.pool === failingPool);
    expect(Number(retries?.value)).toBeGreaterThanOrEqual(1);
  });
});

describe("Analytics Engine", () => {
  it("writes one valid data point per finished request through the configured binding", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const dataset: AnalyticsEngineDataset = {
      writeDataPoint(point) {
        points.push(point ?? {});
        env.REQUEST_EVENTS.writeDataPoint(point);
      },
    };
    const response = await sim.call(CHAT, { json: chatBody() }, { ...policy, REQUEST_EVENTS: dataset });
    await response.text();
    expect(points).toHaveLength(1);
    const [point] = points;
    expect(point?.indexes).toEqual(["acme"]);
    expect(point?.blobs?.slice(0, 8)).toEqual([
      "acme",
      pool,
      "deepseek-v4-flash",
      "chat",
      "complete",
      "bypass",
      "200",
      "json",
    ]);
    expect(point?.blobs?.[8]).toBe(response.headers.get("x-request-id"));
    expect(point?.doubles?.[0]).toBe(200);
    expect(point?.doubles?.[4]).toBeGreaterThan(0);
  });
});
