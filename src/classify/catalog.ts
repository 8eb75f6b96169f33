import { AUTO_MODEL } from "../config/models";
import type { Policy } from "../config/policy";
import { DEEPSEEK_PRICES, type PricePeriod } from "../config/prices";
import type { Usage } from "../usage";
import { costUsd, ratesAt } from "./price";

const served = new WeakMap<Policy, Set<string>>();

/** Every model name a caller may use under this policy: served models, aliases and `auto`. */
export function servedModels(policy: Policy): Set<string> {
  let models = served.get(policy);
  if (!models) {
    models = new Set([AUTO_MODEL, ...Object.keys(policy.aliases)]);
    for (const pool of Object.values(policy.pools))
      for (const model of Object.keys(pool.models)) if (model !== "*") models.add(model);
    served.set(policy, models);
  }
  return models;
}

/** A model's price periods: a pool's override if any pool has one, else DeepSeek's published prices. */
/** What `usage` of `model` costs at the prices in force at `now`; 0 for a model with no price. */
export function usageCostUsd(policy: Policy, model: string, usage: Usage, now: number): number {
  const rates = ratesAt(modelPrices(policy, model), now);
  if (!rates) return 0;
  return costUsd(
    {
      cacheHitTokens: usage.cacheHitTokens,
      cacheMissTokens: usage.cacheMissTokens,
      outputTokens: usage.completionTokens,
    },
    rates.rates,
  );
}

export function modelPrices(policy: Policy, model: string): readonly PricePeriod[] {
  for (const pool of Object.values(policy.pools)) {
    const override = pool.prices?.[model];
    if (override) return override;
  }
  return DEEPSEEK_PRICES[model] ?? [];
}
