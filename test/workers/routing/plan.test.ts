import { describe, expect, it } from "vitest";
import { classify, type InferenceRequest } from "../../../src/classify/classify";
import type { Policy } from "../../../src/config/policy";
import { type PoolAvailability, planRoute } from "../../../src/routing/plan";
import type { ChatRequest } from "../../../src/schema/chat";
import { multiProviderPolicy, policyOf, TENANT } from "../policy-fixtures";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const everyPool: PoolAvailability = () => true;

function plan(
  body: Record<string, unknown>,
  policy: Policy,
  available: PoolAvailability = everyPool,
  degrade = false,
) {
  const request: InferenceRequest = {
    endpoint: "chat",
    body: { model: "deepseek-v4-flash", messages: [{ role: "user", content: "hi" }], ...body } as ChatRequest,
  };
  return planRoute(classify(request, {}, TENANT, policy, NOW), policy, available, degrade);
}

describe("planRoute", () => {
  const policy = multiProviderPolicy();

  it("puts the primary first and fallbacks serving the same model after it", () => {
    const route = plan({ thinking: { type: "disabled" } }, policy);
    expect(route.steps.map((s) => s.pool)).toEqual(["deepseek-flash", "fireworks-flash"]);
    expect(route.steps[1]).toMatchObject({
      provider: "openai-compatible",
      upstreamModel: "accounts/fireworks/models/deepseek-v4-flash",
    });
    expect(route.reason).toContain("pool deepseek-flash");
  });

  it("routes a model only to pools that serve it", () => {
    expect(plan({ model: "deepseek-v4-pro" }, policy).steps.map((s) => s.pool)).toEqual(["deepseek-pro"]);
  });

  it("skips a pool whose circuit is open and says so", () => {
    const route = plan({ thinking: { type: "disabled" } }, policy, (pool) => pool !== "deepseek-flash");
    expect(route.steps.map((s) => s.pool)).toEqual(["fireworks-flash"]);
    expect(route.ejected).toEqual(["deepseek-flash"]);
    expect(route.reason).toContain("circuit open: deepseek-flash");
  });

  it("degrades only when allowed: pro to flash, reasoning to chat", () => {
    const closedPro = (pool: string) => pool !== "deepseek-pro";
    expect(
      plan({ model: "deepseek-v4-pro", thinking: { type: "disabled" } }, policy, closedPro).steps,
    ).toEqual([]);
    const degraded = plan(
      { model: "deepseek-v4-pro", thinking: { type: "disabled" } },
      policy,
      closedPro,
      true,
    );
    expect(degraded.steps[0]).toMatchObject({
      pool: "deepseek-flash",
      model: "deepseek-v4-flash",
      degraded: "deepseek-v4-pro served by deepseek-v4-flash",
    });

    const reasoning = plan(
      { thinking: { type: "enabled" } },
      policy,
      (pool) => pool === "deepseek-pro",
      true,
    );
    expect(reasoning.steps).toEqual([]);
    const toChat = plan(
      { model: "deepseek-v4-pro", thinking: { type: "enabled" } },
      policy,
      (pool) => pool !== "deepseek-pro",
      true,
    );
    expect(toChat.steps[0]).toMatchObject({ pool: "deepseek-flash", disableThinking: false });
  });

  it("serves a reasoning request without thinking when degraded to chat", () => {
    const route = plan({ thinking: { type: "enabled" } }, policy, (pool) => pool !== "deepseek-flash", true);
    expect(
      route.steps.some((s) => s.disableThinking && s.degraded === "reasoning served without thinking"),
    ).toBe(true);
  });

  it("sends images to a vision-capable pool, falling back to the self-hosted VL2", () => {
    const route = plan(
      {
        model: "deepseek-flash",
        thinking: { type: "disabled" },
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:," } }] }],
      },
      policy,
    );
    expect(route.steps.map((s) => s.pool)).toEqual(["deepseek-flash", "vllm-vl2"]);
    expect(route.steps[1]?.upstreamModel).toBe("deepseek-ai/deepseek-vl2");
  });

  it("400s images when no vision-capable pool serves the model", () => {
    expect(() =>
      plan(
        {
          model: "deepseek-v4-pro",
          messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:," } }] }],
        },
        policyOf(),
      ),
    ).toThrowError(
      expect.objectContaining({
        status: 400,
        code: "unroutable",
        message: expect.stringContaining("vision"),
      }),
    );
  });

  it("400s tool calls when the only pool lacks tools", () => {
    const noTools = policyOf({
      pools: {
        only: {
          provider: "deepseek",
          targets: [{ name: "d", baseUrl: "https://x.test", keySecret: "K" }],
          models: { "deepseek-v4-flash": "deepseek-v4-flash" },
          capabilities: ["thinking"],
          concurrency: 1,
        },
      },
      routes: { chat: ["only"], code: ["only"], reasoning: ["only"] },
    });
    expect(() =>
      plan(
        { thinking: { type: "disabled" }, tools: [{ type: "function", function: { name: "f" } }] },
        noTools,
      ),
    ).toThrowError(
      expect.objectContaining({
        status: 400,
        param: "tools",
        message: expect.stringContaining("tool calls"),
      }),
    );
  });
});
