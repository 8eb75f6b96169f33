import { describe, expect, it } from "vitest";
import { chatBody, createSim, errorOf } from "../helpers";
import { limitedTenant } from "./support";

const CHAT = "/v1/chat/completions";

/**
 * A key's (or a frontend token's) output cap holds whichever name the caller gives the output limit:
 * the openai SDK's newer `max_completion_tokens` is not a way around `maxTokens`. A refusal names the
 * field as the caller's surface calls it.
 */
describe("the max_tokens cap against max_completion_tokens", () => {
  it("refuses a max_completion_tokens above the cap with a 400 naming it", async () => {
    const sim = await createSim();
    const { key, tenants } = await limitedTenant({ maxTokens: 64 });
    const before = (await sim.stats()).recent.length;
    const over = await sim.call(
      CHAT,
      { key, json: chatBody({ max_completion_tokens: 5_000 }) },
      { ROUTER_TENANTS: tenants },
    );
    expect(over.status).toBe(400);
    expect(await errorOf(over)).toMatchObject({ code: "invalid_request", param: "max_completion_tokens" });
    expect((await sim.stats()).recent.length).toBe(before);
  });

  it("passes one within the cap, sent with the cap as max_tokens", async () => {
    const sim = await createSim();
    const { key, tenants } = await limitedTenant({ maxTokens: 64 });
    const within = await sim.call(
      CHAT,
      { key, json: chatBody({ max_completion_tokens: 32 }) },
      { ROUTER_TENANTS: tenants },
    );
    expect(within.status).toBe(200);
    const sent = (await sim.stats()).recent.at(-1)?.body as Record<string, unknown>;
    expect(sent).toMatchObject({ max_completion_tokens: 32, max_tokens: 64 });
  });
});

describe("the max_tokens cap on the other surfaces", () => {
  it("refuses a Responses max_output_tokens above the cap naming max_output_tokens, stored or not", async () => {
    const sim = await createSim();
    const { key, tenants } = await limitedTenant({ maxTokens: 64 });
    const ask = { model: "deepseek-v4-flash", input: "Hi", max_output_tokens: 100 };
    for (const json of [ask, { ...ask, store: true }, { ...ask, background: true }]) {
      const over = await sim.call("/v1/responses", { key, json }, { ROUTER_TENANTS: tenants });
      expect(over.status).toBe(400);
      expect(await errorOf(over)).toMatchObject({
        code: "invalid_request",
        param: "max_output_tokens",
        message: "max_output_tokens is 100; this key allows at most 64.",
      });
    }
    expect((await sim.stats()).requests).toBe(0);
  });

  it("refuses an Anthropic max_tokens above the cap naming max_tokens, its own field", async () => {
    const sim = await createSim();
    const { key, tenants } = await limitedTenant({ maxTokens: 64 });
    const over = await sim.call(
      "/anthropic/v1/messages",
      {
        key: null,
        json: { model: "deepseek-v4-flash", max_tokens: 100, messages: [{ role: "user", content: "Hi" }] },
        headers: { "x-api-key": key, "anthropic-version": "2023-06-01" },
      },
      { ROUTER_TENANTS: tenants },
    );
    expect(over.status).toBe(400);
    expect(await over.json()).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: "max_tokens is 100; this key allows at most 64." },
    });
    expect((await sim.stats()).requests).toBe(0);
  });
});
