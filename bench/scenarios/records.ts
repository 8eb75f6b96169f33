import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { LOCAL_ROUTER_KEY, tenantsConfig } from "../../scripts/local-config";
import { localRouterWorker, startPlatform, withRemoteObjects } from "../../scripts/stack";
import { startSimServer } from "../../sim/node";
import type { OtlpTraces } from "../../src/observe/otlp";
import { type Measurement, measureRequests } from "../lib/measure";
import { compareRows, formatMs, median } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";
import { ProcessCpu, workerdPids } from "../lib/workerd-cpu";

/**
 * What a request leaves in storage: its record's JSON, from the tenant's list API of the copy that
 * records without capture, and its captured payload, the capturing copy's R2 objects over the requests
 * it served.
 */
async function storagePerRequest(
  mf: Miniflare,
  recordsUrl: string,
  captured: number,
): Promise<{ recordJsonBytes: number; payloadBytes: number }> {
  const response = await fetch(`${recordsUrl}/v1/requests?limit=100`, {
    headers: { authorization: `Bearer ${LOCAL_ROUTER_KEY}` },
  });
  const records = response.ok ? ((await response.json()) as { data: unknown[] }).data : [];
  const recordJsonBytes =
    records.reduce<number>((sum, record) => sum + Buffer.byteLength(JSON.stringify(record)), 0) /
    records.length;
  const bucket = await mf.getR2Bucket("FILES", "router-on");
  let payloadTotal = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: "captures/", cursor });
    for (const object of page.objects) payloadTotal += object.size;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return { recordJsonBytes, payloadBytes: payloadTotal / captured };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The local tenants, each capturing payloads. */
function capturingTenants(): string {
  const tenants = JSON.parse(tenantsConfig()) as Array<Record<string, unknown>>;
  return JSON.stringify(tenants.map((tenant) => ({ ...tenant, capture: { enabled: true } })));
}

const VARIANTS = ["records off", "records on", "records + OTel on", "records + OTel + capture on"] as const;
type Variant = (typeof VARIANTS)[number];
const CONCURRENCY = 8;
const ROUNDS = 6;
/**
 * Requests per round. A round carries fixed costs a steady stream spreads thin: one consumer
 * invocation and one OTLP POST (wrangler.toml lets a batch gather up to 100 flushes for 5 s, over a
 * thousand records at a few hundred requests a second), and the idle rate taken out of its settle.
 * A thousand requests weigh them about as steady traffic does; 250 counted them four times over.
 */
const PER_ROUND = 1_000;
/**
 * Every round, whatever its variant, waits this long before its CPU is read: the round's background
 * work (record and payload flushes within 250 ms, the queue's batch within QUEUE_BATCH_TIMEOUT_S, its
 * export) finishes inside it. The same wait for all, so no variant counts more of workerd's idle timers.
 */
const SETTLE_MS = 3_000;
/**
 * The trace queue's max_batch_timeout here (5 s in wrangler.toml): a round's flushes reach the queue within
 * it, so its consumer takes them in one or two batches either way, and the shorter
 * wait counts less idle time (and its noise) in every round.
 */
const QUEUE_BATCH_TIMEOUT_S = 1;
/** The trace queue (wrangler.toml; OTEL_QUEUE in src/observe/otel-export.ts, a Workers module). */
const OTEL_QUEUE = "deepseek-router-otel-traces";
/** Workerd's idle CPU is measured this long before the rounds, and its rate taken out of each round. */
const IDLE_MS = 10_000;

const body = {
  model: "deepseek-v4-flash",
  messages: [
    { role: "system", content: "You answer questions about edge routing in one short paragraph." },
    { role: "user", content: "Records benchmark: what does a request record hold?" },
  ],
  thinking: { type: "disabled" },
  stream: false,
};

/**
 * Issue 25's cost of request records, trace export and payload capture on the hot path: the same
 * non-streamed requests through four copies of the router in one workerd, from REQUEST_RECORDS=off to
 * all three on, with their Durable Objects and the trace queue's consumer in a second workerd. Rounds
 * alternate; the goal is judged on the routers' workerd's CPU per request, the platform's reported beside it.
 */
