import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A scripted OpenAI-compatible chat server on loopback, for the kit's tests and demo. It imitates
 * the router closely enough to exercise every metric: a bounded number of slots with a FIFO queue
 * (queue time in `x-router-queue-ms`), 429 + Retry-After past the queue, an exact-match cache
 * (`x-router-cache`), keep-alive comments before the first token, and scripted broken streams.
 */
interface ScriptedServerOptions {
  /** Keep-alive comments sent before the role chunk. */
  keepAlives: number;
  /** Delay between the role chunk and the first content chunk. */
  ttftMs: number;
  /** Content chunks per answer, one token each. */
  tokens: number;
  tokenGapMs: number;
  /** Requests served at once; 0 = unlimited. */
  slots: number;
  /** Requests waiting for a slot before the next is shed with 429. */
  queueLimit: number;
  retryAfterS: number;
  /** Every n-th request (1-based) ends its stream without [DONE]; 0 = never. */
  truncateEvery: number;
  /** Every n-th request (1-based) sends an in-stream error event; 0 = never. */
  streamErrorEvery: number;
  /** Serve repeated bodies from a cache, with no TTFT wait. */
  cache: boolean;
}

const defaultScriptedOptions: ScriptedServerOptions = {
  keepAlives: 0,
  ttftMs: 20,
  tokens: 5,
  tokenGapMs: 5,
  slots: 0,
  queueLimit: 0,
  retryAfterS: 1,
  truncateEvery: 0,
  streamErrorEvery: 0,
  cache: false,
};

export interface ScriptedServer {
  url: string;
  /** Requests received so far. */
  readonly received: number;
  close(): Promise<void>;
}

export async function startScriptedServer(
  partial: Partial<ScriptedServerOptions> = {},
): Promise<ScriptedServer> {
  const opts = { ...defaultScriptedOptions, ...partial };
  const seen = new Set<string>();
  const waiting: Array<() => void> = [];
  let busy = 0;
  let received = 0;
  const sockets = new Set<Socket>();

  const acquire = async (): Promise<number | undefined> => {
    const t0 = performance.now();
    if (opts.slots <= 0 || busy < opts.slots) {
      busy += 1;
      return 0;
    }
    if (waiting.length >= opts.queueLimit) return undefined;
    await new Promise<void>((resolve) => waiting.push(resolve));
    return performance.now() - t0;
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else busy -= 1;
  };

  const server = createServer((req, res) => {
    received += 1;
    const n = received;
    void handle(req, res, n).catch(() => res.destroy());
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, n: number): Promise<void> {
    const raw = await readBody(req);
    const body = JSON.parse(raw || "{}") as { stream?: boolean; messages?: unknown };
    const queueMs = await acquire();
    if (queueMs === undefined) {
      res.writeHead(429, {
        "content-type": "application/json",
        "retry-after": String(opts.retryAfterS),
        "x-router-queue-ms": "0",
      });
      res.end(
        JSON.stringify({
          error: {
            message: "Too many requests",
            type: "rate_limit_error",
            param: null,
            code: "rate_limited",
          },
        }),
      );
      return;
    }
    try {
      const key = JSON.stringify(body.messages ?? null);
      const hit = opts.cache && seen.has(key);
      seen.add(key);
      const headers = {
        "x-router-queue-ms": queueMs.toFixed(1),
        "x-router-cache": opts.cache ? (hit ? "HIT" : "MISS") : "BYPASS",
        "x-router-model": "scripted",
        "x-router-pool": "scripted",
        "x-router-overhead-ms": "0.50",
        "x-request-id": `req-${n}`,
      };
      if (body.stream) await stream(res, n, hit, headers);
      else await json(res, hit, headers);
    } finally {
      release();
    }
  }

  async function stream(res: ServerResponse, n: number, hit: boolean, headers: Record<string, string>) {
    res.writeHead(200, {
      ...headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
    });
    for (let i = 0; i < opts.keepAlives; i++) {
      res.write(": keep-alive\n\n");
      await pause(2);
    }
    res.write(sse(chunk({ role: "assistant", content: "" })));
    if (!hit) await pause(opts.ttftMs);
    const truncate = opts.truncateEvery > 0 && n % opts.truncateEvery === 0;
    const fail = opts.streamErrorEvery > 0 && n % opts.streamErrorEvery === 0;
    for (let i = 0; i < opts.tokens; i++) {
      if (i > 0 && !hit) await pause(opts.tokenGapMs);
      res.write(sse(chunk({ content: `tok${i} ` })));
      if ((truncate || fail) && i === Math.floor(opts.tokens / 2)) {
        if (fail)
          res.write(
            sse({
              error: { message: "upstream failed mid-stream", type: "server_error", code: "upstream_error" },
            }),
          );
        res.end();
        return;
      }
    }
    res.write(sse({ ...chunk({ content: "" }, "stop"), usage: usage(opts.tokens) }));
    res.end("data: [DONE]\n\n");
  }

  async function json(res: ServerResponse, hit: boolean, headers: Record<string, string>) {
    if (!hit) await pause(opts.ttftMs + opts.tokens * opts.tokenGapMs);
    res.writeHead(200, { ...headers, "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id: "scripted",
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
        usage: usage(opts.tokens),
      }),
    );
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get received() {
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function chunk(delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> {
  return {
    id: "scripted",
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

function usage(tokens: number) {
  return { prompt_tokens: 10, completion_tokens: tokens, total_tokens: 10 + tokens };
}

function sse(obj: unknown): string {
  return `data: ${JSON.stringify(obj)}\n\n`;
}

function pause(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  return Buffer.concat(parts).toString("utf8");
}
