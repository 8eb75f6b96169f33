import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { executeRequest, type RequestContext } from "../../loadtest/request";
import { routerWorker } from "../../scripts/build";
import { LOCAL_ROUTER_KEY, LOCAL_UPSTREAM_KEY, tenantsConfig } from "../../scripts/local-config";
import { bareWorker } from "../../scripts/stack";
import { startSimServer } from "../../sim/node";
import { distribution, formatMs } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";

const ROUTERS = 4;
/** The pool's ceiling; the simulator takes far more, so its peak in flight shows any overshoot. */
const LIMIT = 40;
const RTTS_MS = [0, 20, 80, 150] as const;
const LOADS = [0.1, 0.25, 0.5, 0.9] as const;
const POOL = "geo";
/** Streams: first token after 50 ms, then 20 tokens at 400/s, about 100 ms a request. */
const SIM = { ttftMs: 50, tokensPerS: 400, minAnswerTokens: 20, maxAnswerTokens: 20, concurrency: 10_000 };

/**
 * Stands in for the network between a router's location and the gate's: a Durable Object with the
 * gate's methods that waits half the RTT, forwards to the real PoolGate of the same name, and waits
 * the other half. The routers bind POOL_GATE to it; the router's code is the deployed bundle, untouched.
 */
const DELAY_HOP = `
import { DurableObject } from "cloudflare:workers";
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export class DelayedGate extends DurableObject {
  async hop(method, args) {
    const half = Number(this.env.RTT_MS) / 2;
    if (half > 0) await wait(half);
    const gate = this.env.REAL.getByName(this.ctx.id.name);
    const result = await gate[method](...args);
    if (half > 0) await wait(half);
    return result;
  }
  acquire(...args) { return this.hop("acquire", args); }
  release(...args) { return this.hop("release", args); }
  renew(...args) { return this.hop("renew", args); }
  lend(...args) { return this.hop("lend", args); }
  status(...args) { return this.hop("status", args); }
}
export default { fetch() { return new Response("delay hop"); } };`;

interface Run {
  ttftMs: number[];
  requests: number;
  gateCalls: number;
  peakInFlight: number;
}

/**
 * Issue 11's geography: four router instances (four isolates, standing for four locations) share one
 * set of Durable Objects, with an injected round trip between each router and the pool's gate. The
 * same closed-loop streams at 10%, 50% and 90% of the pool's limit go through the routers and through a
 * bare pass-through Worker; the router's added time to first byte is the difference.
 */
export const geography: BenchScenario = {
  name: "geography",
  title: "Geography: four routers, one gate, injected router↔gate RTT",
  async run(ctx): Promise<BenchSection> {
    const seconds = ctx.quick ? 1.5 : 4;
    const sim = await startSimServer({ port: 0, ...SIM });
    const bare = new Map<number, Run>();
    const open = new Map<number, Run>();
    const routed = new Map<string, Run>();
    try {
      for (const rtt of RTTS_MS) {
        const mf = await start(sim.url, rtt);
        try {
          const urls = await Promise.all(
            Array.from({ length: ROUTERS }, async (_, i) =>
              stripSlash(await mf.unsafeGetDirectURL(`router-${i}`)),
            ),
          );
          const bareUrl = stripSlash(await mf.unsafeGetDirectURL("bare"));
          const openUrl = stripSlash(await mf.unsafeGetDirectURL("router-open"));
          // Cold isolates compile the bundle on their first request: not what a location pays per request.
          await Promise.all([...urls, bareUrl, openUrl].map((url) => warm(url)));
          if (rtt === RTTS_MS[0]) {
            for (const load of LOADS) {
              bare.set(load, await drive(sim.url, [bareUrl], load, seconds, undefined));
              open.set(load, await drive(sim.url, [openUrl], load, seconds, undefined));
              ctx.log(`bare and admission off, ${load * 100}% of the limit: done`);
            }
          }
          for (const load of LOADS) {
            const run = await drive(sim.url, urls, load, seconds, urls[0]);
            routed.set(`${rtt}:${load}`, run);
            ctx.log(
              `RTT ${rtt} ms, ${load * 100}% of the limit: ${run.requests} requests, ${(run.gateCalls / run.requests).toFixed(3)} gate calls each, peak upstream ${run.peakInFlight}`,
            );
          }
        } finally {
          await mf.dispose();
        }
      }
    } finally {
      await sim.close();
    }
    return report({ bare, open, routed }, seconds);
  },
};

