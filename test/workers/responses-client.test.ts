import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { ACME_KEY } from "../fixtures/tenants";
import { storedFrom, uniquePrompt } from "./cache/support";
import { createSim, ledgerEntry, openaiClient, routerFetch } from "./helpers";

async function client(options: Record<string, unknown> = {}): Promise<OpenAI> {
  return openaiClient(ACME_KEY, (await createSim(options)).baseUrl);
}

const WEATHER = {
  type: "function" as const,
  name: "weather",
  description: "Current weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

describe("the openai client's Responses API, relayed to DeepSeek's /responses", () => {
  it("gets a non-streamed response with reasoning before the message", async () => {
    const openai = await client();
    const response = await openai.responses.create({
      model: "deepseek-v4-flash",
      instructions: "You are terse.",
      input: "Hello there",
    });
    expect(response.status).toBe("completed");
    expect(response.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    expect(response.output_text.length).toBeGreaterThan(0);
    expect(response.usage?.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    // DeepSeek is stateless: it says so on every response.
    expect((response as unknown as { store: boolean }).store).toBe(false);
  });

  it("streams a response event by event", async () => {
    const openai = await client();
    const stream = await openai.responses.create({
      model: "deepseek-v4-flash",
      input: "Stream to me",
      reasoning: { effort: "none" },
      stream: true,
    });
    let text = "";
    let final: string | undefined;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") {
        const message = event.response.output.find((item) => item.type === "message");
        const part = message?.type === "message" ? message.content[0] : undefined;
        final = part?.type === "output_text" ? part.text : undefined;
      }
    }
    expect(text.length).toBeGreaterThan(0);
    expect(final).toBe(text);
  });

  it("runs a tool loop by sending the output items back as input", async () => {
    const openai = await client();
    const ask = { role: "user" as const, content: "What is the weather in Paris? Use weather." };
    const first = await openai.responses.create({
      model: "deepseek-v4-flash",
      input: [ask],
      tools: [WEATHER],
    });
    const call = first.output.find((item) => item.type === "function_call");
    expect(call?.name).toBe("weather");
    const second = await openai.responses.create({
      model: "deepseek-v4-flash",
      tools: [WEATHER],
      // The output items go back as they came (reasoning and call), as a stateless API needs.
      input: [
        ask,
        ...(first.output as unknown as OpenAI.Responses.ResponseInputItem[]),
        { type: "function_call_output", call_id: call?.call_id ?? "", output: "18C" },
      ],
    });
    expect(second.output_text.length).toBeGreaterThan(0);
  });

  it("refuses a previous_response_id it does not keep instead of losing the conversation", async () => {
    const openai = await client();
    const chained = await openai.responses
      .create({ model: "deepseek-v4-flash", input: "and then?", previous_response_id: "resp_123" })
      .catch((error: unknown) => error);
    expect(chained).toBeInstanceOf(OpenAI.BadRequestError);
    expect((chained as Error).message).toContain("not found");
    await expect(openai.responses.retrieve("resp_123")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("replays a cached streamed response, and serves it to a non-streaming caller whole", async () => {
    const sim = await createSim();
    const openai = new OpenAI({
      apiKey: ACME_KEY,
      baseURL: "http://router.test/v1",
      fetch: routerFetch(sim.baseUrl),
      maxRetries: 0,
    });
    const body = { model: "deepseek-v4-flash", input: uniquePrompt(), temperature: 0 };
    const { data: stream, response: miss } = await openai.responses
      .create({ ...body, stream: true })
      .withResponse();
    expect(miss.headers.get("x-router-cache")).toBe("MISS");
    let streamed = "";
    for await (const event of stream)
      if (event.type === "response.output_text.delta") streamed += event.delta;
    await storedFrom(miss);
    const { data, response } = await openai.responses.create(body).withResponse();
    expect(response.headers.get("x-router-cache")).toBe("HIT");
    expect(data.output_text).toBe(streamed);
    expect((await sim.stats()).requests).toBe(1);
  });

  it("records usage from the final response, once", async () => {
    const openai = await client();
    const requestId = `responses-ledger-${crypto.randomUUID()}`;
    const response = await openai.responses.create(
      { model: "deepseek-v4-flash", input: "Count me" },
      { headers: { "x-request-id": requestId } },
    );
    const entry = await ledgerEntry(requestId);
    expect(entry).toMatchObject({ outcome: "complete", status: 200, estimated: false });
    expect(entry.usage.promptTokens).toBe(response.usage?.input_tokens);
    expect(entry.usage.completionTokens).toBe(response.usage?.output_tokens);
  });

  it("raises an APIError when the stream breaks mid-way", async () => {
    const openai = await client({ faultScript: [{ kind: "cutMidStream", afterChunks: 5 }] });
    const stream = await openai.responses.create({
      model: "deepseek-v4-flash",
      input: "Stream",
      stream: true,
    });
    const consume = async () => {
      for await (const _ of stream) {
        // drain
      }
    };
    await expect(consume()).rejects.toBeInstanceOf(OpenAI.APIError);
  });
});
