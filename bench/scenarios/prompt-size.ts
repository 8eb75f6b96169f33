import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { routerWorker } from "../../scripts/build";
import { LOCAL_ROUTER_KEY, LOCAL_UPSTREAM_KEY, tenantsConfig } from "../../scripts/local-config";
import { BARE_PASSTHROUGH } from "../../scripts/stack";
import { startSimServer } from "../../sim/node";
import { measureRequests } from "../lib/measure";
import { formatMs, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";
import { busyMicros, type CpuProfile, connect } from "./profile";

const INSPECTOR_PORT = 9_331;
const CONCURRENCY = 4;
const KIB = 1024;
const SIZES = [
  { label: "1 KiB", bytes: KIB, n: 400 },
  { label: "64 KiB", bytes: 64 * KIB, n: 200 },
  { label: "512 KiB", bytes: 512 * KIB, n: 80 },
  { label: "4 MiB", bytes: 4 * KIB * KIB, n: 16 },
] as const;

/** A prompt of about `bytes` of ordinary text (about four bytes a token). */
function prompt(bytes: number): string {
  const words = "the router reads a prompt of many tokens and forwards it upstream without delay ";
  return words.repeat(Math.ceil(bytes / words.length)).slice(0, bytes);
}

/**
 * Issue 11's prompt sizes: router vs bare Worker with 1 KiB to 4 MiB prompts (non-streamed, instant
 * upstream, c=4), and the router's CPU per request, read from a V8 CPU profile of its isolate
 * (busy time, not the wall clock).
 */
export const promptSize: BenchScenario = {
  name: "prompt-size",
  title: "Prompt size: router vs bare Worker, and the router's CPU per request",
  async run(ctx): Promise<BenchSection> {
    const sim = await startSimServer({ port: 0, ttftMs: 0, tokensPerS: 0 });
    const router = routerWorker({
      bindings: {
        DEEPSEEK_BASE_URL: sim.url,
        DEEPSEEK_API_KEY: LOCAL_UPSTREAM_KEY,
        ROUTER_TENANTS: tenantsConfig(),
      },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    });
    const bare: V4WorkerOptions = {
      name: "bare",
      modules: true,
      script: BARE_PASSTHROUGH,
      compatibilityDate: "2026-11-01",
      bindings: { UPSTREAM: sim.url },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    };
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: [router, bare],
        log: new Log(LogLevel.WARN),
        cf: false,
        inspectorPort: INSPECTOR_PORT,
        handleStructuredLogs: () => {},
      }),
    );
    const rows: Array<Record<string, string>> = [];
    const cpuPerRequest = new Map<string, number>();
    const ratios = new Map<string, number>();
    try {
      await mf.ready;
      const url = async (name: string) => (await mf.unsafeGetDirectURL(name)).toString().replace(/\/$/, "");
      const urls = { router: await url("router"), bare: await url("bare") };
      const inspector = await connect(INSPECTOR_PORT);
      await inspector.send("Profiler.enable");
      await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
      for (const size of SIZES) {
        const n = ctx.quick ? Math.max(8, size.n / 4) : size.n;
        const body = {
          model: "deepseek-v4-flash",
          messages: [{ role: "user", content: prompt(size.bytes) }],
          thinking: { type: "disabled" },
          max_tokens: 16,
        };
        const run = (baseUrl: string) =>
          measureRequests({
            baseUrl,
            key: LOCAL_ROUTER_KEY,
            body,
            n,
            concurrency: CONCURRENCY,
            warmup: 4,
            timeoutMs: 120_000,
          });
        const bareRun = await run(urls.bare);
        await inspector.send("Profiler.start");
        const routerRun = await run(urls.router);
        const { profile } = (await inspector.send("Profiler.stop")) as { profile: CpuProfile };
        // The profile also covers the warm-up requests.
        const cpuUs = busyMicros(profile) / (n + 4);
        const r = ratio(routerRun.rps, bareRun.rps);
        cpuPerRequest.set(size.label, cpuUs);
        ratios.set(size.label, r);
        ctx.log(
          `${size.label}: bare ${bareRun.rps.toFixed(0)} req/s, router ${routerRun.rps.toFixed(0)} req/s, router CPU ${(cpuUs / 1000).toFixed(2)} ms/request`,
        );
        rows.push({
          prompt: size.label,
          "bare req/s": bareRun.rps.toFixed(1),
          "router req/s": routerRun.rps.toFixed(1),
          "router ÷ bare": `${r.toFixed(2)}×`,
          "router p50": formatMs(routerRun.latencyMs.p50),
          "router CPU / request": formatMs(cpuUs / 1000),
          "CPU per MiB of prompt": formatMs(cpuUs / 1000 / (size.bytes / (KIB * KIB))),
          ok: `${routerRun.ok}/${routerRun.n}`,
        });
      }
      inspector.close();
    } finally {
      await mf.dispose();
      await sim.close();
    }
    const at = (label: string) => cpuPerRequest.get(label) ?? Number.NaN;
    // Linear or better: each 8× step in size costs at most 8× the CPU (with a quarter for noise).
    const growth = at("4 MiB") / at("512 KiB");
    const r512 = ratios.get("512 KiB") ?? Number.NaN;
    return {
      title: promptSize.title,
      notes: [
        `Non-streamed chat requests whose one user message is the stated size of plain text, ${CONCURRENCY} in flight, against an instant simulator (16 output tokens). Router (default policy, admission on) and a bare pass-through Worker in one workerd.`,
        "Both paths share one simulator on Node, which parses and counts every prompt: past 64 KiB it, not the Workers, sets the pace, so the ratios there say little and the CPU column is the measure of the router.",
        "Router CPU per request is the busy time of its isolate in a V8 CPU profile taken over the router's requests (JavaScript, garbage collection and the runtime's native work on that thread; not idle time). On a shared machine the local clock also runs while the process is descheduled, so treat absolute figures as upper bounds.",
      ],
      columns: [
        "prompt",
        "bare req/s",
        "router req/s",
        "router ÷ bare",
        "router p50",
        "router CPU / request",
        "CPU per MiB of prompt",
        "ok",
      ],
      rows,
      goals: [
        {
          goal: "router ≥ 0.5× bare with a 512 KiB prompt at c=4",
          measured: `${r512.toFixed(2)}×`,
          met: r512 >= 0.5,
        },
        {
          goal: "router CPU grows no faster than linearly (512 KiB → 4 MiB: ≤ 8×)",
          measured: `${growth.toFixed(2)}×`,
          met: growth <= 8 * 1.25,
        },
      ],
    };
  },
};
