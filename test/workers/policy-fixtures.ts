import { defaultPolicy } from "../../src/config/default-policy";
import { type Policy, type PolicyInput, policySchema } from "../../src/config/policy";
import type { Tenant } from "../../src/config/tenants";

export const TENANT: Tenant = {
  id: "acme",
  keys: ["0".repeat(64)],
  maxPriority: "high",
  allowDegrade: false,
};

export function policyOf(input: PolicyInput = defaultPolicy("https://api.deepseek.com")): Policy {
  return policySchema.parse(input);
}

/** The default DeepSeek pools plus a Fireworks fallback for flash and a self-hosted vision pool. */
export function multiProviderPolicy(): Policy {
  const base = defaultPolicy("https://api.deepseek.com");
  return policyOf({
    ...base,
    pools: {
      ...base.pools,
      "fireworks-flash": {
        provider: "openai-compatible",
        targets: [
          {
            name: "fireworks",
            baseUrl: "https://api.fireworks.ai/inference/v1",
            keySecret: "FIREWORKS_API_KEY",
          },
        ],
        models: { "deepseek-v4-flash": "accounts/fireworks/models/deepseek-v4-flash" },
        capabilities: ["tools", "json", "thinking"],
        concurrency: 100,
      },
      "vllm-vl2": {
        provider: "openai-compatible",
        targets: [{ name: "vllm", baseUrl: "http://vl2.internal:8000/v1", keySecret: "VLLM_API_KEY" }],
        models: { "*": "deepseek-ai/deepseek-vl2" },
        capabilities: ["vision"],
        concurrency: 8,
      },
    },
    routes: {
      chat: ["deepseek-flash", "deepseek-pro", "fireworks-flash"],
      code: ["deepseek-flash", "deepseek-pro"],
      reasoning: ["deepseek-flash", "deepseek-pro", "fireworks-flash"],
      vision: ["deepseek-flash", "vllm-vl2"],
    },
  });
}
