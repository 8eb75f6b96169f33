import { describe, expect, it } from "vitest";
import { chatBody, createSim, eventually } from "./helpers";

describe("client disconnects", () => {
  it("cancelling the response body aborts the upstream request and frees its slot", async () => {
    const sim = await createSim({ tokensPerS: 20, ttftMs: 0 });
    const response = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true }) });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    await reader.cancel();
    await eventually(async () => {
      const stats = await sim.stats();
      expect(stats.aborted).toBe(1);
      expect(stats.inFlight).toBe(0);
      expect(stats.completed).toBe(0);
    });
  });

  it("an aborted request signal tears the upstream down too", async () => {
    const sim = await createSim({ tokensPerS: 20 });
    const controller = new AbortController();
    const response = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await eventually(async () => {
      const stats = await sim.stats();
      expect(stats.aborted).toBe(1);
      expect(stats.inFlight).toBe(0);
    });
    await reader.cancel().catch(() => {});
  });
});

describe("relay fidelity", () => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    ["a plain stream", {}, {}],
    [
      "a thinking stream with usage on every chunk",
      { thinking: { type: "enabled" }, stream_options: { include_usage: true } },
      {},
    ],
    [
      "a tool-call stream",
      {
        tools: [
          {
            type: "function",
            function: {
              name: "weather",
              parameters: { type: "object", properties: { city: { type: "string" } } },
            },
          },
        ],
        tool_choice: "required",
      },
      {},
    ],
    [
      "a stream with keep-alives before the first token",
      {},
      { ttftMs: 150, keepAliveBeforeFirstTokenMs: 30 },
    ],
    ["a stream paced token by token", {}, { tokensPerS: 400 }],
  ];

  it.each(cases)("the client receives exactly the upstream's bytes: %s", async (_, body, simOptions) => {
    const sim = await createSim(simOptions);
    const response = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true, ...body }) });
    const received = await response.text();
    const [upstream] = (await sim.stats()).recent as Array<{ sent?: string }>;
    expect(upstream?.sent?.length).toBeGreaterThan(100);
    expect(received).toBe(upstream?.sent);
  });

  it("asks the upstream for its answer uncompressed, which the relay then never has to inflate", async () => {
    const sim = await createSim();
    for (const stream of [true, false]) {
      const response = await sim.call("/v1/chat/completions", { json: chatBody({ stream }) });
      expect(response.status).toBe(200);
      await response.text();
    }
    const sent = (await sim.stats()).recent.map((request) => request.acceptEncoding);
    expect(sent).toEqual(["identity", "identity"]);
  });

  it("a non-streamed answer is the upstream's JSON, byte for byte, without its keep-alive lines", async () => {
    const sim = await createSim({ concurrency: 1, overload: "queue", queueKeepAliveMs: 20, ttftMs: 100 });
    const [, second] = await Promise.all([
      sim.call("/v1/chat/completions", { json: chatBody() }),
      sim.call("/v1/chat/completions", {
        json: chatBody({ messages: [{ role: "user", content: "queued" }] }),
      }),
    ]);
    const received = await second.text();
    const sent = (
      (await sim.stats()).recent as Array<{ sent?: string; body?: { messages?: Array<{ content: string }> } }>
    ).find((r) => r.body?.messages?.[0]?.content === "queued")?.sent;
    expect(sent?.startsWith("\n")).toBe(true);
    expect(received).toBe(sent?.trimStart());
  });
});
