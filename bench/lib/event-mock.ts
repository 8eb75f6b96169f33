import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { constants, createGzip } from "node:zlib";

// The benchmarks' upstream that costs next to nothing: DeepSeek-shaped answers, a stream written one
// SSE event at a time (`events=N` in the prompt says how many), a non-streamed answer at once.

/** A streamed chat request the mock answers with `events` content events. */
export function streamBody(events: number) {
  return {
    model: "deepseek-v4-flash",
    messages: [{ role: "user", content: `events=${events}` }],
    thinking: { type: "disabled" },
    stream: true,
  };
}

const EVENT_ID = "chatcmpl-bench-0000000000000000";

function eventBytes(
  delta: Record<string, unknown>,
  finishReason: string | null = null,
  usage: unknown = null,
): string {
  return `data: ${JSON.stringify({
    id: EVENT_ID,
    object: "chat.completion.chunk",
    created: 1_765_000_000,
    model: "deepseek-v4-flash",
    system_fingerprint: "fp_bench_0001",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    usage,
  })}\n\n`;
}

/** Where an answer's text goes: straight out, or through gzip, flushed after every write as a compressing proxy flushes a stream. */
interface AnswerSink {
  write(text: string): void;
  end(text: string): void;
}

function sinkFor(res: ServerResponse, gzip: boolean): AnswerSink {
  if (!gzip) return { write: (text) => res.write(text), end: (text) => res.end(text) };
  const zip = createGzip();
  zip.pipe(res);
  return {
    write(text) {
      zip.write(text);
      zip.flush(constants.Z_SYNC_FLUSH);
    },
    end: (text) => zip.end(text),
  };
}

/** A DeepSeek-shaped stream of `events` content events, each written on its own. */
async function writeStream(res: ServerResponse, events: number, gzip: boolean): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    ...(gzip ? { "content-encoding": "gzip" } : {}),
  });
  const out = sinkFor(res, gzip);
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  out.write(eventBytes({ role: "assistant", content: "" }));
  for (let i = 0; i < events; i++) {
    await turn();
    out.write(eventBytes({ content: ` tok${i}` }));
  }
  await turn();
  out.write(
    eventBytes({}, "stop", { prompt_tokens: 12, completion_tokens: events, total_tokens: 12 + events }),
  );
  out.end("data: [DONE]\n\n");
}

/** A non-streamed answer, sent at once: for measuring requests (large prompts, small answers) against it. */
const JSON_ANSWER = JSON.stringify({
  id: EVENT_ID,
  object: "chat.completion",
  created: 1_765_000_000,
  model: "deepseek-v4-flash",
  choices: [{ index: 0, message: { role: "assistant", content: "A short answer." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 },
});

/**
 * Starts the mock. With `gzip`, it compresses every answer whose request accepts gzip, as DeepSeek's
 * Cloudflare front does for a Worker's subrequest (which asks for gzip unless told otherwise).
 */
export async function startEventMock(
  options: { gzip?: boolean } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      // Costs next to nothing whatever the prompt's size: the bytes are searched, never decoded whole.
      const body = Buffer.concat(parts);
      const events = Number(/events=(\d+)/.exec(body.subarray(0, 4096).toString("utf8"))?.[1] ?? "6");
      const gzip = options.gzip === true && /\bgzip\b/.test(req.headers["accept-encoding"] ?? "");
      if (!body.includes('"stream":true')) {
        res.writeHead(200, {
          "content-type": "application/json",
          ...(gzip ? { "content-encoding": "gzip" } : {}),
        });
        sinkFor(res, gzip).end(JSON_ANSWER);
        return;
      }
      writeStream(res, events, gzip).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
