import { startLocalStack } from "../../scripts/stack";
import { startEventMock, streamBody } from "../lib/event-mock";
import { type Measurement, measureRequests } from "../lib/measure";
import { formatMs, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";
import { platformApart, workerdCpuMs, workerdPids } from "../lib/workerd-cpu";

const PATHS = ["bare", "router"] as const;
type Path = (typeof PATHS)[number];
const EVENTS = [6, 100, 500] as const;
const CONCURRENCY = 32;
const ROUNDS = 2;

/**
 * Issue 27's realistic streams: a mock upstream that writes every SSE event as its own write, a turn
 * of the event loop apart (as DeepSeek flushes each token), so workerd sees one chunk per event instead
 * of a few coalesced blocks. The router (default policy, admission on) and the bare pass-through Worker
 * run in one workerd, the router's Durable Objects in another; CPU is the Workers' process's own
 * (utime+stime from /proc), not wall time.
 */
export const streams: BenchScenario = {
  name: "streams",
  title: "Realistic streams: one write per SSE event, router vs bare Worker, c=32",
  async run(ctx): Promise<BenchSection> {
    const mock = await startEventMock();
    // The router's Durable Objects run in a workerd of their own, as on Cloudflare outside the Worker.
    const apart = platformApart();
    const stack = await startLocalStack({ upstreamUrl: mock.url, platform: apart.platform });
    const results = new Map<string, { runs: Measurement[]; cpuMs: number; requests: number }>();
    try {
      const workerd = workerdPids().filter((pid) => !apart.pids.includes(pid));
      if (workerd.length === 0) throw new Error("no workerd process found under this one");
      for (let round = 0; round < ROUNDS; round++) {
        for (const events of EVENTS) {
          const n = Math.round((ctx.quick ? 0.25 : 1) * (events === 6 ? 1_200 : events === 100 ? 400 : 120));
          for (const path of PATHS) {
            const before = workerdCpuMs(workerd);
            const m = await measureRequests({
              baseUrl: path === "bare" ? stack.bareUrl : stack.routerUrl,
              key: stack.routerKey,
              body: streamBody(events),
              n,
              concurrency: CONCURRENCY,
              warmup: round === 0 ? 64 : 0,
            });
            // Warm-up requests ran inside the window too; count them.
            const spent = workerdCpuMs(workerd) - before;
            const key = `${path}:${events}`;
            const entry = results.get(key) ?? { runs: [], cpuMs: 0, requests: 0 };
            entry.runs.push(m);
            entry.cpuMs += spent;
            entry.requests += n + (round === 0 ? 64 : 0);
            results.set(key, entry);
            ctx.log(
              `round ${round + 1} ${path} ${events} events: ${m.rps.toFixed(0)} req/s, p99 ${m.latencyMs.p99.toFixed(1)} ms, ${((spent * 1000) / (n + (round === 0 ? 64 : 0))).toFixed(0)} µs CPU/stream, ok ${m.ok}/${m.n}`,
            );
          }
        }
      }
    } finally {
      await stack.close();
      await mock.close();
    }
    return report(results);
  },
};

function report(
  results: Map<string, { runs: Measurement[]; cpuMs: number; requests: number }>,
): BenchSection {
  const rows: Array<Record<string, string>> = [];
  const summary = new Map<string, { rps: number; p99: number; cpuUs: number; ok: string }>();
  for (const events of EVENTS) {
    for (const path of PATHS) {
      const entry = results.get(`${path}:${events}`);
      if (!entry) continue;
      const wall = entry.runs.reduce((sum, m) => sum + m.wallMs, 0);
      const n = entry.runs.reduce((sum, m) => sum + m.n, 0);
      const ok = entry.runs.reduce((sum, m) => sum + m.ok, 0);
      const rps = wall > 0 ? (n * 1000) / wall : 0;
      const p99 = Math.min(...entry.runs.map((m) => m.latencyMs.p99));
      summary.set(`${path}:${events}`, {
        rps,
        p99,
        cpuUs: (entry.cpuMs * 1000) / entry.requests,
        ok: `${ok}/${n}`,
      });
    }
    const bare = summary.get(`bare:${events}`);
    for (const path of PATHS) {
      const s = summary.get(`${path}:${events}`);
      if (!s || !bare) continue;
      rows.push({
        events: String(events),
        path,
        "req/s": s.rps.toFixed(0),
        "÷ bare": `${ratio(s.rps, bare.rps).toFixed(2)}×`,
        p99: formatMs(s.p99),
        "p99 ÷ bare": `${ratio(s.p99, bare.p99).toFixed(2)}×`,
        "CPU/stream": `${(s.cpuUs / 1000).toFixed(2)} ms`,
        "CPU ÷ bare": `${ratio(s.cpuUs, bare.cpuUs).toFixed(2)}×`,
        ok: s.ok,
      });
    }
  }
  const get = (path: Path, events: number) =>
    summary.get(`${path}:${events}`) ?? { rps: 0, p99: 0, cpuUs: 0, ok: "" };
  // CPU per extra event: the slope between the shortest and the longest stream.
  const slope = (path: Path) => (get(path, 500).cpuUs - get(path, 6).cpuUs) / (500 - 6);
  const slopeRatio = ratio(slope("router"), slope("bare"));
  rows.push({
    events: "per extra event",
    path: "router / bare",
    "req/s": "",
    "÷ bare": "",
    p99: "",
    "p99 ÷ bare": "",
    "CPU/stream": `${slope("router").toFixed(1)} / ${slope("bare").toFixed(1)} µs`,
    "CPU ÷ bare": `${slopeRatio.toFixed(2)}×`,
    ok: "",
  });
  const rpsRatio = (events: number) => ratio(get("router", events).rps, get("bare", events).rps);
  const p99Ratio = (events: number) => ratio(get("router", events).p99, get("bare", events).p99);
  return {
    title: streams.title,
    notes: [
      "A Node mock upstream writes each event (about 300 bytes, DeepSeek's shape with `usage: null`, usage on the finish event, then `[DONE]`) as its own write, one event-loop turn apart. It runs in the bench's process with the load generator.",
      `Router (default policy, admission on) and bare pass-through Worker in one workerd (Miniflare, direct sockets); the router's Durable Objects in a second, reached through Miniflare's dev registry, as on Cloudflare they run outside the Worker. ${ROUNDS} rounds alternate them, ${CONCURRENCY} streams in flight; req/s over all rounds, p99 the better round's.`,
      "CPU is the Workers' workerd process's utime+stime over each batch (warm-up included) divided by its requests: it counts native stream work (tee copies, pumps) that a V8 profile shows only as (program). The mock, the client and the Durable Objects run outside it.",
      "Per extra event: (CPU at 500 events − CPU at 6) ÷ 494.",
    ],
    columns: ["events", "path", "req/s", "÷ bare", "p99", "p99 ÷ bare", "CPU/stream", "CPU ÷ bare", "ok"],
    rows,
    goals: [
      ...([100, 500] as const).map((events) => ({
        goal: `${events}-event streams ≥ 0.75× bare at c=32`,
        measured: `${rpsRatio(events).toFixed(2)}×`,
        met: rpsRatio(events) >= 0.75,
      })),
      ...([100, 500] as const).map((events) => ({
        goal: `${events}-event stream p99 ≤ 1.5× bare`,
        measured: `${p99Ratio(events).toFixed(2)}×`,
        met: p99Ratio(events) <= 1.5,
      })),
      {
        goal: "6-event streams ≥ 0.8× bare",
        measured: `${rpsRatio(6).toFixed(2)}×`,
        met: rpsRatio(6) >= 0.8,
      },
      {
        goal: "router CPU per extra event ≤ 1.5× bare",
        measured: `${slopeRatio.toFixed(2)}×`,
        met: slopeRatio <= 1.5,
      },
    ],
  };
}
