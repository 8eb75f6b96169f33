import { LOCAL_UPSTREAM_KEY } from "../../scripts/local-config";
import { startLocalStack } from "../../scripts/stack";
import { defaultPolicy } from "../../src/config/default-policy";
import { type Measurement, measureRequests } from "../lib/measure";
import { PORTKEY_VERSION, type PortkeyGateway, startPortkey } from "../lib/portkey";
import { formatMs, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";
import { platformApart, workerdCpuMs, workerdPids } from "../lib/workerd-cpu";

const PORTKEY = `portkey ${PORTKEY_VERSION.split(".").slice(0, 2).join(".")} (Node)`;
const PATHS = ["direct", "bare", "router", "router, admission off", PORTKEY] as const;
type Path = (typeof PATHS)[number];
/** Where a path's requests go and with what credentials. */
type Target = { baseUrl: string; path?: string; key: string; headers?: Record<string, string> };
const MODES = [
  { concurrency: 1, stream: false },
  { concurrency: 1, stream: true },
  { concurrency: 32, stream: false },
  { concurrency: 32, stream: true },
] as const;
const ROUNDS = 2;
const WARMUP = 50;
const WORKER_PATHS = new Set<string>(["bare", "router", "router, admission off"]);

const body = (stream: boolean) => ({
  model: "deepseek-v4-flash",
  messages: [{ role: "user", content: "Throughput benchmark: a short question." }],
  thinking: { type: "disabled" },
  stream,
});

/**
 * Issue 11's throughput: the same requests straight to an instant simulator, through a bare
 * pass-through Worker, through the router with its default policy (admission on: a 2,500-slot pool,
 * blocks of permits leased to the isolate), and through the router with admission off. Rounds
 * alternate the paths so drift on a shared machine hits all alike. Portkey's gateway on Node, forwarding
 * to the same simulator, is a peer row: what a user might pick instead (left out if it cannot start).
 */
export const throughput: BenchScenario = {
  name: "throughput",
  title: "Throughput: router vs bare Worker vs direct, c=1 and c=32",
  async run(ctx): Promise<BenchSection> {
    // Each router's Durable Objects run in a workerd of their own, as on Cloudflare outside the Worker.
    const stackApart = platformApart();
    const stack = await startLocalStack({ sim: { ttftMs: 0, tokensPerS: 0 }, platform: stackApart.platform });
    const openApart = platformApart();
    const open = await startLocalStack({
      sim: { ttftMs: 0, tokensPerS: 0 },
      vars: { ROUTER_POLICY: JSON.stringify(withoutAdmission(defaultPolicy(stack.simUrl))) },
      platform: openApart.platform,
    });
    const targets: Partial<Record<Path, Target>> = {
      direct: { baseUrl: stack.simUrl, key: stack.routerKey },
      bare: { baseUrl: stack.bareUrl, key: stack.routerKey },
      router: { baseUrl: stack.routerUrl, key: stack.routerKey },
      "router, admission off": { baseUrl: open.routerUrl, key: stack.routerKey },
    };
    const results = new Map<string, Measurement[]>();
    /** workerd's CPU over each Worker path's batches, in ms: both stacks' processes, so it counts native work too. */
    const cpu = new Map<string, number>();
    /** The same for the workerds that host the routers' Durable Objects. */
    const platformCpu = new Map<string, number>();
    const platformPids = [...stackApart.pids, ...openApart.pids];
    const pids = workerdPids().filter((pid) => !platformPids.includes(pid));
    const peer = await startPeer(stack.simUrl, ctx.log);
    if (peer.target) targets[PORTKEY] = peer.target;
    try {
      const paths = PATHS.filter((path) => targets[path] !== undefined);
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of MODES) {
          const n = mode.concurrency === 1 ? (ctx.quick ? 100 : 400) : ctx.quick ? 400 : 2_000;
          for (const path of paths) {
            const cpuBefore = workerdCpuMs(pids);
            const platformBefore = workerdCpuMs(platformPids);
            const m = await measureRequests({
              ...(targets[path] as Target),
              body: body(mode.stream),
              n,
              concurrency: mode.concurrency,
              warmup: round === 0 ? WARMUP : 0,
            });
            const key = keyOf(path, mode);
            results.set(key, [...(results.get(key) ?? []), m]);
            if (WORKER_PATHS.has(path)) {
              cpu.set(key, (cpu.get(key) ?? 0) + workerdCpuMs(pids) - cpuBefore);
              const platformMs = workerdCpuMs(platformPids) - platformBefore;
              platformCpu.set(key, (platformCpu.get(key) ?? 0) + platformMs);
            }
            ctx.log(
              `round ${round + 1} ${path} c=${mode.concurrency} ${mode.stream ? "stream" : "json"}: ${m.rps.toFixed(0)} req/s, p99 ${m.latencyMs.p99.toFixed(1)} ms, ok ${m.ok}/${m.n}`,
            );
          }
        }
      }
    } finally {
      await Promise.all([stack.close(), open.close(), peer.gateway?.close()]);
    }
    return report(results, { worker: cpu, platform: platformCpu }, peer.note);
  },
};

