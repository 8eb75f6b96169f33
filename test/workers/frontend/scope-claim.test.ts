import { describe, expect, it } from "vitest";
import { chatBody, createSim } from "../helpers";
import { call, forge, frontendTenant, mint } from "./support";

const CHAT = "/v1/chat/completions";

/**
 * A token's `scope` claim is read as the router wrote it at mint. One that is not of that shape (a
 * token signed by a key that should not have signed it, or by a router of another version) is a 401
 * naming the claim, never a 500 or a scope read loosely.
 */
describe("a frontend token's scope claim", () => {
  it.each([
    ["models not a list", { models: "deepseek-v4-pro" }],
    ["origins not a list", { origins: "https://evil.example" }],
    ["limits not an object", { limits: 5 }],
    ["a negative max_tokens", { limits: { maxTokens: -1 } }],
    ["a limit of the wrong type", { limits: { requestsPerMinute: "many" } }],
    ["an unknown field", { admin: true }],
    ["a list", ["models"]],
    ["a string", "everything"],
  ])("with %s is refused before upstream", async (_, scope) => {
    const sim = await createSim();
    const { id, tenants } = await frontendTenant();
    const token = await forge({ tid: id, scope });
    const response = await call(tenants, CHAT, { key: token, json: chatBody() }, {}, sim.baseUrl);
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("unauthorized");
    expect(body.error.message).toContain("scope");
    expect((await sim.stats()).requests).toBe(0);
  });

  it("as minted, with every field, still serves", async () => {
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, {
      sub: "alice",
      models: ["deepseek-v4-flash"],
      origins: ["https://app.example"],
      max_tokens: 64,
      limits: { requests_per_minute: 10, tokens_per_minute: 10_000, usd_per_day: 1 },
    });
    const response = await call(tenants, CHAT, { key: token, json: chatBody({ max_tokens: 32 }) });
    expect(response.status).toBe(200);
  });
});
