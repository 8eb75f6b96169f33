import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { routerWorker } from "../../scripts/build";
import { tenantsConfig } from "../../scripts/local-config";
import { distribution, formatMs, formatRatio, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";

/** Issue 10's goals for the deployed bundle. */
const GOALS = { rawKiB: 300, gzipKiB: 64 };
/** Portkey's gateway built for Workers (`wrangler deploy --dry-run`), as issue 10 quotes it. */
const PORTKEY = { rawKiB: 958, gzipKiB: 258 };
/** The router before issue 10 (full zod, unminified). */
const BEFORE = { rawKiB: 1025, gzipKiB: 188 };

/** An empty Worker with the router's Durable Object classes, so both start the same bindings and storage. */
function emptyWorkerLike(router: V4WorkerOptions): V4WorkerOptions {
  const classes = Object.values(router.durableObjects ?? {}).map((d) =>
    typeof d === "string" ? d : d.className,
  );
  const script = [
    `import { DurableObject } from "cloudflare:workers";`,
    ...classes.map((name) => `export class ${name} extends DurableObject {}`),
    `export default { fetch() { return new Response("ok"); } };`,
  ].join("\n");
  const { scriptPath: _bundle, ...options } = router;
  return { ...options, name: "empty", script };
}

interface StartSample {
  /** From creating the runtime to workerd having loaded and evaluated the Worker's modules. */
  readyMs: number;
  /** From creating the runtime to the first response's body: startup plus the first request's own work. */
  firstResponseMs: number;
}

/** One cold start in a fresh workerd: nothing is cached between samples. */
async function coldStart(worker: V4WorkerOptions, path: string): Promise<StartSample> {
  const t0 = performance.now();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers: [worker],
      log: new Log(LogLevel.WARN),
      host: "127.0.0.1",
      port: 0,
      cf: false,
      handleStructuredLogs: () => {},
    }),
  );
  try {
    await mf.ready;
    const readyMs = performance.now() - t0;
    const response = await mf.dispatchFetch(`http://localhost${path}`);
    await response.arrayBuffer();
    return { readyMs, firstResponseMs: performance.now() - t0 };
  } finally {
    await mf.dispose();
  }
}

const kib = (bytes: number) => bytes / 1024;
const fmtKiB = (v: number) => `${v.toFixed(1)} KiB`;

/**
 * Issue 10: what `wrangler deploy` uploads (raw and gzip, the figures its dry run prints) and what
 * that costs at a cold start. Startup is timed from outside workerd, whose clocks stand still while
 * JavaScript runs; each sample starts a fresh runtime, alternating an empty Worker with the same
 * bindings (the baseline) and the router, so the difference is the router's module evaluation and
 * first request.
 */
export const bundle: BenchScenario = {
  name: "bundle",
  title: "Bundle size and cold start",
  async run(ctx): Promise<BenchSection> {
    const router = routerWorker({
      bindings: {
        DEEPSEEK_BASE_URL: "http://127.0.0.1:9",
        DEEPSEEK_API_KEY: "unused",
        ROUTER_TENANTS: tenantsConfig(),
      },
    });
    const script = readFileSync(router.scriptPath as string);
    const raw = kib(script.byteLength);
    const gzip = kib(gzipSync(script).byteLength);
    ctx.log(`bundle: ${fmtKiB(raw)} raw, ${fmtKiB(gzip)} gzip`);

    const empty = emptyWorkerLike(router);
    const rounds = ctx.quick ? 3 : 12;
    const samples: Record<"empty" | "router", StartSample[]> = { empty: [], router: [] };
    await coldStart(empty, "/"); // the first workerd launch also warms the OS's file cache
    for (let round = 0; round < rounds; round++) {
      samples.empty.push(await coldStart(empty, "/"));
      samples.router.push(await coldStart(router, "/healthz"));
      ctx.log(
        `round ${round + 1}/${rounds}: ready ${samples.empty.at(-1)?.readyMs.toFixed(0)} / ${samples.router.at(-1)?.readyMs.toFixed(0)} ms (empty / router)`,
      );
    }
    const p50 = (name: "empty" | "router", pick: (s: StartSample) => number) =>
      distribution(samples[name].map(pick)).p50;
    const row = (measure: string, value: number, base: number, format: (v: number) => string) => ({
      measure,
      router: format(value),
      baseline: format(base),
      "router ÷ baseline": formatRatio(ratio(value, base)),
    });
    const startRow = (measure: string, pick: (s: StartSample) => number) =>
      row(measure, p50("router", pick), p50("empty", pick), formatMs);
    return {
      title: bundle.title,
      notes: [
        "Sizes are of the bundle `wrangler deploy --dry-run` writes (minified, as deployed); gzip is Node's zlib at its default level, as wrangler reports it. Their baseline is Portkey's gateway built for Workers, as issue 10 quotes it (not rebuilt here).",
        `Before issue 10 the router's bundle was ${BEFORE.rawKiB} KiB raw and ${BEFORE.gzipKiB} KiB gzip (full zod, unminified).`,
        `Cold start: ${rounds} alternating fresh workerd launches per Worker under Miniflare, p50, against an empty Worker with the router's bindings and Durable Object classes, so the difference is the router's code. "Ready" is the runtime having loaded and evaluated the modules; "first response" adds the first request (the router's \`GET /healthz\`, which parses its configuration).`,
      ],
      columns: ["measure", "router", "baseline", "router ÷ baseline"],
      rows: [
        row("bundle raw (baseline: Portkey)", raw, PORTKEY.rawKiB, fmtKiB),
        row("bundle gzip (baseline: Portkey)", gzip, PORTKEY.gzipKiB, fmtKiB),
        startRow("cold start to ready (baseline: empty Worker)", (s) => s.readyMs),
        startRow("cold start to first response (baseline: empty Worker)", (s) => s.firstResponseMs),
      ],
      goals: [
        { goal: `bundle ≤ ${GOALS.rawKiB} KiB raw`, measured: fmtKiB(raw), met: raw <= GOALS.rawKiB },
        { goal: `bundle ≤ ${GOALS.gzipKiB} KiB gzip`, measured: fmtKiB(gzip), met: gzip <= GOALS.gzipKiB },
      ],
    };
  },
};