/** Clients spread evenly over the routers, closed loop, for `seconds`; then the gate's and simulator's counts. */
async function drive(
  simUrl: string,
  urls: string[],
  load: number,
  seconds: number,
  statusUrl: string | undefined,
): Promise<Run> {
  await fetch(`${simUrl}/_sim/reset`, { method: "POST" });
  const callsBefore = statusUrl ? await gateCalls(statusUrl) : 0;
  const clients = Math.round(load * LIMIT);
  const ttftMs: number[] = [];
  let requests = 0;
  const endAt = performance.now() + seconds * 1000;
  const client = async (i: number) => {
    const base: RequestContext = {
      baseUrl: urls[i % urls.length] as string,
      key: LOCAL_ROUTER_KEY,
      timeoutMs: 30_000,
      now: () => performance.now(),
      fetch,
    };
    for (let seq = 0; performance.now() < endAt; seq++) {
      const outcome = await executeRequest(spec(i * 100_000 + seq), base, performance.now(), 0);
      requests++;
      if (outcome.kind === "ok" && outcome.ttftMs !== undefined) ttftMs.push(outcome.ttftMs);
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  const stats = (await (await fetch(`${simUrl}/_sim/stats`)).json()) as { peakInFlight: number };
  const gateCallsDuring = statusUrl ? (await gateCalls(statusUrl)) - callsBefore : 0;
  // Let idle blocks go home before the next load level starts.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return { ttftMs, requests, gateCalls: gateCallsDuring, peakInFlight: stats.peakInFlight };
}

async function warm(url: string): Promise<void> {
  const base: RequestContext = {
    baseUrl: url,
    key: LOCAL_ROUTER_KEY,
    timeoutMs: 30_000,
    now: () => performance.now(),
    fetch,
  };
  for (let i = 0; i < 5; i++) await executeRequest(spec(-1 - i), base, performance.now(), 0);
}

async function gateCalls(routerUrl: string): Promise<number> {
  const response = await fetch(`${routerUrl}/v1/router/pools`, {
    headers: { authorization: `Bearer ${LOCAL_ROUTER_KEY}` },
  });
  const { data } = (await response.json()) as { data: Array<{ shards: Array<{ calls: number }> }> };
  // The status read itself is one call per gate.
  return (data[0]?.shards ?? []).reduce((n, s) => n + s.calls - 1, 0);
}

function spec(seq: number) {
  return {
    seq,
    type: "chat" as const,
    stream: true,
    repeat: false,
    tenant: "local",
    path: "/v1/chat/completions",
    headers: { "content-type": "application/json" },
    body: {
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: `Geography ${seq}: say something.` }],
      thinking: { type: "disabled" },
      stream: true,
    },
  };
}

function policy(simUrl: string, admission = true): string {
  return JSON.stringify({
    pools: {
      [POOL]: {
        provider: "deepseek",
        targets: [{ name: "sim", baseUrl: simUrl, keySecret: "DEEPSEEK_API_KEY" }],
        models: { "deepseek-v4-flash": "deepseek-v4-flash" },
        capabilities: ["tools", "json", "thinking"],
        concurrency: LIMIT,
        admission: { enabled: admission },
      },
    },
    routes: { chat: [POOL], code: [POOL], reasoning: [POOL] },
  });
}

/** Router i binds the gate through the delay hop; the ledger and cache stats are shared directly. */
async function start(simUrl: string, rtt: number): Promise<Miniflare> {
  const bindings = {
    DEEPSEEK_BASE_URL: simUrl,
    DEEPSEEK_API_KEY: LOCAL_UPSTREAM_KEY,
    ROUTER_TENANTS: tenantsConfig(),
    ROUTER_POLICY: policy(simUrl),
  };
  const owner = routerWorker({ name: "gates", bindings });
  // The same router with admission off: what the router costs without any gate.
  const openRouter = routerWorker({
    name: "router-open",
    bindings: { ...bindings, ROUTER_POLICY: policy(simUrl, false) },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    // One consumer per queue: the owner's.
    queueConsumers: {},
  });
  const routers: V4WorkerOptions[] = Array.from({ length: ROUTERS }, (_, i) =>
    routerWorker({
      name: `router-${i}`,
      bindings,
      durableObjects: {
        POOL_GATE: { className: "DelayedGate", scriptName: "delay" },
        TENANT_LEDGER: { className: "TenantLedger", scriptName: "gates" },
        CACHE_STATS: { className: "CacheStats", scriptName: "gates" },
        METRICS: { className: "MetricsAggregator", scriptName: "gates" },
      },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
      queueConsumers: {},
    }),
  );
  const delay: V4WorkerOptions = {
    name: "delay",
    modules: true,
    script: DELAY_HOP,
    compatibilityDate: "2026-11-01",
    bindings: { RTT_MS: String(rtt) },
    durableObjects: {
      DELAYED: "DelayedGate",
      REAL: { className: "PoolGate", scriptName: "gates" },
    },
  };
  const bare = bareWorker(simUrl);
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers: [owner, ...routers, openRouter, delay, bare],
      log: new Log(LogLevel.WARN),
      cf: false,
      handleStructuredLogs: () => {},
    }),
  );
  await mf.ready;
  return mf;
}

