import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { routerWorker } from "../../scripts/build";
import { distribution, formatMs } from "../lib/stats";
import { formatNumber } from "../lib/table";
import type { BenchScenario, BenchSection } from "../lib/types";

/**
 * A driver Worker in the same workerd as the router's PoolGate class, calling it over RPC exactly as
 * the router does: acquire (no wait), then release. workerd's clock advances only across I/O and in
 * whole milliseconds, so single round trips are timed in batches of ten.
 */
const DRIVER = `
const LIMITS = { ceiling: 1000000, maxQueue: 100000, leaseTtlMs: 60000, adaptive: false };
const QUEUED = { ceiling: 8, maxQueue: 100000, leaseTtlMs: 60000, adaptive: false };

async function pair(gate, limits, waitMs) {
  const leaseId = crypto.randomUUID();
  const result = await gate.acquire({ leaseId, tenant: "bench", priority: "normal", latency: "interactive", waitMs, limits });
  if (!result.granted) throw new Error("not granted: " + result.reason);
  await gate.release(leaseId, { kind: "success", status: 200, latencyMs: 100 });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const name = url.searchParams.get("gate");
    if (url.pathname === "/latency") {
      const batches = Number(url.searchParams.get("batches"));
      const gate = env.POOL_GATE.getByName(name + "#0");
      for (let i = 0; i < 50; i++) await pair(gate, LIMITS, 0);
      const batchMs = [];
      const t0 = Date.now();
      for (let b = 0; b < batches; b++) {
        const s = Date.now();
        for (let i = 0; i < 10; i++) await pair(gate, LIMITS, 0);
        batchMs.push((Date.now() - s) / 10);
      }
      return Response.json({ perPairMs: batchMs, totalMs: Date.now() - t0, pairs: batches * 10 });
    }
    const ms = Number(url.searchParams.get("ms"));
    const concurrency = Number(url.searchParams.get("concurrency"));
    const shards = Number(url.searchParams.get("shards") ?? 1);
    const queued = url.searchParams.get("queued") === "1";
    const start = Date.now();
    const end = start + ms;
    let pairs = 0;
    const loop = async (i) => {
      const gate = env.POOL_GATE.getByName(name + "#" + (i % shards));
      while (Date.now() < end) {
        await pair(gate, queued ? QUEUED : LIMITS, queued ? 60000 : 0);
        pairs++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
    return Response.json({ pairs, ms: Date.now() - start });
  },
};`;

interface Throughput {
  label: string;
  concurrency: number;
  shards: number;
  queued: boolean;
}

const THROUGHPUT: Throughput[] = [
  { label: "1 caller", concurrency: 1, shards: 1, queued: false },
  { label: "8 concurrent callers", concurrency: 8, shards: 1, queued: false },
  { label: "64 concurrent callers", concurrency: 64, shards: 1, queued: false },
  { label: "64 callers, 8 slots (every acquire queues)", concurrency: 64, shards: 1, queued: true },
  { label: "64 callers over 4 shards", concurrency: 64, shards: 4, queued: false },
];

export const admissionGate: BenchScenario = {
  name: "admission-gate",
  title: "PoolGate: acquire+release round trip and what one gate sustains",
  async run(ctx) {
    const mf = await start();
    try {
      const driver = await mf.getWorker("driver");
      const call = async <T>(path: string): Promise<T> => {
        const response = await driver.fetch(`http://driver${path}`);
        if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
        return (await response.json()) as T;
      };
      const batches = ctx.quick ? 50 : 300;
      ctx.log(`latency: ${batches * 10} sequential acquire+release pairs`);
      const latency = await call<{ perPairMs: number[]; totalMs: number; pairs: number }>(
        `/latency?gate=latency-${Date.now()}&batches=${batches}`,
      );
      const perPair = distribution(latency.perPairMs);
      const rows: Array<Record<string, string>> = [
        {
          measurement: "acquire+release round trip, mean",
          value: formatMs(latency.totalMs / latency.pairs),
        },
        { measurement: "acquire+release round trip, p50 (of 10-pair means)", value: formatMs(perPair.p50) },
        { measurement: "acquire+release round trip, p99 (of 10-pair means)", value: formatMs(perPair.p99) },
      ];
      const ms = ctx.quick ? 1_000 : 4_000;
      for (const t of THROUGHPUT) {
        ctx.log(`throughput: ${t.label} for ${ms} ms`);
        const result = await call<{ pairs: number; ms: number }>(
          `/throughput?gate=tp-${Date.now()}&ms=${ms}&concurrency=${t.concurrency}&shards=${t.shards}&queued=${t.queued ? 1 : 0}`,
        );
        const callsPerS = (2 * result.pairs * 1000) / result.ms;
        rows.push({
          measurement: `RPC calls/s, ${t.label}`,
          value: `${formatNumber(callsPerS)} (${formatNumber(callsPerS / 2)} leases/s)`,
        });
      }
      return section(rows);
    } finally {
      await mf.dispose();
    }
  },
};

function section(rows: Array<Record<string, string>>): BenchSection {
  return {
    title: admissionGate.title,
    notes: [
      "A driver Worker and the router's PoolGate run in one local workerd (Miniflare, SQLite storage in memory); the driver calls the gate over RPC as the router does. A lease is two calls: acquire (which writes the lease row) and release (which deletes it).",
      "Locally every Durable Object of a Worker shares one thread, so shards do not add throughput here; in production each gate is its own object, placed on its own machine, and the soft limit is about 1,000 requests/s per object. See docs/scaling.md for the projection.",
      "The round trip is measured inside workerd, whose clock advances only across I/O and in whole milliseconds, hence the 10-pair batches.",
    ],
    columns: ["measurement", "value"],
    rows,
  };
}

async function start(): Promise<Miniflare> {
  const router = routerWorker();
  const driver: V4WorkerOptions = {
    name: "driver",
    modules: true,
    script: DRIVER,
    compatibilityDate: "2026-11-01",
    durableObjects: { POOL_GATE: { className: "PoolGate", scriptName: "router" } },
  };
  const mf = new Miniflare(
    convertV4MiniflareOptions({ workers: [driver, router], log: new Log(LogLevel.WARN), cf: false }),
  );
  await mf.ready;
  return mf;
}
