import type { Classification } from "../classify/classify";
import type { Capability, Policy, PoolSpec, ProviderKind } from "../config/policy";
import { RouterError } from "../errors";

/** One way to serve the request: a pool, the model it runs, and whether that degrades the request. */
export interface PlanStep {
  pool: string;
  provider: ProviderKind;
  /** The router model this step serves. */
  model: string;
  /** The provider's id for it. */
  upstreamModel: string;
  /** Send with thinking disabled (auto chat, or a reasoning request degraded to chat). */
  disableThinking: boolean;
  /** Why this step serves less than was asked, when it does. */
  degraded?: string;
}

export interface RoutePlan {
  /** In order: the primary, then fallbacks, then (only if allowed) degraded steps. */
  steps: PlanStep[];
  /** Primaries skipped because their circuit is open. */
  ejected: string[];
  reason: string;
}

export type PoolAvailability = (pool: string) => boolean;

/**
 * Where a classified request may go, in order. Pure: pool health comes in as `available`.
 * A pool that cannot serve what the request needs is never planned; if none can, the request is
 * unroutable and the caller is told what is missing.
 */
export function planRoute(
  classification: Classification,
  policy: Policy,
  available: PoolAvailability,
  allowDegrade: boolean,
): RoutePlan {
  const { type, model, needs } = classification;
  const serving = poolsServing(policy, policy.routes[type], model, needs);
  if (serving.length === 0) throw unroutable(classification, policy);

  const disableThinking = classification.auto && !classification.thinking;
  const primaries = serving.map((pool) => step(policy, pool, model, { disableThinking }));
  const ejected = primaries.filter((s) => !available(s.pool)).map((s) => s.pool);
  const steps = primaries.filter((s) => available(s.pool));

  if (allowDegrade) steps.push(...degradedSteps(classification, policy).filter((s) => available(s.pool)));
  const head = steps[0];
  const reason = head
    ? routeReason(classification.why, { steps, ejected }, head)
    : `${classification.why}; every pool's circuit is open`;
  return { steps, ejected, reason };
}

/** `x-router-reason` for the step that serves the request: the planned one, or the fallback that answered. */
export function routeReason(
  why: string,
  plan: Pick<RoutePlan, "steps" | "ejected">,
  served: PlanStep,
): string {
  const how = served.degraded
    ? `degraded: ${served.degraded}`
    : served === plan.steps[0]
      ? `pool ${served.pool}`
      : `fell back to pool ${served.pool}`;
  return `${why}; ${how}${plan.ejected.length > 0 ? `; circuit open: ${plan.ejected.join(", ")}` : ""}`;
}

function degradedSteps(classification: Classification, policy: Policy): PlanStep[] {
  const { type, model, needs } = classification;
  const steps: PlanStep[] = [];
  if (type === "reasoning" && policy.degrade.reasoningToChat) {
    const chatNeeds = needs.filter((need) => need !== "thinking");
    for (const pool of poolsServing(policy, policy.routes.chat, model, chatNeeds)) {
      steps.push(
        step(policy, pool, model, { disableThinking: true, degraded: "reasoning served without thinking" }),
      );
    }
  }
  const cheaper = policy.degrade.models[model];
  if (cheaper) {
    for (const pool of poolsServing(policy, policy.routes[type], cheaper, needs)) {
      steps.push(
        step(policy, pool, cheaper, { disableThinking: false, degraded: `${model} served by ${cheaper}` }),
      );
    }
  }
  return steps;
}

function poolsServing(
  policy: Policy,
  pools: readonly string[],
  model: string,
  needs: readonly Capability[],
): string[] {
  return pools.filter((name) => {
    const pool = policy.pools[name];
    return (
      pool !== undefined && serves(pool, model) && needs.every((need) => pool.capabilities.includes(need))
    );
  });
}

function serves(pool: PoolSpec, model: string): boolean {
  return model in pool.models || "*" in pool.models;
}

function step(
  policy: Policy,
  poolName: string,
  model: string,
  options: { disableThinking: boolean; degraded?: string },
): PlanStep {
  const pool = policy.pools[poolName] as PoolSpec;
  return {
    pool: poolName,
    provider: pool.provider,
    model,
    upstreamModel: pool.models[model] ?? pool.models["*"] ?? model,
    disableThinking: options.disableThinking,
    ...(options.degraded ? { degraded: options.degraded } : {}),
  };
}

/** A 400 that says what is missing: no pool of this type, or none with a capability the request needs. */
function unroutable(classification: Classification, policy: Policy): RouterError {
  const { type, model, needs } = classification;
  const pools = policy.routes[type];
  if (pools.length === 0)
    return new RouterError("unroutable", `This router has no pool for ${type} requests.`, { param: "model" });
  const servingModel = pools.filter((name) => {
    const pool = policy.pools[name];
    return pool !== undefined && serves(pool, model);
  });
  if (servingModel.length === 0) {
    return new RouterError("unroutable", `No ${type} pool serves the model '${model}'.`, { param: "model" });
  }
  const missing = needs.filter(
    (need) => !servingModel.some((name) => policy.pools[name]?.capabilities.includes(need)),
  );
  const what = missing.map((need) => CAPABILITY_WORDS[need]).join(" and ");
  return new RouterError("unroutable", `No pool serving '${model}' for ${type} requests supports ${what}.`, {
    param: missing.includes("tools") ? "tools" : missing.includes("vision") ? "messages" : "model",
  });
}

const CAPABILITY_WORDS: Record<Capability, string> = {
  vision: "images (vision)",
  tools: "tool calls",
  fim: "FIM completion",
  thinking: "thinking",
  json: "JSON output",
};
