import OpenAI, { type APIError } from "openai";
import { describe, expect, it } from "vitest";
import { ACME_KEY } from "../../fixtures/tenants";
import { createSim, openaiClient } from "../helpers";

const MODEL = "deepseek-v4-flash";
const WEATHER = {
  type: "function" as const,
  name: "weather",
  description: "Current weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

type Item = { type?: string; role?: string; call_id?: string; content?: unknown };

describe("stored responses and previous_response_id, through the openai SDK", () => {
  it("carries a three-turn thinking-mode tool conversation, reasoning included, without resending it", async () => {
    const sim = await createSim();
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const first = await openai.responses.create({
      model: MODEL,
      input: "What is the weather in Paris? Use weather.",
      tools: [WEATHER],
      store: true,
    });
    expect(first.status).toBe("completed");
    expect((first as unknown as { store: boolean }).store).toBe(true);
    const call = first.output.find((item) => item.type === "function_call");
    expect(call?.name).toBe("weather");
    const reasoning = first.output.find((item) => item.type === "reasoning");
    expect(reasoning).toBeDefined();

    const second = await openai.responses.create({
      model: MODEL,
      tools: [WEATHER],
      store: true,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call?.call_id ?? "", output: "18C, cloudy" }],
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text.length).toBeGreaterThan(0);

    const third = await openai.responses.create({
      model: MODEL,
      store: true,
      previous_response_id: second.id,
      input: "And should I take an umbrella?",
    });
    expect(third.output_text.length).toBeGreaterThan(0);

    // DeepSeek is stateless: the third request it got holds the whole conversation, in order, with the
    // first turn's reasoning before its tool call (what a thinking-mode tool turn needs sent back).
    const sent = (await sim.stats()).recent.at(-1)?.body as { input: Item[]; previous_response_id?: unknown };
    expect(sent.previous_response_id).toBeUndefined();
    const kinds = sent.input.map((item) => item.type ?? item.role);
    expect(kinds).toEqual([
      "user",
      "reasoning",
      "function_call",
      "function_call_output",
      ...second.output.map((item) => item.type),
      "user",
    ]);
    expect(sent.input[1]).toEqual(JSON.parse(JSON.stringify(reasoning)));
  });

  it("streams a stored response in the foreground, then serves it by id", async () => {
    const openai = openaiClient(ACME_KEY, (await createSim()).baseUrl);
    const stream = await openai.responses.create({
      model: MODEL,
      input: "Stream and keep this.",
      reasoning: { effort: "none" },
      store: true,
      stream: true,
    });
    let id = "";
    let text = "";
    for await (const event of stream) {
      if (event.type === "response.created") id = event.response.id;
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    expect(id).toMatch(/^resp_/);
    const kept = await openai.responses.retrieve(id);
    expect(kept.status).toBe("completed");
    expect(kept.output_text).toBe(text);
  });

  it("keeps nothing by default: a response created without store cannot be retrieved or continued", async () => {
    const sim = await createSim();
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const unstored = await openai.responses.create({ model: MODEL, input: "Hello" });
    await expect(openai.responses.retrieve(unstored.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const chained = await openai.responses
      .create({ model: MODEL, input: "and then?", previous_response_id: unstored.id })
      .catch((error: unknown) => error);
    expect(chained).toBeInstanceOf(OpenAI.BadRequestError);
    expect((chained as APIError).param).toBe("previous_response_id");
  });

  it("refuses background with store: false", async () => {
    const openai = openaiClient(ACME_KEY, (await createSim()).baseUrl);
    const refused = await openai.responses
      .create({ model: MODEL, input: "Hi", background: true, store: false })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
  });
});
