import { execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { type LocalStack, startLocalStack } from "../../scripts/stack";
import { startEventMock, streamBody } from "../lib/event-mock";
import { measureRequests } from "../lib/measure";
import type { BenchScenario, BenchSection } from "../lib/types";
import { platformApart, workerdPids } from "../lib/workerd-cpu";

/** perf's sampling rate: each sample stands for 1/HZ s of the process's CPU. */
const HZ = 2_000;
const CONCURRENCY = 32;
const PATHS = ["bare", "router"] as const;
const MODES = [
  { label: "small answer", body: { ...streamBody(6), stream: false } },
  { label: "6-event stream", body: streamBody(6) },
] as const;

/** The layers a workerd sample is counted in, in the order the table lists them. */
export const LAYERS = [
  "JavaScript (JIT-compiled)",
  "V8 builtins",
  "V8 runtime and GC (C++)",
  "workerd: APIs, bindings, request context",
  "kj: event loop, promises, HTTP, strings",
  "Rust: HTTP server and client (hyper, tokio)",
  "memory allocator",
  "C library: memory copies, clocks",
  "kernel (sockets, scheduling)",
  "other",
] as const;
export type Layer = (typeof LAYERS)[number];

/** Which layer a sample is in, from perf's shared object and symbol names (`[k]`: kernel). */
export function layerOf(dso: string, symbol: string, kernel: boolean): Layer {
  if (kernel) return "kernel (sockets, scheduling)";
  if (dso.startsWith("[JIT]") || symbol.startsWith("JS:") || symbol.startsWith("RegExp")) {
    return "JavaScript (JIT-compiled)";
  }
  if (symbol.startsWith("Builtins_")) return "V8 builtins";
  if (/^(v8::|cppgc::|heap::|_ZN2v8)/.test(symbol)) return "V8 runtime and GC (C++)";
  if (symbol.startsWith("workerd::") || /^_ZN7workerd/.test(symbol)) {
    return "workerd: APIs, bindings, request context";
  }
  if (/^(kj::|kj_|<kj_|capnp::|non-virtual thunk to kj::)/.test(symbol)) {
    return "kj: event loop, promises, HTTP, strings";
  }
  if (
    /^<?(hyper|http::|tokio|futures|bytes::|workerd_server|kj_hyper|core::|alloc::|atomic_waker)/.test(symbol)
  ) {
    return "Rust: HTTP server and client (hyper, tokio)";
  }
  if (/tcmalloc|TCMalloc|^operator (new|delete)|^(malloc|free|calloc|realloc)$/.test(symbol)) {
    return "memory allocator";
  }
  if (/^(libc|libm|\[vdso\])/.test(dso)) return "C library: memory copies, clocks";
  return "other";
}

/**
 * Issue 27's profile by layer: where a request's workerd CPU goes, the router's against the bare
 * Worker's, from Linux `perf` sampling the Workers' workerd (V8 writes a map of its compiled code, so
 * JavaScript is told from the runtime). No inspector is attached, so nothing is inflated; the router's
 * Durable Objects run in a workerd of their own, not sampled. Left empty, saying why, without perf.
 */
export const layers: BenchScenario = {
  name: "layers",
  title: "Where a request's CPU goes, by layer: JavaScript vs the runtime, router vs bare Worker",
  async run(ctx): Promise<BenchSection> {
    const missing = perfMissing();
    if (missing) return report(new Map(), 0, [missing]);
    const requests = ctx.quick ? 400 : 4_000;
    const mock = await startEventMock();
    const samples = new Map<string, Map<Layer, number>>();
    let stack: Awaited<ReturnType<typeof startProfiledStack>> | undefined;
    try {
      stack = await startProfiledStack(mock.url);
      for (const mode of MODES) {
        for (const path of PATHS) {
          const target = { baseUrl: path === "bare" ? stack.bareUrl : stack.routerUrl, key: stack.routerKey };
          await measureRequests({ ...target, body: mode.body, n: 300, concurrency: CONCURRENCY });
          const counted = await sampled(stack.workerd, () =>
            measureRequests({ ...target, body: mode.body, n: requests, concurrency: CONCURRENCY }),
          );
          samples.set(`${path}:${mode.label}`, counted);
          ctx.log(`${path} ${mode.label}: ${sum(counted)} samples over ${requests} requests`);
        }
      }
    } finally {
      await stack?.close();
      await mock.close();
      for (const pid of stack ? [stack.workerd, ...stack.platform] : []) {
        rmSync(`/tmp/perf-${pid}.map`, { force: true });
      }
    }
    return report(samples, requests, []);
  },
};

/**
 * The router and the bare Worker in front of `upstream`, V8 writing its map of compiled code, the
 * router's Durable Objects in a workerd of their own; `workerd` is the Workers' process, `platform`
 * the objects'.
 */
async function startProfiledStack(
  upstream: string,
): Promise<LocalStack & { workerd: number; platform: number[] }> {
  const before = new Set(workerdPids());
  const apart = platformApart();
  // workerd hands these to V8: --perf-basic-prof writes /tmp/perf-<pid>.map, naming compiled code.
  const flags = process.env.MINIFLARE_WORKERD_V8_FLAGS;
  process.env.MINIFLARE_WORKERD_V8_FLAGS = "--perf-basic-prof";
  const stack = await startLocalStack({ upstreamUrl: upstream, platform: apart.platform }).finally(() => {
    if (flags === undefined) delete process.env.MINIFLARE_WORKERD_V8_FLAGS;
    else process.env.MINIFLARE_WORKERD_V8_FLAGS = flags;
  });
  const [workerd] = workerdPids().filter((pid) => !apart.pids.includes(pid) && !before.has(pid));
  if (workerd === undefined) {
    await stack.close();
    throw new Error("no workerd process found for the Workers");
  }
  return { ...stack, workerd, platform: apart.pids };
}

/** Why perf cannot sample here, or undefined when it can. */
function perfMissing(): string | undefined {
  try {
    execFileSync("perf", ["record", "-o", "/dev/null", "-q", "--", "true"], { stdio: "ignore" });
    return undefined;
  } catch (error) {
    return `Not measured: Linux perf cannot record here (${error instanceof Error ? error.message.split("\n")[0] : String(error)}). It needs the perf tool and kernel.perf_event_paranoid ≤ 1, or root.`;
  }
}

/** Samples per layer of `pid` while `work` runs (each is 1/HZ s of its CPU). */
async function sampled(pid: number, work: () => Promise<unknown>): Promise<Map<Layer, number>> {
  const data = `/tmp/bench-layers-${pid}.data`;
  const perf = spawn("perf", ["record", "-F", String(HZ), "-o", data, "-p", String(pid)], {
    stdio: "ignore",
  });
  const exited = new Promise((resolve) => perf.once("exit", resolve));
  // perf attaches asynchronously; requests before it would go uncounted.
  await new Promise((resolve) => setTimeout(resolve, 500));
  try {
    await work();
  } finally {
    perf.kill("SIGINT");
    await exited;
  }
  const text = execFileSync(
    "perf",
    ["report", "-i", data, "--stdio", "-n", "--no-children", "--sort", "dso,sym", "--percent-limit", "0"],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "ignore"] },
  );
  rmSync(data, { force: true });
  const counts = new Map<Layer, number>();
  // A row: "  12.34%   567  workerd  [.] symbol" (the dso may be "[JIT] tid 123").
  for (const match of text.matchAll(/^\s+[\d.]+%\s+(\d+)\s+(.+?)\s+\[([.k])\]\s+(.*)$/gm)) {
    const [, count, dso, kind, symbol] = match as unknown as [string, string, string, string, string];
    const layer = layerOf(dso, symbol, kind === "k");
    counts.set(layer, (counts.get(layer) ?? 0) + Number(count));
  }
  return counts;
}

