import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { LOCAL_ROUTER_KEY } from "../../scripts/local-config";
import { bareWorker, localRouterWorker } from "../../scripts/stack";
import { startEventMock, streamBody } from "../lib/event-mock";
import { measureRequests } from "../lib/measure";
import { formatMs } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";
import { workerdCpuMs, workerdPids } from "../lib/workerd-cpu";

/** A Worker that answers every request with a fixed chat completion: the floor of any request. */
const CANNED = `
const ANSWER = ${JSON.stringify(
  JSON.stringify({
    id: "chatcmpl-canned",
    object: "chat.completion",
    created: 1_765_000_000,
    model: "deepseek-v4-flash",
    choices: [{ index: 0, message: { role: "assistant", content: "Hello." }, finish_reason: "stop" }],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  }),
)};
export default { fetch: () => new Response(ANSWER, { headers: { "content-type": "application/json" } }) };`;

const CHAT = { ...streamBody(6), stream: false };

/** Each rung adds one stretch of the path to the rung it steps `from`. */
const RUNGS = [
  {
    id: "canned-get",
    worker: "canned",
    label: "bare Worker, canned answer, GET",
    adds: "workerd's own request",
    method: "GET" as const,
    path: "/",
  },
  {
    id: "canned",
    worker: "canned",
    label: "bare Worker, canned answer, POST",
    adds: "workerd's own request with a chat body",
    body: CHAT,
  },
  {
    id: "health",
    worker: "router",
    label: "router GET /healthz",
    from: "canned-get",
    adds: "Hono, request context, trace, CORS",
    method: "GET" as const,
    path: "/healthz",
  },
  {
    id: "models",
    worker: "router",
    label: "router GET /v1/models",
    from: "health",
    adds: "authentication, the policy",
    method: "GET" as const,
    path: "/v1/models",
  },
  {
    id: "refused",
    worker: "router",
    label: "router POST chat, refused (no messages)",
    from: "canned",
    adds: "all of the above, body read, parse, validation, a refusal's record",
    body: { model: "deepseek-v4-flash" },
  },
  {
    id: "bare",
    worker: "bare",
    label: "bare pass-through, chat",
    from: "canned",
    adds: "the upstream fetch",
    body: CHAT,
  },
  {
    id: "router",
    worker: "router",
    label: "router POST chat, non-streamed",
    // The refused request has already paid for everything before classification.
    from: "refused",
    adds: "classify, route, cache, limits, admission, the upstream fetch, the answer, accounting",
    body: CHAT,
  },
] as const;
type RungId = (typeof RUNGS)[number]["id"];

const ROUNDS = 3;
const LEVELS = [
  { concurrency: 1, n: 600 },
  { concurrency: 32, n: 2_000 },
] as const;

interface RungFigures {
  /** Wall time per request at c=1: latency as a sequential caller sees it, whatever the status. */
  msPerRequest: number;
  cpuUsAtC1: number;
  cpuUsAtC32: number;
}

/**
 * Issue 27's fixed cost, rung by rung: real requests that stop at successive points of the router's
 * path (no code is cut out for the measurement), against a canned bare Worker and the bare
 * pass-through, all against an upstream that costs nothing. What each stretch of the path costs at
 * c=1 and at c=32 says where the added latency and CPU of a small answer come from.
 */
