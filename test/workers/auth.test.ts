import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ACME_KEY, GLOBEX_KEY } from "../fixtures/tenants";
import { callRouter, callWithUpstream, chatBody, createSim, errorOf } from "./helpers";

describe("router keys", () => {
  it("401s a request without a key, in the DeepSeek envelope", async () => {
    const response = await callRouter("/v1/models", { key: null });
    expect(response.status).toBe(401);
    const error = await errorOf(response);
    expect(error).toMatchObject({ type: "authentication_error", code: "unauthorized", param: null });
    expect(error.message).toContain("Authorization: Bearer");
    expect(error.message).toMatch(/^Missing router key/);
  });

  it("says a key sent in another scheme is not a bearer key, rather than missing", async () => {
    const response = await callRouter("/v1/models", {
      key: null,
      headers: { authorization: "Basic c2stbG9jYWw=" },
    });
    expect(response.status).toBe(401);
    expect((await errorOf(response)).message).toMatch(
      /^The Authorization header is not 'Bearer <router key>'/,
    );
  });

  it.each([
    ["an unknown key", "Bearer sk-not-a-router-key"],
    ["a malformed header", "Basic c2stbG9jYWw="],
    ["an empty bearer", "Bearer "],
  ])("401s %s and does not echo it", async (_, authorization) => {
    const response = await callRouter("/v1/chat/completions", {
      key: null,
      headers: { authorization },
      json: chatBody(),
    });
    expect(response.status).toBe(401);
    expect(await response.text()).not.toContain("not-a-router-key");
  });

  it("accepts every configured tenant's key", async () => {
    expect((await callRouter("/v1/models", { key: GLOBEX_KEY })).status).toBe(200);
  });

  it("sends the upstream key upstream and never the caller's router key", async () => {
    const sim = await createSim();
    const response = await sim.call("/v1/chat/completions", { json: chatBody() });
    expect(response.status).toBe(200);
    const [received] = (await sim.stats()).recent;
    expect(received?.authorization).toBe("Bearer sk-test-upstream-0000000000000000");
    const text = await response.text();
    expect(text).not.toContain("sk-test-upstream");
    for (const value of response.headers.values()) expect(value).not.toContain("sk-test-upstream");
  });

  it("forgets a key the moment a new tenant configuration drops it, though the isolate resolved it before", async () => {
    const tenants = JSON.parse(env.ROUTER_TENANTS) as Array<{ id: string }>;
    const withoutGlobex = JSON.stringify(tenants.filter((t) => t.id !== "globex"));
    const call = (key: string, vars: Record<string, string> = {}) =>
      callWithUpstream(env.DEEPSEEK_BASE_URL, "/v1/models", { key }, vars);
    expect((await call(GLOBEX_KEY)).status).toBe(200);
    expect((await call(GLOBEX_KEY)).status).toBe(200);
    expect((await call(GLOBEX_KEY, { ROUTER_TENANTS: withoutGlobex })).status).toBe(401);
    expect((await call(ACME_KEY, { ROUTER_TENANTS: withoutGlobex })).status).toBe(200);
  });
});
