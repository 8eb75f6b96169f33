import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { LOCAL_ROUTER_KEY } from "../../scripts/local-config";
import { bareWorker, localRouterWorker } from "../../scripts/stack";
import { startEventMock } from "../lib/event-mock";
import { type Measurement, measureRequests } from "../lib/measure";
import { formatMs, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";
import { workerdCpuMs, workerdPids } from "../lib/workerd-cpu";

const CONCURRENCY = 4;
const ROUNDS = 2;
const KIB = 1024;
/**
 * The prompt is the user message, or (the last two) the system message: a pasted document there is
 * part of the prefix the request's record fingerprints for the prompt-cost insights.
 */
const SIZES = [
  { label: "1 KiB", bytes: KIB, n: 400, role: "user" },
  { label: "64 KiB", bytes: 64 * KIB, n: 200, role: "user" },
  { label: "512 KiB", bytes: 512 * KIB, n: 60, role: "user" },
  { label: "4 MiB", bytes: 4 * KIB * KIB, n: 12, role: "user" },
  { label: "512 KiB as the system message", bytes: 512 * KIB, n: 60, role: "system" },
  { label: "4 MiB as the system message", bytes: 4 * KIB * KIB, n: 12, role: "system" },
] as const;
const PATHS = ["bare", "router"] as const;
type Path = (typeof PATHS)[number];

/** A prompt of about `bytes` of ordinary text (about four bytes a token). */
function prompt(bytes: number): string {
  const words = "the router reads a prompt of many tokens and forwards it upstream without delay ";
  return words.repeat(Math.ceil(bytes / words.length)).slice(0, bytes);
}

/**
 * Issue 27's prompt sizes: router vs bare Worker with 1 KiB to 4 MiB prompts (non-streamed, c=4)
 * against an upstream that costs nothing, and each path's CPU per request from workerd's own process
 * time (a V8 profile's inspector made logging cost tens of milliseconds and hid the runtime's work).
 */
export const promptSize: BenchScenario = {
  name: "prompt-size",
  title: "Prompt size: router vs bare Worker, and the router's CPU per request",
  async run(ctx): Promise<BenchSection> {
    const upstream = await startEventMock();
    const router = localRouterWorker(upstream.url);
    const bare = bareWorker(upstream.url);
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: [router, bare],
        log: new Log(LogLevel.WARN),
        cf: false,
        handleStructuredLogs: () => {},
      }),
    );
    const rows: Array<Record<string, string>> = [];
    const cpuPerRequest = new Map<string, number>();
    const ratios = new Map<string, number>();
    try {
      await mf.ready;
      const url = async (name: string) => (await mf.unsafeGetDirectURL(name)).toString().replace(/\/$/, "");
      const urls: Record<Path, string> = { router: await url("router"), bare: await url("bare") };
      const pids = workerdPids();
      for (const size of SIZES) {
        const n = ctx.quick ? Math.max(8, size.n / 4) : size.n;
        const body = {
          model: "deepseek-v4-flash",
          messages:
            size.role === "user"
              ? [{ role: "user", content: prompt(size.bytes) }]
              : [
                  { role: "system", content: prompt(size.bytes) },
                  { role: "user", content: "Summarise the document." },
                ],
          thinking: { type: "disabled" },
          max_tokens: 16,
        };
        const runs: Record<Path, Measurement[]> = { bare: [], router: [] };
        const cpu: Record<Path, number> = { bare: 0, router: 0 };
        for (let round = 0; round < ROUNDS; round++) {
          for (const path of round % 2 === 0 ? PATHS : [...PATHS].reverse()) {
            const before = workerdCpuMs(pids);
            runs[path].push(
              await measureRequests({
                baseUrl: urls[path],
                key: LOCAL_ROUTER_KEY,
                body,
                n,
                concurrency: CONCURRENCY,
                warmup: round === 0 ? 4 : 0,
                timeoutMs: 120_000,
              }),
            );
            // The router's ledger, metrics and record flushes (250 ms to 1 s) land in its own batch.
            await new Promise((resolve) => setTimeout(resolve, 1_200));
            cpu[path] += workerdCpuMs(pids) - before;
          }
        }
        const requests = ROUNDS * n + 4;
        const cpuUs = { bare: (cpu.bare * 1000) / requests, router: (cpu.router * 1000) / requests };
        const rps = (path: Path) =>
          (runs[path].reduce((sum, m) => sum + m.n, 0) * 1000) /
          runs[path].reduce((sum, m) => sum + m.wallMs, 0);
        const r = ratio(rps("router"), rps("bare"));
        cpuPerRequest.set(size.label, cpuUs.router);
        ratios.set(size.label, r);
        ctx.log(
          `${size.label}: bare ${rps("bare").toFixed(1)} req/s ${(cpuUs.bare / 1000).toFixed(2)} ms CPU, router ${rps("router").toFixed(1)} req/s ${(cpuUs.router / 1000).toFixed(2)} ms CPU`,
        );
        rows.push({
          prompt: size.label,
          "bare req/s": rps("bare").toFixed(1),
          "router req/s": rps("router").toFixed(1),
          "router ÷ bare": `${r.toFixed(2)}×`,
          "router p50": formatMs(Math.min(...runs.router.map((m) => m.latencyMs.p50))),
          "bare CPU / request": formatMs(cpuUs.bare / 1000),
          "router CPU / request": formatMs(cpuUs.router / 1000),
          "router CPU per MiB of prompt": formatMs(cpuUs.router / 1000 / (size.bytes / (KIB * KIB))),
          ok: `${runs.router.reduce((sum, m) => sum + m.ok, 0)}/${ROUNDS * n}`,
        });
      }
    } finally {
      await mf.dispose();
      await upstream.close();
    }
    const at = (label: string) => cpuPerRequest.get(label) ?? Number.NaN;
    // Linear or better: each 8× step in size costs at most 8× the CPU (with a quarter for noise).
    const growth = at("4 MiB") / at("512 KiB");
    const r512 = ratios.get("512 KiB") ?? Number.NaN;
    const r4m = ratios.get("4 MiB") ?? Number.NaN;
    const r512System = ratios.get("512 KiB as the system message") ?? Number.NaN;
    const r4mSystem = ratios.get("4 MiB as the system message") ?? Number.NaN;
    return {
      title: promptSize.title,
      notes: [
        `Non-streamed chat requests whose one user message (or, in the last two rows, whose system message, with a short user message) is the stated size of plain text, ${CONCURRENCY} in flight. Router (default policy, admission on) and a bare pass-through Worker in one workerd (Miniflare, direct sockets), ${ROUNDS} alternating rounds.`,
        "The upstream costs next to nothing at any size: a Node mock that collects the body's bytes without decoding or parsing them and answers at once (16 output tokens), so the Workers, not the upstream, set the pace.",
        "CPU per request is the workerd process's utime+stime over each path's batches (warm-up and the router's background flushes included) divided by its requests: it counts the runtime's native work (body reads, JSON parsing) as well as JavaScript.",
      ],
      columns: [
        "prompt",
        "bare req/s",
        "router req/s",
        "router ÷ bare",
        "router p50",
        "bare CPU / request",
        "router CPU / request",
        "router CPU per MiB of prompt",
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
          goal: "router ≥ 0.4× bare with a 4 MiB prompt at c=4",
          measured: `${r4m.toFixed(2)}×`,
          met: r4m >= 0.4,
        },
        {
          goal: "the same two as the system message: ≥ 0.5× at 512 KiB, ≥ 0.4× at 4 MiB",
          measured: `${r512System.toFixed(2)}×, ${r4mSystem.toFixed(2)}×`,
          met: r512System >= 0.5 && r4mSystem >= 0.4,
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
