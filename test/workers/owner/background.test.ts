import { env } from "cloudflare:workers";
import OpenAI, { type APIError } from "openai";
import { describe, expect, it } from "vitest";
import { ACME_KEY, GLOBEX_KEY } from "../../fixtures/tenants";
import { createSim, eventually, openaiClient } from "../helpers";
import { limitedTenant } from "../tenancy/support";
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
    // Cancelled once some text has been generated.
    for await (const event of await openai.responses.retrieve(created.id, { stream: true })) {
      if (event.type === "response.output_text.delta") break;
    }
    const cancelled = await openai.responses.cancel(created.id);
    expect(cancelled.status).toBe("cancelled");
    await eventually(async () => expect((await sim.stats()).aborted).toBe(1));
    expect((await openai.responses.retrieve(created.id)).status).toBe("cancelled");
    // What was generated before the cancel is billed, and the response says how much.
    let usage: OpenAI.Responses.ResponseUsage | null | undefined;
    await eventually(async () => {
      usage = (await openai.responses.retrieve(created.id)).usage;
      expect(usage?.output_tokens).toBeGreaterThan(0);
    });
    const booked = (await env.TENANT_LEDGER.getByName("acme").entries(created.id)).filter(
      (entry) => entry.entryId === `owned:${created.id}`,
    );
    expect(booked).toHaveLength(1);
    expect(usage?.output_tokens).toBe(booked[0]?.usage.completionTokens);
    expect(usage?.input_tokens).toBe(booked[0]?.usage.promptTokens);
  });

  it("refuses an unknown model at create with a plain request's error, keeping nothing", async () => {
    const sim = await createSim();
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const unknown = { model: "no-such-model", input: "Hi" };
    const keptBefore = await env.TENANT_ANSWERS.getByName("acme").usage();
    const plain = await sim.call("/v1/responses", { json: unknown });
    expect(plain.status).toBe(400);
    const plainBody = await plain.json();
    for (const kept of [{ background: true }, { store: true }, { background: true, stream: true }]) {
      const refused = await sim.call("/v1/responses", { json: { ...unknown, ...kept } });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual(plainBody);
    }
    const viaSdk = await openai.responses.create({ ...unknown, background: true }).catch((e: unknown) => e);
    expect(viaSdk).toBeInstanceOf(OpenAI.BadRequestError);
    expect((viaSdk as APIError).code).toBe("model_not_found");
    // Nothing was kept or counted, and nothing reached DeepSeek.
    expect(await env.TENANT_ANSWERS.getByName("acme").usage()).toEqual(keptBefore);
    expect((await sim.stats()).requests).toBe(0);
  });

  it("refuses at create what the key's limits refuse: a model it may not use, output over its cap", async () => {
    const sim = await createSim();
    const limited = await limitedTenant({ models: ["deepseek-v4-pro"], maxTokens: 50 });
    const asLimited = (json: Record<string, unknown>) =>
      sim.call("/v1/responses", { json, key: limited.key }, { ROUTER_TENANTS: limited.tenants });
    const cases = [
      { status: 403, body: { model: MODEL, input: "Hi", max_output_tokens: 10 } },
      { status: 400, body: { model: "deepseek-v4-pro", input: "Hi", max_output_tokens: 500 } },
    ];
    for (const { status, body } of cases) {
      const plain = await asLimited(body);
      const background = await asLimited({ ...body, background: true });
      expect(plain.status).toBe(status);
      expect(background.status).toBe(status);
      expect(await background.json()).toEqual(await plain.json());
    }
    expect(await env.TENANT_ANSWERS.getByName(limited.id).usage()).toEqual({ count: 0, bytes: 0 });
    expect((await sim.stats()).requests).toBe(0);
  });

  it("ends a followed stream that is cancelled with its terminal event, sequence numbers running on", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 20, minAnswerTokens: 400, maxAnswerTokens: 400 });
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const stream = await openai.responses.create({
      model: MODEL,
      input: "A very long answer, please.",
      reasoning: { effort: "none" },
      background: true,
      stream: true,
    });
    const created: OpenAI.Responses.ResponseStreamEvent[] = [];
    let follower: AsyncIterable<OpenAI.Responses.ResponseStreamEvent> | undefined;
    for await (const event of stream) {
      created.push(event);
      if (event.type !== "response.output_text.delta" || follower) continue;
      const id = created.find((e) => e.type === "response.created")?.response.id ?? "";
      // A second reader follows it by id; then the response is cancelled under both.
      follower = await openai.responses.retrieve(id, { stream: true });
      expect((await openai.responses.cancel(id)).status).toBe("cancelled");
    }
    const followed: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of follower ?? []) followed.push(event);
    for (const events of [created, followed]) {
      const numbers = events.map((event) => event.sequence_number);
      expect(numbers).toEqual(numbers.map((_, index) => index));
      const last = events.at(-1);
      expect(last?.type).toBe("response.incomplete");
      expect(last?.type === "response.incomplete" && last.response.status).toBe("cancelled");
    }
    expect(followed).toEqual(created);
    await eventually(async () => expect((await sim.stats()).aborted).toBe(1));
  });

  it("lets the SDK's stream helper finish a cancelled response with its cancelled status", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 20, minAnswerTokens: 400, maxAnswerTokens: 400 });
    const openai = openaiClient(ACME_KEY, sim.baseUrl);
    const stream = openai.responses.stream({
      model: MODEL,
      input: "A very long answer, please.",
      reasoning: { effort: "none" },
      background: true,
    });
    let id = "";
    for await (const event of stream) {
      if (event.type === "response.created") id = event.response.id;
      if (event.type === "response.output_text.delta" && id) {
        await openai.responses.cancel(id);
        id = "";
      }
    }
    expect((await stream.finalResponse()).status).toBe("cancelled");
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