/** Portkey's gateway as a target, or the reason it is left out: the section runs either way. */
async function startPeer(
  simUrl: string,
  log: (line: string) => void,
): Promise<{ gateway?: PortkeyGateway; target?: Target; note: string }> {
  try {
    const gateway = await startPortkey(log);
    // What a Portkey user sends: the upstream's own key, the provider and its host in headers.
    const target = {
      baseUrl: gateway.url,
      path: gateway.path,
      key: LOCAL_UPSTREAM_KEY,
      headers: gateway.headersFor(simUrl),
    };
    return { gateway, target, note: peerNote(gateway.path) };
  } catch (error) {
    const note = `${PORTKEY} is left out: ${error instanceof Error ? error.message : String(error)}`;
    log(note);
    return { note };
  }
}

function peerNote(path: string): string {
  return [
    `${PORTKEY}: Portkey's open-source gateway (npm @portkey-ai/gateway@${PORTKEY_VERSION}, installed on first use into the git-ignored bench/.peers), headless in its own process on the bench's Node, forwarding to the same simulator (x-portkey-provider: openai, x-portkey-custom-host, the upstream key as the bearer).`,
    `It takes ${path}, which forwards the body as sent: its /v1/chat/completions drops DeepSeek's thinking parameter, so the simulator would answer with reasoning, twice the tokens.`,
    "@hono/node-server is pinned to 1.14.1: with the 1.19 npm resolves today every streamed answer fails with a 500 (Portkey-AI/gateway#1389).",
    "Its stream re-chunker waits 25 ms before the first event (in its source), which sets its c=1 stream figures.",
    "A peer for scale, what a user might run instead of the router; not a goal.",
  ].join(" ");
}

function keyOf(path: Path, mode: (typeof MODES)[number]): string {
  return `${path}:${mode.concurrency}:${mode.stream}`;
}

function withoutAdmission(policy: ReturnType<typeof defaultPolicy>) {
  const pools = Object.fromEntries(
    Object.entries(policy.pools).map(([name, pool]) => [name, { ...pool, admission: { enabled: false } }]),
  );
  return { ...policy, pools };
}

/** Requests per second over every round; the mean and p99 of the best-behaved round (the median would need more rounds). */
function summarise(runs: Measurement[]) {
  const wall = runs.reduce((sum, m) => sum + m.wallMs, 0);
  const rps = wall > 0 ? (runs.reduce((sum, m) => sum + m.n, 0) * 1000) / wall : 0;
  const mean = Math.min(...runs.map((m) => m.latencyMs.mean));
  const p99 = Math.min(...runs.map((m) => m.latencyMs.p99));
  const ok = runs.reduce((sum, m) => sum + m.ok, 0);
  const n = runs.reduce((sum, m) => sum + m.n, 0);
  return { rps, mean, p99, ok, n };
}

