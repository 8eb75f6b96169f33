import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { ACME_KEY } from "../fixtures/tenants";
import { createSim, openaiClient, routerFetch } from "./helpers";

async function client(options: Record<string, unknown> = {}): Promise<OpenAI> {
  return openaiClient(ACME_KEY, (await createSim(options)).baseUrl);
}

describe("the official openai client, with only baseURL and key changed", () => {
  it("gets a non-streamed completion", async () => {
    const openai = await client();
    const completion = await openai.chat.completions.create({
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: "Hello" }],
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it("streams a completion chunk by chunk", async () => {
    const openai = await client();
    const stream = await openai.chat.completions.create({
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: "Stream to me" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let chunks = 0;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe("stop");
  });

  it("lists models", async () => {
    const openai = await client();
    const ids = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    expect(ids).toContain("deepseek-v4-pro");
  });

  it("retrieves a model, and raises NotFoundError for one the router does not serve", async () => {
    const openai = await client();
    expect(await openai.models.retrieve("deepseek-v4-flash")).toEqual({
      id: "deepseek-v4-flash",
      object: "model",
      owned_by: "deepseek",
    });
    const error = await openai.models.retrieve("gpt-4o").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
  });

  it("raises the typed error for a bad request", async () => {
    const openai = await client();
    const error = await openai.chat.completions
      .create({ model: "deepseek-chat", messages: [{ role: "user", content: "hi" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("Model Not Exist");
  });

  it("raises AuthenticationError for a wrong router key", async () => {
    const sim = await createSim();
    const openai = new OpenAI({
      apiKey: "sk-wrong",
      baseURL: "http://router.test/v1",
      fetch: routerFetch(sim.baseUrl),
      maxRetries: 0,
    });
    await expect(openai.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("raises an error, not a silently short answer, when the stream breaks mid-way", async () => {
    const openai = await client({ faultScript: [{ kind: "cutMidStream", afterChunks: 3 }] });
    const stream = await openai.chat.completions.create({
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: "Stream to me" }],
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
