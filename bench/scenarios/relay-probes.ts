import http, { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import type { BenchScenario, BenchSection } from "../lib/types";

/**
 * What workerd does in the cases that decide the relay's design (docs/ARCHITECTURE.md, "Relay"):
 * whether a paced read takes what was buffered in one piece, and what a tee branch returned as is gives
 * up when the client leaves or the upstream fails mid-body. Behaviour, not timing: one request each.
 */
const PROBE = `
let signalAborts = 0;
const sideEnds = [];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function firstReads(body) {
  await sleep(300);
  const reader = body.getReader({ mode: "byob" });
  const sizes = [];
  for (let i = 0; i < 3; i++) {
    const { done, value } = await reader.read(new Uint8Array(65536));
    if (done) break;
    sizes.push(value.byteLength);
  }
  reader.cancel();
  return sizes;
}
export default { async fetch(request, env, ctx) {
  const path = new URL(request.url).pathname;
  if (path === "/stats") return Response.json({ signalAborts, sideEnds });
  request.signal.addEventListener("abort", () => signalAborts++);
  const up = await fetch(env.UPSTREAM + path);
  if (path === "/burst/raw") return Response.json(await firstReads(up.body));
  if (path === "/burst/tee-unread") {
    const [other, side] = up.body.tee();
    ctx.waitUntil(sleep(1000).then(() => other.cancel()));
    return Response.json(await firstReads(side));
  }
  if (path === "/burst/tee-piped") {
    const [client, side] = up.body.tee();
    const { readable, writable } = new IdentityTransformStream();
    ctx.waitUntil(client.pipeTo(writable));
    ctx.waitUntil(readable.pipeTo(new WritableStream()));
    return Response.json(await firstReads(side));
  }
  // A tee whose client branch is the response body as is; the side reads to the end.
  const [client, side] = up.body.tee();
  ctx.waitUntil((async () => {
    const reader = side.getReader();
    try {
      for (;;) if ((await reader.read()).done) return sideEnds.push("complete");
    } catch (error) {
      sideEnds.push("failed: " + error);
    }
  })());
  return new Response(client, up);
} };`;

export const relayProbes: BenchScenario = {
  name: "relay-probes",
  title: "Relay probes: batching of paced reads, and what a directly returned tee branch gives up",
  async run(ctx): Promise<BenchSection> {
    const upstream = { cut: 0 };
    const server = createServer((req, res) => serveProbe(req, res, upstream));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: [
          {
            name: "probe",
            modules: true,
            script: PROBE,
            compatibilityDate: "2026-11-01",
            compatibilityFlags: ["enable_request_signal"],
            bindings: { UPSTREAM: `http://127.0.0.1:${port}` },
            unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
          },
        ],
        log: new Log(LogLevel.WARN),
        host: "127.0.0.1",
        port: 0,
        cf: false,
      }),
    );
    const rows: Array<Record<string, string>> = [];
    try {
      await mf.ready;
      const base = (await mf.unsafeGetDirectURL("probe")).toString().replace(/\/$/, "");
      for (const [mode, what] of [
        ["raw", "the upstream body itself"],
        ["tee-unread", "a tee branch, the other branch not read"],
        ["tee-piped", "a tee branch, the other piped on (as the router's)"],
      ] as const) {
        const sizes = (await (await fetch(`${base}/burst/${mode}`)).json()) as number[];
        rows.push({
          probe: `one 64 KiB BYOB read, 300 ms after 50 events arrived: ${what}`,
          observed: `first reads took ${sizes.join(", ")} bytes`,
        });
      }
      rows.push({
        probe: "tee branch returned as is, upstream cut mid-body: what the client gets",
        observed: await clientView(`${base}/fail`),
      });
      await clientView(`${base}/leave`, { leaveAfterFirstBytes: true });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const stats = (await (await fetch(`${base}/stats`)).json()) as {
        signalAborts: number;
        sideEnds: string[];
      };
      rows.push({
        probe: "tee branch returned as is, client leaves mid-body: does the Worker or the upstream notice",
        observed: `request.signal aborts: ${stats.signalAborts}; side branch ended: ${stats.sideEnds.at(-1) ?? "not yet"}; upstream streams cut: ${upstream.cut - 1}`,
      });
      ctx.log(rows.map((row) => `${row.probe}: ${row.observed}`).join("\n"));
    } finally {
      await mf.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    return {
      title: relayProbes.title,
      notes: [
        "A minimal Worker under Miniflare (direct sockets, enable_request_signal) against a Node mock: /burst writes 50 small events 2 ms apart, /fail cuts its socket after 3 events, /leave streams 40 events 50 ms apart.",
        "The last row counts upstream streams cut other than /fail's: 0 means the departed client's upstream ran to its end.",
      ],
      columns: ["probe", "observed"],
      rows,
      goals: [],
    };
  },
};

function serveProbe(req: IncomingMessage, res: ServerResponse, upstream: { cut: number }): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  const path = req.url ?? "";
  let sent = 0;
  const timer = setInterval(
    () => {
      if (path.includes("fail") && sent === 3) {
        clearInterval(timer);
        res.destroy();
        return;
      }
      const last = path.includes("burst") ? 50 : 40;
      if (sent === last) {
        clearInterval(timer);
        res.end("data: [DONE]\n\n");
        return;
      }
      res.write(`data: {"i":${sent++}}\n\n`);
    },
    path.includes("burst") ? 2 : 50,
  );
  res.on("close", () => {
    clearInterval(timer);
    if (!res.writableFinished) upstream.cut++;
  });
}

/** How the response ends for a Node client: cleanly or in an error, and what it read. */
function clientView(url: string, options: { leaveAfterFirstBytes?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const request = http.get(url, (res) => {
      let text = "";
      res.on("data", (part: Buffer) => {
        text += part.toString();
        if (options.leaveAfterFirstBytes) {
          request.destroy();
          resolve("left");
        }
      });
      res.on("end", () => resolve(`a clean end after ${text.length} bytes`));
      res.on("error", (error) =>
        resolve(`a connection error (${error.message}) after ${text.length} bytes, no error event`),
      );
    });
    request.on("error", () => {});
  });
}
