import OpenAI, { type APIError } from "openai";
import { describe, expect, it } from "vitest";
import { ACME_KEY, GLOBEX_KEY } from "../../fixtures/tenants";
import { createSim, eventually, openaiClient } from "../helpers";
import { untilDone } from "./support";

const MODEL = "deepseek-v4-flash";

async function textOf(stream: AsyncIterable<OpenAI.Responses.ResponseStreamEvent>, upTo = Infinity) {
  let text = "";
  let last = -1;
  let deltas = 0;
  for await (const event of stream) {
    last = event.sequence_number;
    if (event.type === "response.output_text.delta") {
      text += event.delta;
      deltas += 1;
      if (deltas >= upTo) break;
    }
  }
  return { text, last };
}

describe("Responses background mode, through the openai SDK", () => {
  it("answers at once with a queued response that completes without any client", async () => {
    const sim = await createSim({ ttftMs: 50, tokensPerS: 400 });
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const created = await openai.responses.create({
      model: MODEL,
      input: "Tell me a long story.",
      reasoning: { effort: "none" },
      background: true,
    });
    expect(created.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(["queued", "in_progress"]).toContain(created.status);
    expect(created.background).toBe(true);
    const done = await untilDone(openai, created.id);
    expect(done.status).toBe("completed");
    expect(done.id).toBe(created.id);
    expect(done.output_text.length).toBeGreaterThan(0);
    expect(done.usage?.output_tokens).toBeGreaterThan(0);
    expect((await sim.stats()).requests).toBe(1);
  });

  it("resumes the event stream after a dropped connection: the text equals an uninterrupted run", async () => {
    const sim = await createSim({ ttftMs: 20, tokensPerS: 200, minAnswerTokens: 60, maxAnswerTokens: 80 });
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const created = await openai.responses.create({
      model: MODEL,
      input: "Stream a long answer.",
      reasoning: { effort: "none" },
      background: true,
    });
    // A client reads a few deltas, then its connection drops.
    const first = await textOf(await openai.responses.retrieve(created.id, { stream: true }), 5);
    expect(first.text.length).toBeGreaterThan(0);
    const rest = await textOf(
      await openai.responses.retrieve(created.id, { stream: true, starting_after: first.last }),
    );
    const whole = await textOf(await openai.responses.retrieve(created.id, { stream: true }));
    const done = await openai.responses.retrieve(created.id);
    expect(done.status).toBe("completed");
    expect(first.text + rest.text).toBe(whole.text);
    expect(whole.text).toBe(done.output_text);
    expect(rest.last).toBe(whole.last);
  });

  it("cancels a running response: the upstream call stops and the response says cancelled", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 20, minAnswerTokens: 400, maxAnswerTokens: 400 });
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const created = await openai.responses.create({
      model: MODEL,
      input: "A very long answer, please.",
      reasoning: { effort: "none" },
      background: true,
    });
    await eventually(async () => expect((await sim.stats()).inFlight).toBe(1));
    const cancelled = await openai.responses.cancel(created.id);
    expect(cancelled.status).toBe("cancelled");
    await eventually(async () => expect((await sim.stats()).aborted).toBe(1));
    expect((await openai.responses.retrieve(created.id)).status).toBe("cancelled");
  });

  it("tells a refusal by the pipeline: failed with its code in background, its status in the foreground", async () => {
    const openai = openaiClient(ACME_KEY, (await createSim()).baseUrl);
    const unknown = { model: "no-such-model", input: "Hi" };
    const created = await openai.responses.create({ ...unknown, background: true });
    const failed = await untilDone(openai, created.id);
    expect(failed.status).toBe("failed");
    expect(failed.error?.code).toBe("model_not_found");
    const foreground = await openai.responses.create({ ...unknown, store: true }).catch((e: unknown) => e);
    expect(foreground).toBeInstanceOf(OpenAI.BadRequestError);
    expect((foreground as APIError).code).toBe("model_not_found");
  });

  it("deletes a response, and another tenant never sees one", async () => {
    const sim = await createSim();
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const other = openaiClient(GLOBEX_KEY, sim.baseUrl);
    const created = await openai.responses.create({ model: MODEL, input: "Hi", background: true });
    await untilDone(openai, created.id);
    await expect(other.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(other.responses.cancel(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(other.responses.delete(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await openai.responses.delete(created.id);
    await expect(openai.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
