import type { PolicyInput } from "./policy";

const ALL = ["tools", "fim", "thinking", "json"] as const;

/**
 * The policy a deployment gets without `ROUTER_POLICY`: DeepSeek's own API as two pools, because
 * DeepSeek caps concurrency per model per account (flash 2500, v4-pro 500).
 */
export function defaultPolicy(deepseekBaseUrl: string): PolicyInput {
  const deepseek = { name: "deepseek", baseUrl: deepseekBaseUrl, keySecret: "DEEPSEEK_API_KEY" };
  return {
    pools: {
      "deepseek-flash": {
        provider: "deepseek",
        targets: [deepseek],
        models: { "deepseek-flash": "deepseek-flash", "deepseek-v4-flash": "deepseek-v4-flash" },
        capabilities: [...ALL, "vision"],
        concurrency: 2500,
      },
      "deepseek-pro": {
        provider: "deepseek",
        targets: [deepseek],
        models: { "deepseek-v4-pro": "deepseek-v4-pro" },
        capabilities: [...ALL],
        concurrency: 500,
      },
    },
    routes: {
      chat: ["deepseek-flash", "deepseek-pro"],
      code: ["deepseek-flash", "deepseek-pro"],
      reasoning: ["deepseek-flash", "deepseek-pro"],
      vision: ["deepseek-flash"],
    },
  };
}