function sum(counts: Map<Layer, number>): number {
  return [...counts.values()].reduce((total, count) => total + count, 0);
}

function report(samples: Map<string, Map<Layer, number>>, requests: number, notes: string[]): BenchSection {
  /** µs of CPU per request in `layer` (all layers when undefined). */
  const micros = (key: string, layer?: Layer) => {
    const counts = samples.get(key) ?? new Map<Layer, number>();
    const count = layer ? (counts.get(layer) ?? 0) : sum(counts);
    return (count * 1e6) / HZ / requests;
  };
  const rows: Array<Record<string, string>> = [];
  for (const layer of [...LAYERS, undefined]) {
    const row: Record<string, string> = { layer: layer ?? "all" };
    for (const mode of MODES) {
      const bare = micros(`bare:${mode.label}`, layer);
      const router = micros(`router:${mode.label}`, layer);
      row[`bare, ${mode.label}`] = `${bare.toFixed(0)} µs`;
      row[`router, ${mode.label}`] = `${router.toFixed(0)} µs`;
      row[`router − bare, ${mode.label}`] = `${(router - bare).toFixed(0)} µs`;
    }
    if (samples.size > 0) rows.push(row);
  }
  const share = (mode: string, ...parts: Layer[]) =>
    (100 * parts.reduce((total, layer) => total + micros(`router:${mode}`, layer), 0)) /
    micros(`router:${mode}`);
  const js = (mode: string) =>
    `${share(mode, "JavaScript (JIT-compiled)").toFixed(0)}% (${share(mode, "JavaScript (JIT-compiled)", "V8 builtins").toFixed(0)}% with V8's builtins)`;
  return {
    title: layers.title,
    notes: [
      ...notes,
      `Linux perf samples the Workers' workerd at ${HZ} Hz while ${requests} requests run, ${CONCURRENCY} in flight, against the streams section's mock (an upstream that costs nothing); each sample is ${1e6 / HZ} µs of that process's CPU, so a cell is its samples × ${1e6 / HZ} µs ÷ requests. The router (default policy) and the bare pass-through Worker share the workerd; the router's Durable Objects run in a second one, not sampled.`,
      "V8 runs with --perf-basic-prof (MINIFLARE_WORKERD_V8_FLAGS), so samples in compiled JavaScript are named and counted apart from the runtime. Nothing else is attached: unlike the inspector's profile, this one does not slow promises, timers or logging.",
      "Layers: V8 builtins are its precompiled helpers (promise reactions, object and array operations, property access); V8 runtime and GC are its C++ (handles, object creation, JSON, garbage collection); workerd is the Workers API (Request, Response, Headers, streams, fetch, timers) and its V8 bindings; kj is workerd's event loop, promises, HTTP and strings.",
      ...(samples.size > 0
        ? [
            `The router's compiled JavaScript is ${js("small answer")} of its CPU for a small answer and ${js("6-event stream")} for a 6-event stream: the rest is the runtime's work for the objects, promises and I/O the router's path makes.`,
          ]
        : []),
    ],
    columns: [
      "layer",
      ...MODES.flatMap((mode) => [
        `bare, ${mode.label}`,
        `router, ${mode.label}`,
        `router − bare, ${mode.label}`,
      ]),
    ],
    rows,
  };
}
