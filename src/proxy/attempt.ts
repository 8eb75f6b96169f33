import type { Policy, PoolSpec } from "../config/policy";
import { RouterError } from "../errors";
import type { PlanStep, RoutePlan } from "../routing/plan";
import { type Candidate, selectTarget } from "../routing/select";
import { targetState } from "../routing/target-state";
import { upstreamError } from "../upstream/errors";
import { PROVIDERS } from "../upstream/providers";
import type { ProviderEnv, UpstreamCall } from "../upstream/providers/types";

/** How an attempt ended, as admission and health tracking need to know it. */
export interface AttemptOutcome {
  kind: "success" | "failure" | "abandoned";
  /** The upstream's HTTP status, when it answered. */
  status?: number;
  /** Time to first token, or to the whole answer when not streamed. */
  latencyMs?: number;
}

/** Permission to send one attempt upstream; released exactly once, with how the attempt went. */
export interface StepPass {
  queuedMs: number;
  release(outcome: AttemptOutcome): void;
}

/**
 * Admission control for plan steps. `enter` resolves with a pass once the step's pool has room, or
 * throws a RouterError (429 + Retry-After) when the request is shed. With `lastStep` false it may
 * throw at once when the pool is full, so the plan moves on to its next step instead of queueing.
 */
export interface StepGate {
  enter(step: PlanStep, lastStep: boolean, signal: AbortSignal): Promise<StepPass>;
}

/** No admission control: every step may go at once. */
export const OPEN_GATE: StepGate = {
  enter: async () => ({ queuedMs: 0, release() {} }),
};

/** The attempt that produced the caller's answer, with what is needed to account for it. */
export interface Attempt {
  response: Response;
  step: PlanStep;
  candidate: Candidate;
  /** Time spent waiting for admission, over all steps tried. */
  queuedMs: number;
  /** Reports how the attempt ended to admission, the target's breaker and its latency average; once. */
  settle(outcome: AttemptOutcome): void;
}

/** Statuses that say "this upstream, now" rather than "this request": worth another target. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * Tries the plan's steps in order until one answers with a 2xx, before anything has been sent to the
 * caller. A failed step (network error, 429, 5xx) counts against its target's breaker and the next step
 * is tried; a caller error (other 4xx) is final. Retries with backoff on the same step are layered on
 * top of this by the resilience policy.
 */
export async function attemptPlan(
  plan: RoutePlan,
  policy: Policy,
  body: Omit<UpstreamCall, "step">,
  env: ProviderEnv,
  signal: AbortSignal,
  now: () => number,
  gate: StepGate = OPEN_GATE,
): Promise<Attempt> {
  let lastError: RouterError | undefined;
  let queuedMs = 0;
  for (const [index, step] of plan.steps.entries()) {
    const pool = policy.pools[step.pool] as PoolSpec;
    if (!hasTarget(step.pool, pool, now())) continue;
    let pass: StepPass;
    try {
      pass = await gate.enter(step, index === plan.steps.length - 1, signal);
    } catch (error) {
      if (signal.aborted || !(error instanceof RouterError)) throw error;
      lastError = error;
      continue;
    }
    queuedMs += pass.queuedMs;
    const candidate = chooseTarget(step.pool, pool, now());
    if (!candidate) {
      pass.release({ kind: "abandoned" });
      continue;
    }
    const attempt = track(candidate, step, pass, now);
    let response: Response;
    try {
      response = await PROVIDERS[step.provider].send({ ...body, step }, candidate.target, env, signal);
    } catch (error) {
      attempt.settle({ kind: signal.aborted ? "abandoned" : "failure" });
      if (signal.aborted || !(error instanceof RouterError)) throw error;
      lastError = error;
      continue;
    }
    if (response.ok) return { ...attempt, queuedMs, response };
    const error = await upstreamError(response, candidate.target.name);
    if (!isRetryableStatus(response.status)) {
      attempt.settle({ kind: "success", status: response.status });
      throw error;
    }
    attempt.settle({ kind: "failure", status: response.status });
    lastError = error;
  }
  throw lastError ?? noTargetAvailable(plan, policy, now());
}

function hasTarget(poolName: string, pool: PoolSpec, now: number): boolean {
  return pool.targets.some((target) => targetState(poolName, target).state(now) !== "open");
}

function chooseTarget(poolName: string, pool: PoolSpec, now: number): Candidate | undefined {
  const candidates: Candidate[] = [];
  for (const target of pool.targets) {
    const state = targetState(poolName, target);
    if (state.state(now) !== "open") candidates.push({ target, state });
  }
  while (candidates.length > 0) {
    const chosen = selectTarget(pool.selection, candidates, Math.random);
    if (!chosen) return undefined;
    if (chosen.state.breaker.tryAcquire(now)) return chosen;
    candidates.splice(candidates.indexOf(chosen), 1);
  }
  return undefined;
}

function track(
  candidate: Candidate,
  step: PlanStep,
  pass: StepPass,
  now: () => number,
): Omit<Attempt, "response" | "queuedMs"> {
  const startedAt = now();
  candidate.state.inFlight++;
  let settled = false;
  return {
    step,
    candidate,
    settle(outcome) {
      if (settled) return;
      settled = true;
      candidate.state.inFlight--;
      pass.release(outcome);
      if (outcome.kind === "success") {
        candidate.state.breaker.onSuccess();
        candidate.state.recordTtft(outcome.latencyMs ?? now() - startedAt);
      } else if (outcome.kind === "failure") candidate.state.breaker.onFailure(now());
      else candidate.state.breaker.onAbandon();
    },
  };
}

/** Every target of every planned pool is ejected: say when to come back. */
function noTargetAvailable(plan: RoutePlan, policy: Policy, now: number): RouterError {
  const pools = [...plan.steps.map((step) => step.pool), ...plan.ejected];
  let retryInMs = Number.POSITIVE_INFINITY;
  for (const poolName of pools) {
    for (const target of policy.pools[poolName]?.targets ?? []) {
      retryInMs = Math.min(retryInMs, targetState(poolName, target).breaker.retryInMs(now));
    }
  }
  const seconds = Number.isFinite(retryInMs) ? Math.max(1, Math.ceil(retryInMs / 1000)) : 5;
  return new RouterError(
    "upstream_unavailable",
    "Every upstream that can serve this request is failing; retry shortly.",
    {
      headers: { "retry-after": String(seconds) },
    },
  );
}