interface Runs {
  bare: Map<number, Run>;
  /** The router with admission off. */
  open: Map<number, Run>;
  /** By `${rtt}:${load}`. */
  routed: Map<string, Run>;
}

function report({ bare, open, routed }: Runs, seconds: number): BenchSection {
  const rows: Array<Record<string, string>> = [];
  const goals: BenchSection["goals"] = [];
  let worstLowLoadP50 = Number.NEGATIVE_INFINITY;
  let worstPeak = 0;
  for (const rtt of RTTS_MS) {
    for (const load of LOADS) {
      const run = routed.get(`${rtt}:${load}`) as Run;
      const base = distribution((bare.get(load) as Run).ttftMs);
      const off = distribution((open.get(load) as Run).ttftMs);
      const d = distribution(run.ttftMs);
      const addedP50 = d.p50 - base.p50;
      const addedP99 = d.p99 - base.p99;
      if (load < 0.5) worstLowLoadP50 = Math.max(worstLowLoadP50, addedP50);
      worstPeak = Math.max(worstPeak, run.peakInFlight);
      rows.push({
        "gate RTT": `${rtt} ms`,
        load: `${load * 100}% (${Math.round(load * LIMIT)} in flight)`,
        requests: String(run.requests),
        "TTFB p50 / p99": `${formatMs(d.p50)} / ${formatMs(d.p99)}`,
        "bare p50 / p99": `${formatMs(base.p50)} / ${formatMs(base.p99)}`,
        "added p50": formatMs(addedP50),
        "added p99": formatMs(addedP99),
        "p50 over admission off": formatMs(d.p50 - off.p50),
        "gate calls / request": (run.gateCalls / Math.max(1, run.requests)).toFixed(3),
        "peak upstream in flight / ceiling": `${run.peakInFlight} / ${LIMIT}`,
      });
    }
  }
  goals.push({
    goal: "added p50 TTFB ≤ 1 ms below 50% of the limit, at every RTT up to 150 ms",
    measured: formatMs(worstLowLoadP50),
    met: worstLowLoadP50 <= 1,
  });
  goals.push({
    goal: "peak upstream in flight ≤ ceiling in every run",
    measured: `${worstPeak} / ${LIMIT}`,
    met: worstPeak <= LIMIT,
  });
  return {
    title: geography.title,
    notes: [
      `${ROUTERS} router instances (separate isolates under one Miniflare) share one set of Durable Objects; each reaches the pool's gate through a delay hop that adds the RTT (half each way). The pool's ceiling is ${LIMIT}; the simulator accepts any number, so its peak in flight is what the routers really let through.`,
      `Closed-loop streams (first token after 50 ms, 20 tokens at 400/s), spread evenly over the routers, ${seconds} s per cell; the bare pass-through Worker gets the same load. TTFB is the time to the first token, which is the first byte a client reads for both paths.`,
      "Gate calls per request count every call the gate answered during the cell (acquires, releases, renewals and block lends), divided by the requests sent.",
      "“p50 over admission off” compares with the same router and load with admission turned off (policy `admission.enabled: false`): the share of the added time that admission itself costs; the rest is the router's own work.",
      "Near the limit the gate puts holders under pressure (waiters, or free permits down to its 1/8 reserve), and requests go to the gate, where priority decides: there the RTT is paid on purpose.",
    ],
    columns: [
      "gate RTT",
      "load",
      "requests",
      "TTFB p50 / p99",
      "bare p50 / p99",
      "added p50",
      "added p99",
      "p50 over admission off",
      "gate calls / request",
      "peak upstream in flight / ceiling",
    ],
    rows,
    goals,
  };
}

function stripSlash(url: URL): string {
  return url.toString().replace(/\/$/, "");
}
