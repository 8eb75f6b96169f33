import { describe, expect, it } from "vitest";
import { chatBody, createSim, readSse } from "../helpers";

describe("POST /chat/completions, non-streaming", () => {
  it("leaves a failed upstream's time out of x-router-overhead-ms, as an answer's", async () => {
    const blank = { kind: "blankBody" as const, lines: 2, afterMs: 300 };
    const sim = await createSim({ faultScript: [blank, blank, blank, blank, blank, blank] });
    const startedAt = Date.now();
    const response = await sim.call("/v1/chat/completions", { json: chatBody() });
    const tookMs = Date.now() - startedAt;
    expect(response.status).toBeGreaterThanOrEqual(500);
    expect(tookMs).toBeGreaterThan(300);
    // The router's own work is a few milliseconds; the upstream's 300 ms (or more, with retries) is not it.
    expect(Number(response.headers.get("x-router-overhead-ms"))).toBeLessThan(150);
  });

  it.each(["/chat/completions", "/v1/chat/completions", "/beta/chat/completions"])(
    "%s answers with DeepSeek's JSON and the decision headers",
    async (path) => {
      const sim = await createSim();
      const response = await sim.call(path, { json: chatBody() });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/json");
      expect(response.headers.get("x-router-model")).toBe("deepseek-v4-flash");
      expect(response.headers.get("x-router-pool")).toBe("deepseek-flash");
      expect(response.headers.get("x-request-id")).toBeTruthy();
      expect(Number(response.headers.get("x-router-overhead-ms"))).toBeGreaterThanOrEqual(0);
      const body = (await response.json()) as {
        object: string;
        choices: Array<{ message: { content: string }; finish_reason: string }>;
        usage: { prompt_tokens: number; prompt_cache_miss_tokens: number };
      };
      expect(body.object).toBe("chat.completion");
      expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
      expect(body.usage.prompt_tokens).toBeGreaterThan(0);
      const [received] = (await sim.stats()).recent;
      expect(received?.path).toBe(path.startsWith("/beta") ? "/beta/chat/completions" : "/chat/completions");
    },
  );

  it("waits through DeepSeek's keep-alive blank lines and returns the JSON alone", async () => {
    const sim = await createSim({ concurrency: 1, overload: "queue", queueKeepAliveMs: 20, ttftMs: 150 });
    const [first, second] = await Promise.all([
      sim.call("/v1/chat/completions", { json: chatBody() }),
      sim.call("/v1/chat/completions", {
        json: chatBody({ messages: [{ role: "user", content: "second" }] }),
      }),
    ]);
    for (const response of [first, second]) {
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text.startsWith("{")).toBe(true);
      expect(JSON.parse(text).object).toBe("chat.completion");
    }
    expect((await sim.stats()).queued).toBeGreaterThanOrEqual(1);
  });
});

describe("POST /chat/completions, streaming", () => {
  it("relays DeepSeek's SSE: role chunk first, usage on the final chunk, then [DONE]", async () => {
    const sim = await createSim();
    const response = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true }) });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = await readSse(response);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    const last = chunks.at(-1);
    expect(last.choices[0].finish_reason).toBe("stop");
    expect(last.usage.completion_tokens).toBeGreaterThan(0);
  });

  it("relays reasoning_content deltas in thinking mode", async () => {
    const sim = await createSim();
    const response = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true, thinking: { type: "enabled" } }),
    });
    const chunks = (await readSse(response)).slice(0, -1).map((event) => JSON.parse(event));
    expect(chunks.some((chunk) => typeof chunk.choices[0]?.delta?.reasoning_content === "string")).toBe(true);
    expect(chunks.at(-1).usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
  });

  it("relays the upstream's keep-alive comments while the upstream queues", async () => {
    const sim = await createSim({ ttftMs: 200, keepAliveBeforeFirstTokenMs: 30 });
    const response = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true }) });
    const text = await response.text();
    expect(text.startsWith(": keep-alive\n\n")).toBe(true);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  });
});
