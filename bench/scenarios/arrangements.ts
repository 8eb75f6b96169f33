import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { startEventMock, streamBody } from "../lib/event-mock";
import { type Measurement, measureRequests } from "../lib/measure";
import { ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";
import { workerdCpuMs, workerdPids } from "../lib/workerd-cpu";

/**
 * Relay arrangements measured by themselves, with no router logic: minimal Workers in one workerd, the
 * same one-write-per-event mock as the streams section. Each is a candidate for how `relay()` could
 * forward a stream while something on the side still sees every byte.
 */
const SIDE = `
const PAUSE_MS = 100;
async function drain(branch) {
  const reader = branch.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(65536);
  let bytes = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) return bytes;
    bytes += value.byteLength;
    buffer = value.buffer;
  }
}
const forward = (request, env) => {
  const url = new URL(request.url);
  return fetch(env.UPSTREAM + url.pathname + url.search, { method: request.method, headers: request.headers, body: request.body });
};
// As a subrequest on Cloudflare asks (gzip), or as the router asks (identity).
const forwardAsking = (request, env, encoding) => {
  const headers = new Headers(request.headers);
  headers.set("accept-encoding", encoding);
  return forward(new Request(request, { headers }), env);
};
// The router's arrangement: the client's branch piped into a pipe kept open for a trailer.
const teeAndPipe = (up, ctx) => {
  const [client, side] = up.body.tee();
  const { readable, writable } = new IdentityTransformStream();
  ctx.waitUntil(drain(side));
  ctx.waitUntil((async () => {
    await client.pipeTo(writable, { preventClose: true });
    const writer = writable.getWriter();
    await writer.close();
  })());
  const headers = new Headers(up.headers);
  headers.delete("content-encoding");
  return new Response(readable, { status: up.status, headers });
};
`;

const MAIN = "tee + open IdentityTransformStream pipe (main)";
/** Arrangements whose upstream compresses what a request accepts compressed (see the notes). */
const GZIP_UPSTREAM: Record<string, string> = {
  [`${MAIN}, gzip upstream, gzip asked`]: `export default { async fetch(request, env, ctx) {
    return teeAndPipe(await forwardAsking(request, env, "gzip"), ctx);
  } };`,
  [`${MAIN}, gzip upstream, identity asked (the router)`]: `export default { async fetch(request, env, ctx) {
    return teeAndPipe(await forwardAsking(request, env, "identity"), ctx);
  } };`,
};

const ARRANGEMENTS: Record<string, string> = {
  bare: `export default { fetch: (request, env) => forward(request, env) };`,
  wrap: `export default { async fetch(request, env) { const up = await forward(request, env); return new Response(up.body, up); } };`,
  "tee, client branch direct": `export default { async fetch(request, env, ctx) {
    const up = await forward(request, env);
    const [client, side] = up.body.tee();
    ctx.waitUntil(drain(side));
    return new Response(client, up);
  } };`,
  [MAIN]: `export default { async fetch(request, env, ctx) {
    return teeAndPipe(await forward(request, env), ctx);
  } };`,
  "open pipe, no tee": `export default { async fetch(request, env, ctx) {
    const up = await forward(request, env);
    const { readable, writable } = new IdentityTransformStream();
    ctx.waitUntil((async () => {
      await up.body.pipeTo(writable, { preventClose: true });
      const writer = writable.getWriter();
      await writer.close();
    })());
    return new Response(readable, up);
  } };`,
  "pipe that closes itself, no tee": `export default { async fetch(request, env, ctx) {
    const up = await forward(request, env);
    const { readable, writable } = new IdentityTransformStream();
    ctx.waitUntil(up.body.pipeTo(writable));
    return new Response(readable, up);
  } };`,
  "tee + pipe that closes itself": `export default { async fetch(request, env, ctx) {
    const up = await forward(request, env);
    const [client, side] = up.body.tee();
    const { readable, writable } = new IdentityTransformStream();
    ctx.waitUntil(drain(side));
    ctx.waitUntil(client.pipeTo(writable));
    return new Response(readable, up);
  } };`,
  "byte stream, BYOB pull hands each chunk through (no tee)": `export default { async fetch(request, env) {
    const up = await forward(request, env);
    const reader = up.body.getReader({ mode: "byob" });
    let seen = 0;
    const body = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: 65536,
      async pull(controller) {
        // workerd's response pump reads with a default reader: no byobRequest, so read into a fresh buffer.
        const request = controller.byobRequest;
        const { done, value } = await reader.read(request ? request.view : new Uint8Array(65536));
        if (done) { controller.close(); request?.respond(0); return; }
        seen += value.byteLength;
        if (request) request.respondWithNewView(value);
        else controller.enqueue(value);
      },
      cancel(reason) { return reader.cancel(reason); },
    });
    return new Response(body, up);
  } };`,
};

const EVENTS = [100, 500] as const;
const CONCURRENCY = 32;
const ROUNDS = 2;

export const arrangements: BenchScenario = {
  name: "arrangements",
  title: "Relay arrangements by themselves: minimal Workers, one write per SSE event, c=32",
  async run(ctx): Promise<BenchSection> {
    const mock = await startEventMock();
    const gzipMock = await startEventMock({ gzip: true });
    const scripts = { ...ARRANGEMENTS, ...GZIP_UPSTREAM };
    const names = Object.keys(scripts);
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: names.map(
          (name, i): V4WorkerOptions => ({
            name: `w${i}`,
            modules: true,
            script: SIDE + scripts[name],
            compatibilityDate: "2026-11-01",
            bindings: { UPSTREAM: name in GZIP_UPSTREAM ? gzipMock.url : mock.url },
            unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
          }),
        ),
        log: new Log(LogLevel.WARN),
        host: "127.0.0.1",
        port: 0,
        cf: false,
      }),
    );
    const results = new Map<string, { runs: Measurement[]; cpuMs: number; requests: number }>();
    try {
      await mf.ready;
      const urls = await Promise.all(
        names.map(async (_, i) => (await mf.unsafeGetDirectURL(`w${i}`)).toString().replace(/\/$/, "")),
      );
      const workerd = workerdPids();
      for (let round = 0; round < ROUNDS; round++) {
        for (const events of EVENTS) {
          const n = Math.round((ctx.quick ? 0.25 : 1) * (events === 100 ? 320 : 96));
          for (const [i, name] of names.entries()) {
            const warmup = round === 0 ? 32 : 0;
            const before = workerdCpuMs(workerd);
            const m = await measureRequests({
              baseUrl: urls[i] ?? "",
              body: streamBody(events),
              n,
              concurrency: CONCURRENCY,
              warmup,
            });
            const spent = workerdCpuMs(workerd) - before;
            const key = `${name}:${events}`;
            const entry = results.get(key) ?? { runs: [], cpuMs: 0, requests: 0 };
            entry.runs.push(m);
            entry.cpuMs += spent;
            entry.requests += n + warmup;
            results.set(key, entry);
            ctx.log(
              `round ${round + 1} ${name} ${events}: ${m.rps.toFixed(0)} req/s, ${((spent * 1000) / (n + warmup)).toFixed(0)} µs CPU/stream, ok ${m.ok}/${m.n}`,
            );
          }
        }
      }
    } finally {
      await mf.dispose();
      await mock.close();
      await gzipMock.close();
    }
    const summary = (name: string, events: number) => {
      const entry = results.get(`${name}:${events}`);
      if (!entry) return { rps: 0, cpuUs: 0 };
      const wall = entry.runs.reduce((sum, m) => sum + m.wallMs, 0);
      const n = entry.runs.reduce((sum, m) => sum + m.n, 0);
      return { rps: wall > 0 ? (n * 1000) / wall : 0, cpuUs: (entry.cpuMs * 1000) / entry.requests };
    };
    const rows = names.map((name) => {
      const row: Record<string, string> = { arrangement: name };
      for (const events of EVENTS) {
        const s = summary(name, events);
        const bare = summary("bare", events);
        row[`${events} ev ÷ bare`] = `${ratio(s.rps, bare.rps).toFixed(2)}×`;
        row[`${events} ev CPU/stream`] = `${(s.cpuUs / 1000).toFixed(2)} ms`;
      }
      const slope = (summary(name, 500).cpuUs - summary(name, 100).cpuUs) / 400;
      row["µs CPU/event"] = slope.toFixed(1);
      return row;
    });
    return {
      title: arrangements.title,
      notes: [
        "Each arrangement is a minimal Worker in one workerd (Miniflare, direct sockets) forwarding to the streams section's mock (one write per ~300-byte event). The side branch, where there is one, is drained with one reused 64 KiB BYOB buffer every 100 ms, as the router's is past the first token.",
        `${ROUNDS} rounds alternate the arrangements, ${CONCURRENCY} streams in flight; CPU is the workerd process's utime+stime; µs CPU/event is the slope between 100 and 500 events.`,
        "The last two rows forward to a copy of the mock that gzips every answer whose request accepts gzip, flushed after each event as a compressing front flushes a stream. On Cloudflare a Worker's subrequest asks for gzip unless it says otherwise; DeepSeek's front compresses its JSON answers (deepseek-api.md §1.3), and whether it compresses its streams is not on record. Asked for gzip, workerd inflates the stream in both branches of the tee; the router asks for identity (src/upstream/client.ts). Their ÷ bare is against the bare Worker on the plain mock; the mock's compression runs in the bench's Node process, not in workerd.",
      ],
      columns: [
        "arrangement",
        ...EVENTS.flatMap((e) => [`${e} ev ÷ bare`, `${e} ev CPU/stream`]),
        "µs CPU/event",
      ],
      rows,
      goals: [],
    };
  },
};
