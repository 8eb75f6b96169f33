import { env } from "cloudflare:workers";
import OpenAI, { type APIError } from "openai";
import { describe, expect, it } from "vitest";
import { chatBody, createSim, eventually, type SimInstance, singlePoolPolicy } from "../helpers";
import { clientWith } from "./support";

/** A one-slot pool whose slot a plain stream holds: a call that may not wait for it is shed. */
async function fullPool(sim: SimInstance) {
  const policy = singlePoolPolicy(sim.baseUrl, {
    concurrency: 1,
    admission: { leaseBlocks: false, adaptive: false },
  });
  const vars = { ROUTER_POLICY: policy };
  const holder = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true }) }, vars);
  const reader = (holder.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  return { vars, release: () => reader.cancel() };
}

const NO_WAIT = { "x-router-max-wait-ms": "0" };

/**
 * A kept answer the pipeline refuses before it produced anything (here: the pool is full and the
 * caller may not wait) is answered as a plain request is: the refusal's own status, Retry-After and
 * error, so an SDK retries a shed as it would any 429. Nothing is kept, and the quota is untouched.
 */
describe("a kept answer refused before its first event", () => {
  it("answers a resumable chat stream with the plain request's 429, keeping nothing", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 20, minAnswerTokens: 60, maxAnswerTokens: 60 });
    const { vars, release } = await fullPool(sim);
    const keptBefore = await env.TENANT_ANSWERS.getByName("acme").usage();
    const stream = chatBody({ stream: true });
    const plain = await sim.call("/v1/chat/completions", { json: stream, headers: NO_WAIT }, vars);
    const kept = await sim.call(
      "/v1/chat/completions",
      { json: stream, headers: { ...NO_WAIT, "x-router-resumable": "on" } },
      vars,
    );
    expect(kept.status).toBe(429);
    expect(kept.headers.get("retry-after")).toBe(plain.headers.get("retry-after"));
    expect(kept.headers.get("x-router-stream-id")).toBeNull();
    expect(await kept.json()).toEqual(await plain.json());

    const openai = clientWith(sim.baseUrl, vars);
    const viaSdk = await openai.chat.completions
      .create(
        { model: "deepseek-v4-flash", messages: [{ role: "user", content: "Hi" }], stream: true },
        { headers: { ...NO_WAIT, "x-router-resumable": "on" } },
      )
      .catch((error: unknown) => error);
    expect(viaSdk).toBeInstanceOf(OpenAI.RateLimitError);
    expect((viaSdk as APIError).code).toBe("pool_saturated");
    expect(await env.TENANT_ANSWERS.getByName("acme").usage()).toEqual(keptBefore);
    await release();
  });

  it("answers a stored Response, streamed or not, with the 429 too; a background one fails on its object", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 20, minAnswerTokens: 60, maxAnswerTokens: 60 });
    const { vars, release } = await fullPool(sim);
    const openai = clientWith(sim.baseUrl, vars);
    const keptBefore = await env.TENANT_ANSWERS.getByName("acme").usage();
    const ask = { model: "deepseek-v4-flash", input: "Hi", reasoning: { effort: "none" as const } };
    for (const stream of [true, false]) {
      const refused = await openai.responses
        .create({ ...ask, store: true, stream }, { headers: NO_WAIT })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
      expect((refused as APIError).headers?.get("retry-after")).toMatch(/^\d+$/);
    }
    expect(await env.TENANT_ANSWERS.getByName("acme").usage()).toEqual(keptBefore);

    // Its id was handed out at once, so the refusal shows on the object.
    const background = await openai.responses.create({ ...ask, background: true }, { headers: NO_WAIT });
    await expect
      .poll(async () => (await openai.responses.retrieve(background.id)).status, { timeout: 10_000 })
      .toBe("failed");
    expect((await openai.responses.retrieve(background.id)).error?.code).toBe("pool_saturated");
    await release();
  });

  it("takes the call along when its caller leaves before it was handed the id", async () => {
    const sim = await createSim({ ttftMs: 1_500, keepAliveBeforeFirstTokenMs: 50 });
    const keptBefore = await env.TENANT_ANSWERS.getByName("acme").usage();
    const leaving = new AbortController();
    setTimeout(() => leaving.abort(), 200);
    const answer = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true }),
      headers: { "x-router-resumable": "on" },
      signal: leaving.signal,
    });
    expect(answer.headers.get("x-router-stream-id")).toBeNull();
    await eventually(async () => expect((await sim.stats()).aborted).toBe(1));
    expect(await env.TENANT_ANSWERS.getByName("acme").usage()).toEqual(keptBefore);
  });
});
