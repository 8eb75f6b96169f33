import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { ROOT, routerWorker } from "../../scripts/build";
import { LOCAL_ROUTER_KEY, LOCAL_UPSTREAM_KEY, tenantsConfig } from "../../scripts/local-config";
import { startSimServer } from "../../sim/node";
import { measureRequests } from "../lib/measure";
import type { BenchScenario, BenchSection } from "../lib/types";

const INSPECTOR_PORT = 9_329;
/** The deployed bundle is minified; the profile reads an unminified build of the same code. */
const PROFILE_BUNDLE_DIR = `${ROOT}dist/router-profile`;
const SAMPLING_US = 100;
const TOP = 20;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where the router's own CPU goes: a V8 CPU profile of the router's isolate (workerd's inspector, as
 * platform-wave2.md §7.2 describes), taken while closed-loop requests run against an instant
 * simulator. Self time is grouped by function; "(idle)" is time the isolate waited on I/O.
 */
export const profile: BenchScenario = {
  name: "profile",
  title: "Router CPU profile: where a request's CPU goes",
  async run(ctx): Promise<BenchSection> {
    const requests = ctx.quick ? 300 : 1_500;
    const sim = await startSimServer({ port: 0, ttftMs: 0, tokensPerS: 0 });
    const router = routerWorker({
      scriptPath: buildUnminified(),
      bindings: {
        DEEPSEEK_BASE_URL: sim.url,
        DEEPSEEK_API_KEY: LOCAL_UPSTREAM_KEY,
        ROUTER_TENANTS: tenantsConfig(),
      },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    });
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: [router],
        log: new Log(LogLevel.WARN),
        cf: false,
        inspectorPort: INSPECTOR_PORT,
        handleStructuredLogs: () => {},
      }),
    );
    try {
      await mf.ready;
      const url = (await mf.unsafeGetDirectURL("router")).toString().replace(/\/$/, "");
      const body = (stream: boolean) => ({
        model: "deepseek-v4-flash",
        messages: [{ role: "user", content: "Profile: a short question." }],
        thinking: { type: "disabled" },
        stream,
      });
      await measureRequests({
        baseUrl: url,
        key: LOCAL_ROUTER_KEY,
        body: body(false),
        n: 100,
        concurrency: 8,
      });
      const inspector = await connect();
      await inspector.send("Profiler.enable");
      await inspector.send("Profiler.setSamplingInterval", { interval: SAMPLING_US });
      await inspector.send("Profiler.start");
      for (const stream of [false, true]) {
        await measureRequests({
          baseUrl: url,
          key: LOCAL_ROUTER_KEY,
          body: body(stream),
          n: requests,
          concurrency: 8,
        });
      }
      const { profile: cpu } = (await inspector.send("Profiler.stop")) as { profile: CpuProfile };
      inspector.close();
      return report(cpu, 2 * requests, moduleOfLine(`${PROFILE_BUNDLE_DIR}/index.js`));
    } finally {
      await mf.dispose();
      await sim.close();
    }
  },
};

function buildUnminified(): string {
  execFileSync("wrangler", ["deploy", "--dry-run", "--no-minify", "--outdir", PROFILE_BUNDLE_DIR], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ROUTER_TENANTS: "[]", DEEPSEEK_API_KEY: "unused" },
  });
  return `${PROFILE_BUNDLE_DIR}/index.js`;
}

export interface Inspector {
  send(method: string, params?: object): Promise<unknown>;
  close(): void;
}

/** The router's isolate on workerd's inspector: a minimal Chrome DevTools Protocol client. */
export async function connect(port = INSPECTOR_PORT): Promise<Inspector> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{
    id: string;
    title: string;
    webSocketDebuggerUrl: string;
  }>;
  const target = targets.find((t) => `${t.id} ${t.title}`.includes("core:user:router"));
  if (!target) throw new Error(`no router target among ${targets.map((t) => t.title).join(", ")}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  let next = 1;
  const pending = new Map<number, (result: unknown) => void>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  return {
    send(method, params = {}) {
      const id = next++;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => pending.set(id, resolve));
    },
    close: () => socket.close(),
  };
}

/** The bundle marks each source module with a `// src/...` line: maps a bundle line to its module. */
function moduleOfLine(bundle: string): (line: number) => string {
  const starts: Array<{ line: number; module: string }> = [];
  readFileSync(bundle, "utf8")
    .split("\n")
    .forEach((text, i) => {
      const match = /^\/\/ ((?:src|node_modules)\/\S+)/.exec(text);
      if (match?.[1]) starts.push({ line: i + 1, module: match[1].replace(/^node_modules\//, "") });
    });
  return (line) => {
    let module = "";
    for (const start of starts) {
      if (start.line > line) break;
      module = start.module;
    }
    return module;
  };
}

/** Time the isolate was busy (not "(idle)"), in microseconds. */
export function busyMicros(cpu: CpuProfile): number {
  const idleNodes = new Set(cpu.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
  return cpu.samples.reduce((sum, id, i) => sum + (idleNodes.has(id) ? 0 : (cpu.timeDeltas[i] ?? 0)), 0);
}

function report(cpu: CpuProfile, requests: number, moduleOf: (line: number) => string): BenchSection {
  const byNode = new Map(cpu.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  let idle = 0;
  cpu.samples.forEach((id, i) => {
    const us = cpu.timeDeltas[i] ?? 0;
    const frame = byNode.get(id)?.callFrame;
    const name = frame?.functionName || "(anonymous)";
    total += us;
    if (name === "(idle)") {
      idle += us;
      return;
    }
    const inBundle = frame?.url.endsWith("index.js") === true;
    const key = inBundle ? `${name} (${moduleOf((frame?.lineNumber ?? 0) + 1)})` : `${name} (runtime)`;
    self.set(key, (self.get(key) ?? 0) + us);
  });
  const busy = total - idle;
  const rows = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)
    .map(([fn, us]) => ({
      function: fn,
      "self ms": (us / 1000).toFixed(1),
      "share of busy": `${((us / busy) * 100).toFixed(1)}%`,
      "µs / request": (us / requests).toFixed(1),
    }));
  return {
    title: profile.title,
    notes: [
      `${requests} requests (half non-streamed, half streamed) at 8 in flight against an instant simulator, default policy (admission on); sampled every ${SAMPLING_US} µs through workerd's inspector.`,
      `The isolate was busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms: ${(busy / requests).toFixed(0)} µs of CPU per request (self time of JavaScript, garbage collection and "(program)": the runtime's native work on the isolate's thread).`,
      "Function names are from an unminified build of the deployed code (dist/router-profile/index.js), each with the source module it came from; (runtime) is native work: stream reads, text decoding, fetch, KV.",
      "Locally the clock runs on while the machine is busy with other work, so absolute CPU figures on a shared machine are inflated; the shares are the useful part.",
      "With the inspector attached, workerd also hands every console line to it, so logging (logCompletion) weighs far more here than without one: a 512 KiB prompt's request showed 37 ms in logCompletion under the profiler against 4.5 ms of workerd CPU for the whole request without it. Absolute costs come from workerd's process time (the streams and prompt-size sections).",
      "Timers and native promises weigh more here too: the inspector tracks their async stacks. Without it a setTimeout and clearTimeout pair costs about 1.2 µs and a 20-header Headers about 8 µs in a workerd loop. The ladder section gives what each stretch of the request path costs with no inspector attached.",
    ],
    columns: ["function", "self ms", "share of busy", "µs / request"],
    rows,
  };
}
