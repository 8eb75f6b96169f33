import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { defaultPolicy } from "../../../src/config/default-policy";
import { POLICY_KV_KEY, parsePolicy, resetPolicyCache } from "../../../src/config/policy-source";
import worker from "../../../src/index";
import { callRouter } from "../helpers";

const base = () => JSON.parse(JSON.stringify(defaultPolicy("https://api.deepseek.com")));
const secrets = { DEEPSEEK_API_KEY: "sk-x", FIREWORKS_API_KEY: "fw-x" };

function errorsOf(policy: unknown): string[] {
  const result = parsePolicy(policy, "ROUTER_POLICY", secrets);
  return result.ok ? [] : result.errors;
}

describe("policy validation names the bad field", () => {
  it("accepts the default policy", () => {
    expect(errorsOf(base())).toEqual([]);
  });

  it.each<[string, (p: ReturnType<typeof base>) => void, string]>([
    [
      "a route to an unknown pool",
      (p) => p.routes.chat.push("nowhere"),
      "ROUTER_POLICY.routes.chat.2: unknown pool 'nowhere'",
    ],
    ["an empty route", (p) => (p.routes.code = []), "ROUTER_POLICY.routes.code"],
    [
      "a pool without targets",
      (p) => (p.pools["deepseek-pro"].targets = []),
      "ROUTER_POLICY.pools.deepseek-pro.targets",
    ],
    [
      "a target without baseUrl",
      (p) => delete p.pools["deepseek-pro"].targets[0].baseUrl,
      "ROUTER_POLICY.pools.deepseek-pro.targets.0: a deepseek target needs baseUrl and keySecret",
    ],
    [
      "a caller-style URL",
      (p) => (p.pools["deepseek-pro"].targets[0].baseUrl = "ftp://x"),
      "ROUTER_POLICY.pools.deepseek-pro.targets.0.baseUrl",
    ],
    [
      "a bad secret name",
      (p) => (p.pools["deepseek-pro"].targets[0].keySecret = "my key"),
      "ROUTER_POLICY.pools.deepseek-pro.targets.0.keySecret",
    ],
    [
      "a missing secret",
      (p) => (p.pools["deepseek-pro"].targets[0].keySecret = "NOT_SET_ANYWHERE"),
      "secret NOT_SET_ANYWHERE is not set",
    ],
    [
      "a zero ceiling",
      (p) => (p.pools["deepseek-pro"].concurrency = 0),
      "ROUTER_POLICY.pools.deepseek-pro.concurrency",
    ],
    [
      "an unknown provider",
      (p) => (p.pools["deepseek-pro"].provider = "bedrock"),
      "ROUTER_POLICY.pools.deepseek-pro.provider",
    ],
    [
      "an unknown capability",
      (p) => p.pools["deepseek-pro"].capabilities.push("telepathy"),
      "ROUTER_POLICY.pools.deepseek-pro.capabilities",
    ],
    ["no models", (p) => (p.pools["deepseek-pro"].models = {}), "ROUTER_POLICY.pools.deepseek-pro.models"],
    [
      "an alias to nothing",
      (p) => (p.aliases = { fast: "gpt-9" }),
      "ROUTER_POLICY.aliases.fast: 'gpt-9' is not served by any pool",
    ],
    [
      "a bad price period",
      (p) => (p.pools["deepseek-pro"].prices = { "deepseek-v4-pro": [{ from: "soon", offPeak: {} }] }),
      "ROUTER_POLICY.pools.deepseek-pro.prices.deepseek-v4-pro.0.from",
    ],
    [
      "a bad selection",
      (p) => (p.pools["deepseek-pro"].selection = "random"),
      "ROUTER_POLICY.pools.deepseek-pro.selection",
    ],
    [
      "a bad pool name",
      (p) => (p.pools["Bad Pool"] = p.pools["deepseek-pro"]),
      "ROUTER_POLICY.pools.Bad Pool",
    ],
  ])("rejects %s", (_, mutate, expected) => {
    const policy = base();
    mutate(policy);
    expect(errorsOf(policy).join("\n")).toContain(expected);
  });
});

describe("policy sources", () => {
  beforeEach(() => resetPolicyCache());

  it("an invalid ROUTER_POLICY refuses traffic and /healthz names the field", async () => {
    const broken = {
      ...env,
      ROUTER_POLICY: JSON.stringify({ pools: {}, routes: { chat: ["x"], code: ["x"], reasoning: ["x"] } }),
    };
    const health = await worker.fetch(new Request("http://router.test/healthz"), broken);
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toContain("ROUTER_POLICY.routes.chat.0");
    resetPolicyCache();
    const models = await worker.fetch(
      new Request("http://router.test/v1/models", {
        headers: { authorization: "Bearer sk-router-acme-0000000000000000" },
      }),
      broken,
    );
    expect(models.status).toBe(503);
  });

  it("hot-reloads a policy from KV, and a bad one is rejected loudly while the deployed policy serves", async () => {
    const custom = base();
    custom.aliases = { speedy: "deepseek-flash" };
    await env.CACHE.put(POLICY_KV_KEY, JSON.stringify(custom));
    const models = (await (await callRouter("/v1/models")).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toContain("speedy");

    resetPolicyCache();
    await env.CACHE.put(POLICY_KV_KEY, "{ not json");
    const health = await callRouter("/healthz", { key: null });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: "degraded",
      policy: "default",
      rejected: ["kv:config:policy: not valid JSON"],
    });
    expect((await callRouter("/v1/models")).status).toBe(200);
    await env.CACHE.delete(POLICY_KV_KEY);
    resetPolicyCache();
  });
});
