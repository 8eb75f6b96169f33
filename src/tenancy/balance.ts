import { modelPrices } from "../classify/catalog";
import { costUsd, ratesAt } from "../classify/price";
import type { Policy } from "../config/policy";
import { RouterError } from "../errors";
import { type LimitReport, type LimitScopes, limitsReport } from "./enforce";
import type { SpendAuthority } from "./spend-authority";

/** The prompt of the smallest ordinary request: a one-word chat turn with its framing. */
const SMALLEST_PROMPT_TOKENS = 16;

/**
 * What the smallest ordinary request reserves against a dollar budget: a one-word chat turn without
 * `max_tokens` (so the policy's default chat output) on the cheapest model served at `now`. A budget
 * with less left refuses every request a client would send, so it counts as spent.
 */
function smallestRequestUsd(policy: Policy, now: number): number {
  const outputTokens = policy.defaultOutputTokens.chat;
  const costs: number[] = [];
  for (const pool of Object.values(policy.pools)) {
    for (const model of Object.keys(pool.models)) {
      const rates = ratesAt(modelPrices(policy, model), now);
      if (!rates) continue;
      costs.push(
        costUsd({ cacheHitTokens: 0, cacheMissTokens: SMALLEST_PROMPT_TOKENS, outputTokens }, rates.rates),
      );
    }
  }
  return costs.length > 0 ? Math.min(...costs) : 0;
}

/** The tightest dollar budget of a tenant and key, as `/user/balance` and batch creation judge it. */
export interface DollarsLeft {
  /** USD left on the tightest budget (day or month, tenant or key). */
  left: number;
  /** False when that budget cannot cover the smallest request. */
  available: boolean;
  /** The budget that binds, when one does. */
  binding: LimitReport;
  /** What the smallest ordinary request reserves: less left than this counts as spent. */
  smallestUsd: number;
}

/** The binding dollar budget of a tenant and key now (one call to its authority), or undefined when none applies. */
export async function dollarsLeftNow(args: {
  authorities: DurableObjectNamespace<SpendAuthority>;
  scopes: LimitScopes;
  policy: Policy;
  now: number;
}): Promise<DollarsLeft | undefined> {
  const report = await limitsReport(args.authorities, args.scopes, args.now);
  return dollarsLeft(report, smallestRequestUsd(args.policy, args.now));
}

/** The binding dollar budget of `report`, or undefined when no dollar budget applies. */
function dollarsLeft(report: LimitReport[], smallestUsd: number): DollarsLeft | undefined {
  const budgets = report.filter((counter) => counter.kind === "usd-day" || counter.kind === "usd-month");
  const binding = budgets.sort((a, b) => a.remaining - b.remaining)[0];
  if (!binding) return undefined;
  return {
    left: binding.remaining,
    available: binding.remaining >= smallestUsd && binding.remaining > 0,
    binding,
    smallestUsd,
  };
}

/**
 * 402 `budget_exhausted` now for work that would only fail later (a batch's lines, a background answer):
 * the caller learns at once that its budget is spent instead of polling for a failure.
 */
export async function refuseIfSpent(args: Parameters<typeof dollarsLeftNow>[0], what: string): Promise<void> {
  const dollars = await dollarsLeftNow(args);
  if (dollars && !dollars.available) throw budgetSpent(dollars, what);
}

function budgetSpent({ binding, left, smallestUsd }: DollarsLeft, what: string): RouterError {
  const scope = binding.scope === "tenant" ? "tenant" : "key";
  const period = binding.kind === "usd-day" ? "daily" : "monthly";
  const state =
    left >= 0.000_001
      ? `has $${left.toFixed(6)} left, less than the smallest request reserves (about $${smallestUsd.toFixed(6)})`
      : "is spent";
  return new RouterError(
    "budget_exhausted",
    `Insufficient budget: this ${scope}'s ${period} budget of $${binding.limit} ${state}, so ${what}.` +
      ` It resets at ${binding.resetsAt} (UTC).`,
    { headers: { "x-router-budget-reset": binding.resetsAt } },
  );
}
