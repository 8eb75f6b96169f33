import OpenAI, { type APIError } from "openai";
import { describe, expect, it } from "vitest";
import { ACME_KEY, GLOBEX_KEY } from "../../fixtures/tenants";
import { createSim, openaiClient, singlePoolPolicy } from "../helpers";
import { clientWith, untilDone } from "./support";

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

  it("names the Response an unstored answer continued, streamed or not, as OpenAI's does", async () => {
    const openai = openaiClient(ACME_KEY, (await createSim()).baseUrl);
    const first = await openai.responses.create({ model: MODEL, input: "Remember 7.", store: true });
    const second = await openai.responses.create({
      model: MODEL,
      input: "Which?",
      previous_response_id: first.id,
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text.length).toBeGreaterThan(0);

    const stream = await openai.responses.create({
      model: MODEL,
      input: "Again?",
      previous_response_id: first.id,
      stream: true,
    });
    const echoed: Array<string | null | undefined> = [];
    let text = "";
    for await (const event of stream) {
      if ("response" in event) echoed.push(event.response.previous_response_id);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    expect(echoed.length).toBeGreaterThanOrEqual(2); // created … completed
    expect(new Set(echoed)).toEqual(new Set([first.id]));
    expect(text.length).toBeGreaterThan(0);
    // Nothing was kept for the unstored turns.
    await expect(openai.responses.retrieve(second.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("refuses background with store: false", async () => {
    const openai = openaiClient(ACME_KEY, (await createSim()).baseUrl);
    const refused = await openai.responses
      .create({ model: MODEL, input: "Hi", background: true, store: false })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

/** The refusal of a `previous_response_id`, as the openai SDK raises it. */
async function continuing(openai: OpenAI, previous: string): Promise<APIError> {
  const refused = await openai.responses
    .create({ model: MODEL, input: "continue", previous_response_id: previous })
    .catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
  return refused as APIError;
}

describe("previous_response_id of a Response that did not complete", () => {
  it("continues an incomplete Response (cut off by max_output_tokens) from its partial output", async () => {
    const sim = await createSim({ minAnswerTokens: 40, maxAnswerTokens: 40 });
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const cut = await openai.responses.create({
      model: MODEL,
      input: "Hi",
      reasoning: { effort: "none" },
      store: true,
      max_output_tokens: 10,
    });
    expect(cut.status).toBe("incomplete");
    expect(cut.incomplete_details?.reason).toBe("max_output_tokens");
    expect(cut.output_text.length).toBeGreaterThan(0);
    expect((await openai.responses.retrieve(cut.id)).status).toBe("incomplete");

    const next = await openai.responses.create({
      model: MODEL,
      input: "continue",
      reasoning: { effort: "none" },
      previous_response_id: cut.id,
    });
    expect(next.status).toBe("completed");
    // DeepSeek got the first turn, the partial answer as it was kept, then the new turn.
    const sent = (await sim.stats()).recent.at(-1)?.body as { input: Item[] };
    expect(sent.input).toEqual([
      { role: "user", content: "Hi" },
      ...JSON.parse(JSON.stringify(cut.output)),
      { role: "user", content: "continue" },
    ]);
  });

  it("refuses a running, then cancelled, Response saying so; another tenant's is not found", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 20, minAnswerTokens: 400, maxAnswerTokens: 400 });
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const created = await openai.responses.create({
      model: MODEL,
      input: "A very long answer, please.",
      reasoning: { effort: "none" },
      background: true,
    });
    const running = await continuing(openai, created.id);
    expect(running.param).toBe("previous_response_id");
    expect(running.message).toMatch(
      new RegExp(
        `^400 Previous response '${created.id}' is (queued|in_progress); it can be continued once it has finished\\.$`,
      ),
    );

    expect((await openai.responses.cancel(created.id)).status).toBe("cancelled");
    const cancelled = await continuing(openai, created.id);
    expect(cancelled.param).toBe("previous_response_id");
    expect(cancelled.message).toContain(
      `Previous response '${created.id}' was cancelled and has no output to continue from`,
    );

    // Another tenant is told nothing of it, whatever its status.
    const other = await continuing(openaiClient(GLOBEX_KEY, sim.baseUrl), created.id);
    expect(other.param).toBe("previous_response_id");
    expect(other.message).toContain(`Previous response with id '${created.id}' not found`);
  });

  it("refuses a failed Response saying it failed", async () => {
    const sim = await createSim({ faultScript: [{ kind: "status", status: 500 }] });
    const openai = clientWith(sim.baseUrl, {
      ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, { retries: { max: 0 } }),
    });
    const created = await openai.responses.create({
      model: MODEL,
      input: "Hi",
      reasoning: { effort: "none" },
      background: true,
    });
    expect((await untilDone(openai, created.id)).status).toBe("failed");
    const failed = await continuing(openai, created.id);
    expect(failed.param).toBe("previous_response_id");
    expect(failed.message).toContain(
      `Previous response '${created.id}' failed and has no output to continue from`,
    );
  });
});