export const ladder: BenchScenario = {
  name: "ladder",
  title: "Where a small answer's fixed cost goes: the router's path rung by rung",
  async run(ctx): Promise<BenchSection> {
    const upstream = await startEventMock();
    const direct = [{ host: "127.0.0.1", port: 0 }];
    const router = localRouterWorker(upstream.url);
    const bare = bareWorker(upstream.url);
    const canned: V4WorkerOptions = {
      name: "canned",
      modules: true,
      script: CANNED,
      compatibilityDate: "2026-11-01",
      unsafeDirectSockets: direct,
    };
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: [router, bare, canned],
        log: new Log(LogLevel.WARN),
        cf: false,
        handleStructuredLogs: () => {},
      }),
    );
    const figures = new Map<RungId, RungFigures>();
    try {
      await mf.ready;
      const urls = new Map<string, string>();
      for (const name of ["router", "bare", "canned"])
        urls.set(name, (await mf.unsafeGetDirectURL(name)).toString().replace(/\/$/, ""));
      const pids = workerdPids();
      // Per concurrency and rung: CPU over every request sent (warm-up included), wall time over the measured.
      const totals = new Map<string, { cpuMs: number; sent: number; wallMs: number; measured: number }>();
      for (const level of LEVELS) {
        const n = ctx.quick ? level.n / 10 : level.n;
        const warmup = 50;
        for (let round = 0; round < ROUNDS; round++) {
          for (const rung of round % 2 === 0 ? RUNGS : [...RUNGS].reverse()) {
            const before = workerdCpuMs(pids);
            const measured = await measureRequests({
              baseUrl: urls.get(rung.worker) ?? "",
              key: LOCAL_ROUTER_KEY,
              path: "path" in rung ? rung.path : undefined,
              method: "method" in rung ? rung.method : undefined,
              body: "body" in rung ? rung.body : {},
              n,
              concurrency: level.concurrency,
              warmup: round === 0 ? warmup : 0,
            });
            // The router's ledger, metrics and record flushes (within 250 ms) land in this rung's batch.
            await new Promise((resolve) => setTimeout(resolve, 400));
            const key = `${level.concurrency} ${rung.id}`;
            const total = totals.get(key) ?? { cpuMs: 0, sent: 0, wallMs: 0, measured: 0 };
            total.cpuMs += workerdCpuMs(pids) - before;
            total.sent += n + (round === 0 ? warmup : 0);
            total.wallMs += measured.wallMs;
            total.measured += n;
            totals.set(key, total);
          }
        }
      }
      for (const rung of RUNGS) {
        const at = (concurrency: number) => totals.get(`${concurrency} ${rung.id}`);
        const c1 = at(1);
        const c32 = at(32);
        if (!c1 || !c32) continue;
        const rungFigures = {
          msPerRequest: c1.wallMs / c1.measured,
          cpuUsAtC1: (c1.cpuMs * 1000) / c1.sent,
          cpuUsAtC32: (c32.cpuMs * 1000) / c32.sent,
        };
        figures.set(rung.id, rungFigures);
        ctx.log(
          `${rung.label}: c=1 ${rungFigures.msPerRequest.toFixed(2)} ms/request, CPU ${rungFigures.cpuUsAtC1.toFixed(0)} µs; c=32 CPU ${rungFigures.cpuUsAtC32.toFixed(0)} µs`,
        );
      }
    } finally {
      await mf.dispose();
      await upstream.close();
    }
    return section(figures);
  },
};

function section(figures: Map<RungId, RungFigures>): BenchSection {
  const of = (id: RungId) =>
    figures.get(id) ?? { msPerRequest: Number.NaN, cpuUsAtC1: Number.NaN, cpuUsAtC32: Number.NaN };
  const rows = RUNGS.map((rung) => {
    const here = of(rung.id);
    const from = "from" in rung ? of(rung.from) : undefined;
    const step = (value: number, base: number | undefined, unit: (x: number) => string) =>
      base === undefined ? "" : `${value - base >= 0 ? "+" : ""}${unit(value - base)}`;
    const us = (x: number) => `${x.toFixed(0)} µs`;
    const over = "from" in rung ? RUNGS.find((other) => other.id === rung.from)?.label : undefined;
    return {
      rung: rung.label,
      adds: rung.adds,
      "step over": over ?? "",
      "c=1 time / request": formatMs(here.msPerRequest),
      "c=1 step": step(here.msPerRequest, from?.msPerRequest, formatMs),
      "c=1 CPU / request": us(here.cpuUsAtC1),
      "c=32 CPU / request": us(here.cpuUsAtC32),
      "c=32 CPU step": step(here.cpuUsAtC32, from?.cpuUsAtC32, us),
    };
  });
  const added = of("router").msPerRequest - of("bare").msPerRequest;
  const beforeUpstream = of("refused").msPerRequest - of("canned").msPerRequest;
  return {
    title: ladder.title,
    notes: [
      `Each rung is a real request to the router that ends at a later point of its path; nothing is cut out of the code to measure it. ${ROUNDS} alternating rounds per concurrency, in one workerd (Miniflare, direct sockets), against a Node mock upstream that answers at once (the same as the throughput and streams sections).`,
      "The c=1 time is wall time per request for a sequential caller (it includes the load generator's own turn), so it is comparable across rungs whatever their status; CPU per request is the workerd process's utime+stime over the rung's batches, background flushes included.",
      "A step is a rung's figure less the rung it steps over. GET rungs step over the canned GET, POST rungs over the canned POST (the client's own cost of a body is in both). The full router path steps over the refused request, which has already paid for everything before classification (and, like the full path, leaves a record): its step holds the upstream fetch, which the pass-through's step prices.",
      `At c=1 the router adds ${formatMs(added)} to a small answer over the bare pass-through; ${formatMs(beforeUpstream)} of the router's path is spent before it classifies the request (the refused rung over the canned floor), where the bare Worker spends nothing.`,
    ],
    columns: [
      "rung",
      "adds",
      "step over",
      "c=1 time / request",
      "c=1 step",
      "c=1 CPU / request",
      "c=32 CPU / request",
      "c=32 CPU step",
    ],
    rows,
    goals: [
      {
        goal: "added mean latency at c=1, non-streamed ≤ 0.4 ms (issue 27; here as time per request over the bare pass-through)",
        measured: formatMs(added),
        met: added <= 0.4,
      },
    ],
  };
}