export const recordsBench: BenchScenario = {
  name: "records",
  title: "Request records, OTel export and payload capture: relay throughput on vs off",
  async run(ctx): Promise<BenchSection> {
    const perRound = ctx.quick ? 120 : PER_ROUND;
    const sim = await startSimServer({ port: 0, ttftMs: 0, tokensPerS: 0 });
    let posts = 0;
    /** Request spans (SERVER) the collector decoded: one per request exported. */
    let requestSpans = 0;
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        posts++;
        const otlp = JSON.parse(Buffer.concat(chunks).toString()) as OtlpTraces;
        for (const span of otlp.resourceSpans[0]?.scopeSpans[0]?.spans ?? [])
          requestSpans += span.kind === 2 ? 1 : 0;
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const base = localRouterWorker(sim.url);
    const baseConsumers = base.queueConsumers as Record<string, Record<string, unknown>>;
    const consumers = {
      ...baseConsumers,
      [OTEL_QUEUE]: { ...baseConsumers[OTEL_QUEUE], maxBatchTimeout: QUEUE_BATCH_TIMEOUT_S },
    };
    const quiet = {
      log: new Log(LogLevel.WARN),
      host: "127.0.0.1",
      port: 0,
      cf: false,
      handleStructuredLogs: () => {},
    };
    // The platform's side: the Durable Objects (the tenant's ledger among them) and the trace queue's
    // consumer, in a workerd of their own, as on Cloudflare they run outside the Worker.
    const platform = await startPlatform(
      {
        ...base,
        bindings: {
          ...(base.bindings as Record<string, unknown>),
          METRICS_ENABLED: "false",
          OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
        },
        queueConsumers: consumers,
      },
      quiet,
    );
    const platformPids = workerdPids();
    // Each copy's Durable Objects are the platform's, reached by RPC through the dev registry.
    const variant = (name: string, records: boolean, otel: boolean, capture = false): V4WorkerOptions => ({
      ...withRemoteObjects(base),
      name,
      bindings: {
        ...(base.bindings as Record<string, unknown>),
        METRICS_ENABLED: "false",
        ...(records ? {} : { REQUEST_RECORDS: "off" }),
        ...(otel ? { OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl } : {}),
        ...(capture ? { ROUTER_TENANTS: capturingTenants() } : {}),
      },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    });
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        ...quiet,
        unsafeDevRegistryPath: platform.registry,
        workers: [
          variant("router-off", false, false),
          variant("router-records", true, false),
          variant("router-otel", true, true),
          variant("router-on", true, true, true),
        ],
      }),
    );
    const results: Record<Variant, Measurement[]> = {
      "records off": [],
      "records on": [],
      "records + OTel on": [],
      "records + OTel + capture on": [],
    };
    /** Each workerd's CPU per variant: the routers' (the Worker's own work) and the platform's. */
    const cpu = { router: new ProcessCpu(), platform: new ProcessCpu() };
    let storage = { recordJsonBytes: 0, payloadBytes: 0 };
    const load = (baseUrl: string) => ({ baseUrl, key: LOCAL_ROUTER_KEY, body, concurrency: CONCURRENCY });
    try {
      await mf.ready;
      cpu.router.pids = workerdPids().filter((pid) => !platformPids.includes(pid));
      cpu.platform.pids = platformPids;
      const urls: Record<Variant, string> = {
        "records off": (await mf.unsafeGetDirectURL("router-off")).toString().replace(/\/$/, ""),
        "records on": (await mf.unsafeGetDirectURL("router-records")).toString().replace(/\/$/, ""),
        "records + OTel on": (await mf.unsafeGetDirectURL("router-otel")).toString().replace(/\/$/, ""),
        "records + OTel + capture on": (await mf.unsafeGetDirectURL("router-on"))
          .toString()
          .replace(/\/$/, ""),
      };
      for (const v of VARIANTS) await measureRequests({ ...load(urls[v]), n: 30 });
      await sleep(SETTLE_MS);
      const idleStart = { router: cpu.router.read(), platform: cpu.platform.read() };
      await sleep(IDLE_MS);
      cpu.router.endIdle(idleStart.router);
      cpu.platform.endIdle(idleStart.platform);
      posts = 0; // The warm-up's spans are not the rounds'.
      requestSpans = 0;
      for (let round = 0; round < ROUNDS; round++) {
        for (const v of round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
          const before = { router: cpu.router.read(), platform: cpu.platform.read() };
          const m = await measureRequests({ ...load(urls[v]), n: perRound });
          await sleep(SETTLE_MS);
          const routerMs = cpu.router.count(v, before.router, perRound);
          const platformMs = cpu.platform.count(v, before.platform, perRound);
          results[v].push(m);
          ctx.log(
            `round ${round + 1}/${ROUNDS} ${v}: CPU/request router ${routerMs.toFixed(2)} ms, platform ${platformMs.toFixed(2)} ms, ${m.rps.toFixed(0)} req/s, p50 ${m.latencyMs.p50.toFixed(2)} ms, ok ${m.ok}/${m.n}`,
          );
        }
      }
      storage = await storagePerRequest(mf, urls["records on"], 30 + ROUNDS * perRound);
    } finally {
      await mf.dispose();
      await platform.close();
      await sim.close();
      collector.close();
    }
    // Throughput over the requests' own wall time, not the waits between rounds.
    const rps = (v: Variant) =>
      (results[v].reduce((n, m) => n + m.n, 0) * 1000) / results[v].reduce((n, m) => n + m.wallMs, 0);
    const roundsMedian = (v: Variant, pick: (m: Measurement) => number) => median(results[v].map(pick));
    const valuesOf = (f: (v: Variant) => number) => Object.fromEntries(VARIANTS.map((v) => [v, f(v)]));
    const perRequest = (side: "router" | "platform" | "both") => (v: Variant) =>
      side === "both" ? cpu.router.perRequest(v) + cpu.platform.perRequest(v) : cpu[side].perRequest(v);
    const table = compareRows({
      metricColumn: "metric",
      variants: VARIANTS,
      baseline: "records off",
      metrics: [
        {
          label: "router Worker's CPU per request",
          values: valuesOf(perRequest("router")),
          format: formatMs,
        },
        {
          label: "router Worker's CPU per request (median of rounds)",
          values: valuesOf((v) => median(cpu.router.totals.get(v)?.perRound ?? [])),
          format: formatMs,
        },
        {
          label: "platform side's CPU per request",
          values: valuesOf(perRequest("platform")),
          format: formatMs,
        },
        { label: "both workerds' CPU per request", values: valuesOf(perRequest("both")), format: formatMs },
        { label: "throughput (req/s)", values: valuesOf(rps), format: (v) => v.toFixed(0) },
        {
          label: "latency p50 (median of rounds)",
          values: valuesOf((v) => roundsMedian(v, (m) => m.latencyMs.p50)),
          format: formatMs,
        },
        {
          label: "latency p99 (median of rounds)",
          values: valuesOf((v) => roundsMedian(v, (m) => m.latencyMs.p99)),
          format: formatMs,
        },
      ],
    });
    const dropOf = (side: "router" | "both") => {
      const drop = 1 - perRequest(side)("records off") / perRequest(side)("records + OTel + capture on");
      return {
        measured: `${Math.abs(drop * 100).toFixed(1)}% ${drop >= 0 ? "lower" : "higher"}`,
        met: drop <= 0.05,
      };
    };
    return {
      title: recordsBench.title,
      notes: [
        `${ROUNDS} rounds × ${perRound} non-streamed requests per variant, order alternating, ${CONCURRENCY} in flight, simulator answering at once, metrics off in all.`,
        "'records off' sets REQUEST_RECORDS=off; 'records on' records every request with no collector; the third also exports each batch as OTLP/HTTP JSON through the queue to a loopback collector; the fourth also captures every payload (redacted, capped at 32 KB) in R2, one object per isolate flush and tenant.",
        "Two workerds, as on Cloudflare: the four router copies in one, each copy's work per request (its record built and batched, its flush's RPC and queue send, its payload capture and R2 write, the usage row's RPC) counted as the router Worker's CPU; the Durable Objects (the tenant's ledger, which stores the records) and the trace queue's consumer (the OTLP export) in the other, reached through Miniflare's dev registry, counted as the platform side's. On Cloudflare the ledger runs in its own object, the queue is the platform's, and the export runs in its own consumer invocation: none of it in the Worker serving the request.",
        `The collector received ${posts} OTLP POSTs holding ${requestSpans} request spans, of the ${2 * ROUNDS * perRound} requests the two exporting copies served in the rounds (one queue message per isolate flush and tenant, each batch exported in one POST).`,
        `Every round waits ${SETTLE_MS / 1000} s after its requests, whichever the variant, so its flushes (within 250 ms) and the queue's batch are counted in it (the trace queue's max_batch_timeout is ${QUEUE_BATCH_TIMEOUT_S} s here, 5 s in wrangler.toml). Each workerd's idle CPU, measured for ${IDLE_MS / 1000} s before the rounds (router ${(cpu.router.idlePerMs * 1000).toFixed(1)} ms per s, platform ${(cpu.platform.idlePerMs * 1000).toFixed(1)} ms per s), is taken out of each round's window. Without that, router Worker's CPU per request: ${VARIANTS.map((v) => `${v} ${formatMs(cpu.router.perRequest(v, true))}`).join(", ")}.`,
        `Storage per request: the record's JSON (its body column; SQLite adds its columns and indexes, 2.1 KB a typical record in all, test/workers/ledger/request-records.test.ts) averaged ${storage.recordJsonBytes.toFixed(0)} bytes over the last 100 records; a captured payload (prompt and answer, redacted, in its flush's R2 object) ${storage.payloadBytes.toFixed(0)} bytes (these prompts and answers are short; each side is capped at maxBytes, 32 KB by default).`,
        `A round's CPU is each whole process's, idle copies included, which is why the idle rate is measured per process. Workerd counts in clock ticks (10 ms), so a round of ${perRound} requests resolves ${formatMs(10 / perRound)} per request.`,
        "Miniflare's local R2 and KV simulators, and the queue broker every producer sends through (it base64-decodes and validates each message, then forwards it through the dev registry to the consumer's workerd), run inside the routers' workerd: their CPU counts as the router Worker's here, where on Cloudflare it is the platform's.",
        "The goal is judged on the CPU time per request (its inverse is throughput at saturation); wall-clock req/s moves with other work on this shared machine.",
      ],
      columns: table.columns,
      rows: table.rows,
      goals: [
        {
          goal: "router Worker's throughput with records, OTel export and payload capture ≤ 5% lower than all off (1 ÷ its CPU per request)",
          ...dropOf("router"),
        },
        {
          goal: "the same, counting the platform side's CPU too (both workerds)",
          ...dropOf("both"),
        },
        {
          goal: "every request the two exporting copies served reached the collector as its span",
          measured: `${requestSpans} of ${2 * ROUNDS * perRound}`,
          met: requestSpans === 2 * ROUNDS * perRound,
        },
      ],
    };
  },
};
