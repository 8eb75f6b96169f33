import { describe, expect, it } from "vitest";
import { createSim } from "../helpers";
import { call, frontendTenant, mint } from "./support";

const COUNT = "/anthropic/v1/messages/count_tokens";
const question = (model: string) => ({ model, messages: [{ role: "user", content: "How many tokens?" }] });

/**
 * A frontend token lives in a browser, where anyone can copy it: its token counts never reach the
 * upstream (which would spend the router's DeepSeek key with no limit to bound it), and its model list
 * holds as it does for inference.
 */
describe("count_tokens with a frontend token", () => {
  it("answers with the router's estimate and sends nothing upstream", async () => {
    const sim = await createSim();
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: "alice" });
    const before = (await sim.stats()).requests;
    for (let i = 0; i < 3; i++) {
      const response = await call(
        tenants,
        COUNT,
        { key: token, json: question("deepseek-v4-flash") },
        {},
        sim.baseUrl,
      );
      expect(response.status).toBe(200);
      expect(response.headers.get("x-router-token-count")).toBe("estimate");
      expect(((await response.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    }
    expect((await sim.stats()).requests).toBe(before);
  });

  it("refuses a model the token does not allow, in Anthropic's envelope", async () => {
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: "alice", models: ["deepseek-v4-flash"] });
    const response = await call(tenants, COUNT, { key: token, json: question("deepseek-v4-pro") });
    expect(response.status).toBe(403);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe("error");
    expect(body.error.message).toContain("not allowed");
  });

  it("still asks DeepSeek for a server key's count", async () => {
    const sim = await createSim();
    const { key, tenants } = await frontendTenant();
    const response = await call(
      tenants,
      COUNT,
      { key, json: question("deepseek-v4-flash") },
      {},
      sim.baseUrl,
    );
    expect(response.headers.get("x-router-token-count")).toBe("upstream");
  });
});
