import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeTokensPerSecond, readSseStream, SseParser } from "../../../loadtest/sse";

const data = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;
const delta = (d: Record<string, unknown>, finish: string | null = null) => ({
  id: "x",
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FIRST_TOKEN_DELAY_MS = 150;
const GAP_MS = 40;

type Script = (res: ServerResponse) => Promise<void>;
const scripts: Record<string, Script> = {
  async normal(res) {
    for (let i = 0; i < 3; i++) {
      res.write(": keep-alive\n\n");
      await wait(10);
    }
    res.write(data(delta({ role: "assistant", content: "" })));
    await wait(FIRST_TOKEN_DELAY_MS);
    for (const word of ["Hello", " there", " friend"]) {
      res.write(data(delta({ content: word })));
      await wait(GAP_MS);
    }
    res.write(
      data({
        ...delta({ content: "" }, "stop"),
        usage: {
          prompt_tokens: 5,
          completion_tokens: 3,
          total_tokens: 8,
          completion_tokens_details: { reasoning_tokens: 0 },
        },
      }),
    );
    res.end("data: [DONE]\n\n");
  },
  async truncated(res) {
    res.write(data(delta({ role: "assistant", content: "" })));
    res.write(data(delta({ content: "partial" })));
    await wait(20);
    res.end();
  },
  async errorEvent(res) {
    res.write(data(delta({ content: "a" })));
    res.end(data({ error: { message: "upstream died", type: "server_error", code: "upstream_error" } }));
  },
  async reasoning(res) {
    res.write(data(delta({ role: "assistant", content: null, reasoning_content: "" })));
    await wait(60);
    res.write(data(delta({ content: null, reasoning_content: "Let me think" })));
    await wait(20);
    res.write(
      data(delta({ tool_calls: [{ index: 0, id: "call_1", function: { name: "f", arguments: "" } }] })),
    );
    res.end("data: [DONE]\n\n");
  },
};

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    const script = scripts[(req.url ?? "/").slice(1)];
    void (script ? script(res) : Promise.resolve(res.end()));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function read(path: string) {
  const start = performance.now();
  const res = await fetch(`${base}/${path}`);
  return readSseStream(res.body, { startMs: start, now: () => performance.now() });
}

describe("readSseStream against a scripted server", () => {
  it("measures TTFT at the first content token, not at keep-alives or the role chunk", async () => {
    const s = await read("normal");
    expect(s.keepAlives).toBe(3);
    expect(s.firstByteMs!).toBeLessThan(FIRST_TOKEN_DELAY_MS);
    expect(s.ttftMs!).toBeGreaterThanOrEqual(FIRST_TOKEN_DELAY_MS + 20);
    expect(s.tokenEvents).toBe(3);
    expect(s.gapsMs).toHaveLength(2);
    for (const g of s.gapsMs) expect(g).toBeGreaterThanOrEqual(GAP_MS - 5);
    expect(s.usage?.completionTokens).toBe(3);
    expect(s.finishReason).toBe("stop");
    expect(s.done).toBe(true);
    expect(s.truncated).toBe(false);
    const tps = decodeTokensPerSecond(s)!;
    expect(tps).toBeGreaterThan(10);
    expect(tps).toBeLessThan(2 / ((2 * GAP_MS - 10) / 1000));
  });

  it("detects a stream that ends without [DONE]", async () => {
    const s = await read("truncated");
    expect(s.truncated).toBe(true);
    expect(s.done).toBe(false);
    expect(s.tokenEvents).toBe(1);
  });

  it("detects an in-stream error event", async () => {
    const s = await read("errorEvent");
    expect(s.error?.message).toBe("upstream died");
    expect(s.error?.code).toBe("upstream_error");
    expect(s.truncated).toBe(false);
  });

  it("counts reasoning_content and tool-call deltas as tokens", async () => {
    const s = await read("reasoning");
    expect(s.ttftMs!).toBeGreaterThanOrEqual(55);
    expect(s.tokenEvents).toBe(2);
    expect(s.done).toBe(true);
  });
});

describe("SseParser", () => {
  it("handles CRLF, CR, events split across reads, multi-line data and comments", () => {
    const p = new SseParser();
    const events = [
      ...p.push(": keep-alive\r\n\r\nda"),
      ...p.push('ta: {"a":\r'),
      ...p.push("\ndata: 1}\r\n\r\nevent: x\nid: 3\ndata:[DONE]\n"),
      ...p.push("\n"),
    ];
    expect(events).toEqual([
      { kind: "comment", text: "keep-alive" },
      { kind: "data", data: '{"a":\n1}' },
      { kind: "data", data: "[DONE]" },
    ]);
    expect(p.push("data: tail")).toEqual([]);
    expect(p.end()).toEqual([{ kind: "data", data: "tail" }]);
  });
});
