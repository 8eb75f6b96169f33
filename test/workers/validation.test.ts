import { describe, expect, it } from "vitest";
import { callRouter, chatBody, createSim, errorOf } from "./helpers";

async function rejected(
  json: unknown,
): Promise<{ status: number; error: Awaited<ReturnType<typeof errorOf>> }> {
  const response = await callRouter("/v1/chat/completions", { json });
  return { status: response.status, error: await errorOf(response) };
}

describe("request validation", () => {
  it.each([
    ["model", { messages: [{ role: "user", content: "hi" }] }],
    ["messages", { model: "deepseek-v4-flash" }],
    ["messages", { model: "deepseek-v4-flash", messages: [] }],
    ["messages[0].role", { model: "deepseek-v4-flash", messages: [{ role: "wizard", content: "hi" }] }],
    [
      "messages[1].content",
      { model: "deepseek-v4-flash", messages: [{ role: "system", content: "x" }, { role: "user" }] },
    ],
    ["messages[0].tool_call_id", { model: "deepseek-v4-flash", messages: [{ role: "tool", content: "42" }] }],
    ["temperature", chatBody({ temperature: 3 })],
    ["top_p", chatBody({ top_p: -0.1 })],
    ["max_tokens", chatBody({ max_tokens: 0 })],
    ["max_tokens", chatBody({ max_tokens: 1.5 })],
    ["stream", chatBody({ stream: "yes" })],
    ["stream_options.include_usage", chatBody({ stream: true, stream_options: { include_usage: 1 } })],
    ["stop", chatBody({ stop: Array.from({ length: 17 }, () => "x") })],
    ["tools[0].function.name", chatBody({ tools: [{ type: "function", function: { name: "bad name!" } }] })],
    ["tools[0].type", chatBody({ tools: [{ type: "retrieval", function: { name: "f" } }] })],
    ["tool_choice", chatBody({ tool_choice: "sometimes" })],
    ["response_format.type", chatBody({ response_format: { type: "xml" } })],
    ["thinking.type", chatBody({ thinking: { type: "maybe" } })],
    ["reasoning_effort", chatBody({ reasoning_effort: "extreme" })],
    ["top_logprobs", chatBody({ logprobs: true, top_logprobs: 21 })],
    ["messages[0].content", chatBody({ messages: [{ role: "user", content: [{ type: "audio" }] }] })],
  ])("400s with param %s", async (param, body) => {
    const { status, error } = await rejected(body);
    expect(status).toBe(400);
    expect(error.type).toBe("invalid_request_error");
    expect(error.param).toBe(param);
    expect(error.message.length).toBeGreaterThan(10);
  });

  it("refuses a model the router does not serve with DeepSeek's own message", async () => {
    const { status, error } = await rejected(chatBody({ model: "deepseek-chat" }));
    expect(status).toBe(400);
    expect(error).toMatchObject({ message: "Model Not Exist", param: "model", code: "model_not_found" });
  });

  it("passes unknown fields through to the upstream untouched", async () => {
    const sim = await createSim();
    const body = chatBody({ seed: 7, parallel_tool_calls: false, metadata: { trace: "abc" } });
    expect((await sim.call("/v1/chat/completions", { json: body })).status).toBe(200);
    const [received] = (await sim.stats()).recent;
    expect(received?.body).toEqual(body);
  });

  it("accepts content as text parts and nulls where OpenAI clients send them", async () => {
    const sim = await createSim();
    const response = await sim.call("/v1/chat/completions", {
      json: chatBody({
        messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }],
        stop: null,
        tools: null,
        stream_options: null,
      }),
    });
    expect(response.status).toBe(200);
  });
});

describe("malformed requests", () => {
  it("400s a body that is not JSON", async () => {
    const response = await callRouter("/v1/chat/completions", { method: "POST", body: "{not json" });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "invalid_json", type: "invalid_request_error" });
  });

  it.each([["[]"], ['"text"'], ["null"], [""]])(
    "400s a JSON body that is not an object: %s",
    async (body) => {
      const response = await callRouter("/v1/chat/completions", { method: "POST", body });
      expect(response.status).toBe(400);
    },
  );

  it("413s a body over the limit without reading it all", async () => {
    const huge = "x".repeat(9 * 1024 * 1024);
    const response = await callRouter("/v1/chat/completions", {
      json: chatBody({ messages: [{ role: "user", content: huge }] }),
    });
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe("payload_too_large");
  });

  it("413s an oversized stream without a content-length", async () => {
    const chunk = new TextEncoder().encode("x".repeat(1024 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= 10) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const response = await callRouter("/v1/chat/completions", { method: "POST", body });
    expect(response.status).toBe(413);
  });

  it("400s a body that is not UTF-8, and the next body decodes cleanly", async () => {
    const sim = await createSim();
    const response = await sim.call("/v1/chat/completions", {
      method: "POST",
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("not valid UTF-8");
    // A truncated multi-byte sequence, then a valid body: nothing of the first carries into the second.
    const cut = await sim.call("/v1/chat/completions", {
      method: "POST",
      body: new Uint8Array([0x7b, 0x22, 0xe2, 0x82]),
    });
    expect(cut.status).toBe(400);
    const valid = await sim.call("/v1/chat/completions", {
      method: "POST",
      body: JSON.stringify(chatBody({ messages: [{ role: "user", content: "€ after a refusal" }] })),
    });
    expect(valid.status).toBe(200);
  });

  it.each(["GET", "PUT", "DELETE"])("405s %s on the chat endpoint", async (method) => {
    const response = await callRouter("/v1/chat/completions", { method });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });

  it.each([
    ["DELETE", "/v1/files", "GET, POST"],
    ["PUT", "/v1/files", "GET, POST"],
    ["POST", "/v1/files/file-x", "GET, DELETE"],
    ["DELETE", "/v1/files/file-x/content", "GET"],
    ["POST", "/v1/batches/batch_x", "GET"],
    ["GET", "/v1/batches/batch_x/cancel", "POST"],
    ["PUT", "/v1/responses/resp_x", "GET, DELETE"],
    ["GET", "/v1/responses/resp_x/cancel", "POST"],
    ["POST", "/v1/chat/completions/chatstream_x/stream", "GET"],
  ])("405s %s %s, naming the methods it takes (%s)", async (method, path, allowed) => {
    const response = await callRouter(path, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe(allowed);
    expect((await errorOf(response)).code).toBe("method_not_allowed");
  });

  it("404s an unknown path in the envelope", async () => {
    const response = await callRouter("/v1/embeddings", { json: {} });
    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe("not_found");
  });
});
