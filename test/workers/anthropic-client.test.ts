import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { ACME_KEY } from "../fixtures/tenants";
import { createSim, routerFetch } from "./helpers";

/** A 1×1 PNG. */
const PIXEL =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

const WEATHER: Anthropic.Tool = {
  name: "weather",
  description: "Current weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

async function client(options: Record<string, unknown> = {}, key: string = ACME_KEY): Promise<Anthropic> {
  const sim = await createSim(options);
  return new Anthropic({
    apiKey: key,
    baseURL: "http://router.test/anthropic",
    fetch: routerFetch(sim.baseUrl),
    maxRetries: 0,
  });
}

describe("the official Anthropic SDK, with only baseURL and key changed", () => {
  it("pages the model list: limit and the after_id / before_id cursors the SDK follows", async () => {
    const anthropic = await client();
    const all = (await anthropic.models.list()).data.map((model) => model.id);
    expect(all.length).toBeGreaterThanOrEqual(2);
    const first = await anthropic.models.list({ limit: 1 });
    expect(first.data.map((model) => model.id)).toEqual([all[0]]);
    expect(first.has_more).toBe(true);
    const walked: string[] = [];
    for await (const model of anthropic.models.list({ limit: 1 })) walked.push(model.id);
    expect(walked).toEqual(all);
    const before = await anthropic.models.list({ limit: 5, before_id: all[1] });
    expect(before.data.map((model) => model.id)).toEqual([all[0]]);
    expect(before.has_more).toBe(false);
    await expect(anthropic.models.list({ limit: 0 })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    await expect(anthropic.models.list({ after_id: "nope" })).rejects.toBeInstanceOf(
      Anthropic.BadRequestError,
    );
  });

  it("gets a non-streamed message with thinking first, and Anthropic usage", async () => {
    const anthropic = await client();
    const message = await anthropic.messages.create({
      model: "deepseek-v4-flash",
      max_tokens: 512,
      thinking: { type: "enabled", budget_tokens: 256 },
      messages: [{ role: "user", content: "Hello there" }],
    });
    expect(message.type).toBe("message");
    expect(message.content[0]?.type).toBe("thinking");
    expect(message.content.some((block) => block.type === "text")).toBe(true);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    // The SDK's request id, from Anthropic's own `request-id` header.
    expect(message._request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("streams a message the SDK assembles from named events", async () => {
    const anthropic = await client();
    const stream = anthropic.messages.stream({
      model: "deepseek-v4-flash",
      max_tokens: 512,
      messages: [{ role: "user", content: "Stream to me" }],
    });
    let text = "";
    stream.on("text", (delta) => {
      text += delta;
    });
    const message = await stream.finalMessage();
    expect(text.length).toBeGreaterThan(0);
    expect(message.content.map((block) => block.type)).toEqual(["thinking", "text"]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it("calls a tool, and the next turn (thinking and tool_use sent back) is answered", async () => {
    const anthropic = await client();
    const ask: Anthropic.MessageParam = {
      role: "user",
      content: "What is the weather in Paris? Use weather.",
    };
    const first = await anthropic.messages.create({
      model: "deepseek-v4-flash",
      max_tokens: 512,
      tools: [WEATHER],
      messages: [ask],
    });
    expect(first.stop_reason).toBe("tool_use");
    const call = first.content.find((block) => block.type === "tool_use");
    expect(call?.name).toBe("weather");
    const second = await anthropic.messages.create({
      model: "deepseek-v4-flash",
      max_tokens: 512,
      tools: [WEATHER],
      messages: [
        ask,
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: call?.id ?? "", content: "18C, cloudy" }],
        },
      ],
    });
    expect(second.stop_reason).toBe("end_turn");
  });

  it("streams a tool call as input_json deltas the SDK parses", async () => {
    const anthropic = await client();
    const message = await anthropic.messages
      .stream({
        model: "deepseek-v4-flash",
        max_tokens: 512,
        thinking: { type: "disabled" },
        tools: [WEATHER],
        messages: [{ role: "user", content: "Use weather for Paris" }],
      })
      .finalMessage();
    const call = message.content.find((block) => block.type === "tool_use");
    expect(call?.input).toHaveProperty("city");
  });

  it("sends an image to a vision model, which classifies the request as vision", async () => {
    const sim = await createSim();
    let pool: string | null = null;
    const anthropic = new Anthropic({
      apiKey: ACME_KEY,
      baseURL: "http://router.test/anthropic",
      fetch: async (input, init) => {
        const response = await routerFetch(sim.baseUrl)(input, init);
        pool = response.headers.get("x-router-class");
        return response;
      },
      maxRetries: 0,
    });
    const message = await anthropic.messages.create({
      model: "deepseek-flash",
      max_tokens: 256,
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL } },
            { type: "text", text: "What is in this picture?" },
          ],
        },
      ],
    });
    expect(message.content.some((block) => block.type === "text")).toBe(true);
    expect(pool).toMatch(/^vision;/);
  });

  it("counts tokens", async () => {
    const anthropic = await client();
    const counted = await anthropic.messages.countTokens({
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: "How many tokens is this?" }],
    });
    expect(counted.input_tokens).toBeGreaterThan(0);
  });

  it("retrieves a model, and raises NotFoundError for one the router does not serve", async () => {
    const anthropic = await client();
    const model = await anthropic.models.retrieve("deepseek-v4-flash");
    expect(model).toMatchObject({
      type: "model",
      id: "deepseek-v4-flash",
      display_name: "deepseek-v4-flash",
    });
    // Required by ModelInfo; the epoch stands for an unknown release date, as Anthropic's docs allow.
    expect(new Date(model.created_at).getTime()).toBe(0);
    const listed = await anthropic.models.list();
    expect(listed.data.every((info) => typeof info.created_at === "string")).toBe(true);
    const missing = await anthropic.models.retrieve("claude-opus-4-1").catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({
      type: "error",
      error: { type: "not_found_error" },
    });
  });

  it("maps a Claude model name the way DeepSeek does", async () => {
    const anthropic = await client();
    const { data, response } = await anthropic.messages
      .create({
        model: "claude-opus-4-1[1m]",
        max_tokens: 64,
        thinking: { type: "disabled" },
        messages: [{ role: "user", content: "hi" }],
      })
      .withResponse();
    expect(response.headers.get("x-router-model")).toBe("deepseek-v4-pro");
    expect(data.model).toBe("deepseek-v4-pro");
  });

  it("raises typed errors from Anthropic's envelope", async () => {
    const anthropic = await client();
    const bad = await anthropic.messages
      .create({ model: "no-such-model", max_tokens: 64, messages: [{ role: "user", content: "hi" }] })
      .catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect((bad as InstanceType<typeof Anthropic.BadRequestError>).error).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: "Model Not Exist" },
    });

    const stranger = await client({}, "sk-wrong");
    await expect(
      stranger.messages.create({
        model: "deepseek-v4-flash",
        max_tokens: 8,
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
  });

  it("raises an error event, not a silently short answer, when the stream breaks mid-way", async () => {
    const anthropic = await client({ faultScript: [{ kind: "cutMidStream", afterChunks: 4 }] });
    const stream = anthropic.messages.stream({
      model: "deepseek-v4-flash",
      max_tokens: 512,
      messages: [{ role: "user", content: "Stream to me" }],
    });
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.APIError);
  });
});