function report(
  results: Map<string, Measurement[]>,
  cpu: { worker: Map<string, number>; platform: Map<string, number> },
  portkeyNote: string,
): BenchSection {
  const rows: Array<Record<string, string>> = [];
  const ratios = new Map<string, { rps: number; p99: number }>();
  /** µs of workerd CPU per request, warm-up included: the Workers' processes', or the platform's. */
  const cpuUs = (path: Path, mode: (typeof MODES)[number], side: "worker" | "platform" = "worker") => {
    const runs = results.get(keyOf(path, mode)) ?? [];
    const requests = runs.reduce((sum, m) => sum + m.n, 0) + WARMUP;
    return ((cpu[side].get(keyOf(path, mode)) ?? Number.NaN) * 1000) / requests;
  };
  for (const mode of MODES) {
    const bare = summarise(results.get(keyOf("bare", mode)) ?? []);
    for (const path of PATHS) {
      if (!results.has(keyOf(path, mode))) continue;
      const s = summarise(results.get(keyOf(path, mode)) ?? []);
      const rpsRatio = ratio(s.rps, bare.rps);
      const p99Ratio = ratio(s.p99, bare.p99);
      ratios.set(keyOf(path, mode), { rps: rpsRatio, p99: p99Ratio });
      rows.push({
        mode: `c=${mode.concurrency} ${mode.stream ? "stream" : "non-stream"}`,
        path,
        "req/s": s.rps.toFixed(0),
        "÷ bare": `${rpsRatio.toFixed(2)}×`,
        mean: formatMs(s.mean),
        p99: formatMs(s.p99),
        "p99 ÷ bare": `${p99Ratio.toFixed(2)}×`,
        "CPU / request": WORKER_PATHS.has(path) ? formatMs(cpuUs(path, mode) / 1000) : "",
        "CPU ÷ bare": WORKER_PATHS.has(path)
          ? `${ratio(cpuUs(path, mode), cpuUs("bare", mode)).toFixed(2)}×`
          : "",
        "platform CPU / request": path.startsWith("router")
          ? formatMs(cpuUs(path, mode, "platform") / 1000)
          : "",
        ok: `${s.ok}/${s.n}`,
      });
    }
  }
  const at = (stream: boolean) =>
    ratios.get(keyOf("router", { concurrency: 32, stream })) as { rps: number; p99: number };
  const c1 = MODES[0];
  const addedMs =
    summarise(results.get(keyOf("router", c1)) ?? []).mean -
    summarise(results.get(keyOf("bare", c1)) ?? []).mean;
  // Both sides: admission's gate is one of the Durable Objects.
  const bothSides = (path: Path) => cpuUs(path, c1) + cpuUs(path, c1, "platform");
  const admissionCpu = ratio(bothSides("router"), bothSides("router, admission off"));
  return {
    title: throughput.title,
    notes: [
      "One Miniflare (workerd, direct sockets) runs the router and a bare pass-through Worker; a second runs the same router with admission off. Each router's Durable Objects (admission's gate, the tenant's ledger, the metrics aggregator) run in a workerd of their own, reached through Miniflare's dev registry, as on Cloudflare they run outside the Worker. The simulator on Node answers at once (no first-token delay, no pacing), so the figures are the paths' own cost.",
      "The router runs its default policy: the deepseek-flash pool (2,500 slots), admission on, blocks of permits leased to the isolate, so after the first request a request takes its permit locally.",
      `${ROUNDS} rounds alternate the paths; req/s is over all rounds, mean and p99 are the better round's (the machine is shared, and a neighbour's burst lands on one path at a time).`,
      "CPU / request is the workerd processes' utime+stime over a Worker path's batches (warm-up included) divided by its requests: steadier than req/s on a shared machine, and it counts the runtime's native work. The router's includes its ledger, metrics and record flushes (their RPCs); the Durable Objects' own CPU is the platform column (the objects' workerds over the same batches, their idle included). Miniflare's KV simulator and queue broker still run in the Workers' workerd.",
      portkeyNote,
    ],
    columns: [
      "mode",
      "path",
      "req/s",
      "÷ bare",
      "mean",
      "p99",
      "p99 ÷ bare",
      "CPU / request",
      "CPU ÷ bare",
      "platform CPU / request",
      "ok",
    ],
    rows,
    goals: [
      {
        goal: "router ≥ 0.7× bare, non-stream, c=32, admission on",
        measured: `${at(false).rps.toFixed(2)}×`,
        met: at(false).rps >= 0.7,
      },
      {
        goal: "router ≥ 0.9× bare, stream, c=32",
        measured: `${at(true).rps.toFixed(2)}×`,
        met: at(true).rps >= 0.9,
      },
      {
        goal: "router p99 ≤ 1.5× bare at c=32 (non-stream)",
        measured: `${at(false).p99.toFixed(2)}×`,
        met: at(false).p99 <= 1.5,
      },
      {
        goal: "added mean latency at c=1, non-stream ≤ 0.4 ms",
        measured: formatMs(addedMs),
        met: addedMs <= 0.4,
      },
      {
        goal: "admission on costs no more CPU than off at c=1, non-stream (the Worker and its Durable Objects; within 5% for noise)",
        measured: `${admissionCpu.toFixed(2)}×`,
        met: admissionCpu <= 1.05,
      },
    ],
  };
}
