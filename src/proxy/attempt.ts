import type { Policy, PoolSpec } from "../config/policy";
import { RouterError } from "../errors";
import { metrics } from "../observe/metrics";
import { poolHasTarget } from "../routing/availability";
import type { PlanStep, RoutePlan } from "../routing/plan";
import { type Candidate, selectTarget } from "../routing/select";
import { targetState } from "../routing/target-state";
import { upstreamError } from "../upstream/errors";
import { awaitFirstEvent } from "../upstream/first-event";
import { PROVIDERS } from "../upstream/providers";
import type { ProviderEnv, UpstreamCall } from "../upstream/providers/types";
import type { RelaySource } from "../upstream/relay";
import { requestedWaitMs, retryBudget, retryDelayMs } from "../upstream/retry";

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

/** When the whole request must be done, and how long the router holds a stream before committing. */
export interface RequestDeadlines {
  totalAt: number;
  latency: "interactive" | "background";
  /** Hold a stream back at most this long waiting for its first data event, so it can still be retried. */
  commitAfterMs: number;
}

/** The attempt that produced the caller's answer, with what is needed to account for it. */
export interface Attempt {
  step: PlanStep;
  candidate: Candidate;
  /** DeepSeek's trace id, when the upstream sent one. */
  traceId: string | null;
  /** The answer: a stream positioned at its start, or a non-streamed JSON text read whole. */
  answer: { kind: "stream"; source: RelaySource } | { kind: "json"; text: string };
  /** A stream committed before its first token must still produce one by then. */
  firstTokenAt: number;
  /** Time spent waiting for admission and between retries, over all attempts. */
  queuedMs: number;
  retries: number;
  /** Aborts this attempt's upstream request (deadline watchdogs use it). */
  abort(reason: RouterError): void;
  /** Reports how the attempt ended to admission, the target's breaker and its latency average; once. */
  settle(outcome: AttemptOutcome): void;
}

/** Statuses that say "this upstream, now" rather than "this request": worth a retry or another target. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

type SendResult =
  | { ok: true; answer: Attempt["answer"]; traceId: string | null }
  | { ok: false; error: RouterError; retryable: boolean; status?: number; requestedWaitMs?: number };

/**
 * Tries the plan's steps in order until one yields an answer, all before anything is sent to the caller.
 * Within a step, a retryable failure (network error, 429, 5xx, no first token in time, an empty answer)
 * is retried with full-jitter backoff, honouring Retry-After within a cap and the request's deadline,
 * and only while the pool's retry budget allows; then the plan moves on to its next step. A caller
 * error (other 4xx) is final.
 */
export async function attemptPlan(
  plan: RoutePlan,
  policy: Policy,
  call: Omit<UpstreamCall, "step">,
  env: ProviderEnv,
  signal: AbortSignal,
  deadlines: RequestDeadlines,
  gate: StepGate = OPEN_GATE,
  now: () => number = Date.now,
  random: () => number = Math.random,
): Promise<Attempt> {
  let lastError: RouterError | undefined;
  let queuedMs = 0;
  let retries = 0;
  for (const [index, step] of plan.steps.entries()) {
    const pool = policy.pools[step.pool] as PoolSpec;
    const budget = retryBudget(step.pool, pool.retries.budgetRatio);
    for (let retry = 0; ; retry++) {
      if (now() >= deadlines.totalAt) throw deadlineExceeded(lastError);
      if (!poolHasTarget(step.pool, pool, now())) break;
      let pass: StepPass;
      try {
        pass = await gate.enter(step, index === plan.steps.length - 1, signal);
      } catch (error) {
        if (signal.aborted || !(error instanceof RouterError)) throw error;
        metrics.event({ kind: "shed", pool: step.pool, reason: error.code });
        lastError = error;
        break;
      }
      queuedMs += pass.queuedMs;
      const candidate = chooseTarget(step.pool, pool, now());
      if (!candidate) {
        pass.release({ kind: "abandoned" });
        break;
      }
      // The budget is a share of the requests callers made, so a retry is not itself counted as one.
      if (retry === 0) budget.recordRequest(now());
      const tracked = track(candidate, pass, now);
      const attemptAbort = new AbortController();
      const onClientAbort = () => attemptAbort.abort(signal.reason);
      signal.addEventListener("abort", onClientAbort, { once: true });
      const firstTokenAt = Math.min(deadlines.totalAt, now() + pool.timeouts.firstTokenMs[deadlines.latency]);
      let result: SendResult;
      try {
        result = await sendOnce(
          { ...call, step },
          candidate,
          env,
          attemptAbort,
          firstTokenAt,
          deadlines,
          now,
        );
      } catch (error) {
        // Only a client abort gets here; the pass (the admission lease) must still be released.
        signal.removeEventListener("abort", onClientAbort);
        tracked.settle({ kind: "abandoned" });
        throw error;
      }
      if (result.ok) {
        countAnswered(plan, index, queuedMs);
        return {
          step,
          candidate,
          traceId: result.traceId,
          answer: result.answer,
          firstTokenAt,
          queuedMs,
          retries,
          abort: (reason) => attemptAbort.abort(reason),
          settle: (outcome) => {
            signal.removeEventListener("abort", onClientAbort);
            tracked.settle(outcome);
          },
        };
      }
      signal.removeEventListener("abort", onClientAbort);
      if (signal.aborted) {
        tracked.settle({ kind: "abandoned" });
        throw signal.reason ?? result.error;
      }
      const wasOpen = candidate.state.state(now()) === "open";
      tracked.settle({ kind: result.retryable ? "failure" : "success", status: result.status });
      countFailed(step.pool, candidate, result.status, wasOpen, now());
      lastError = result.error;
      if (!result.retryable) throw result.error;
      const delay = retryDelayMs(
        retry,
        result.requestedWaitMs,
        pool.retries,
        deadlines.totalAt - now(),
        random,
      );
      if (delay === undefined || !budget.tryRetry(now())) break;
      retries++;
      metrics.event({ kind: "retry", pool: step.pool });
      await sleep(delay, signal);
      queuedMs += delay;
    }
  }
  throw lastError ?? noTargetAvailable(plan, policy, now());
}

/** Metrics (issue 13): the answered attempt's pool, how it got there, and its wait. */
function countAnswered(plan: RoutePlan, index: number, queuedMs: number): void {
  const step = plan.steps[index] as PlanStep;
  metrics.event({ kind: "upstream_response", pool: step.pool, status: 200 });
  metrics.event({ kind: "queue_wait", pool: step.pool, ms: queuedMs });
  const first = plan.steps[0];
  if (index > 0 && first) metrics.event({ kind: "fallback", from: first.pool, to: step.pool });
  if (step.degraded) metrics.event({ kind: "degrade", pool: step.pool, how: step.degraded });
}

/** Metrics (issue 13): a failed attempt's status (0: no answer), and whether it opened the breaker. */
function countFailed(
  pool: string,
  candidate: Candidate,
  status: number | undefined,
  wasOpen: boolean,
  now: number,
): void {
  metrics.event({ kind: "upstream_response", pool, status: status ?? 0 });
  if (!wasOpen && candidate.state.state(now) === "open")
    metrics.event({ kind: "breaker_open", pool, target: candidate.target.name });
}

/** One upstream request, up to the point where the router would commit to the caller. */
async function sendOnce(
  call: UpstreamCall,
  candidate: Candidate,
  env: ProviderEnv,
  abort: AbortController,
  firstTokenAt: number,
  deadlines: RequestDeadlines,
  now: () => number,
): Promise<SendResult> {
  const startedAt = now();
  // A non-streamed answer arrives whole, so only the total deadline bounds it.
  const answerBy = call.stream ? firstTokenAt : deadlines.totalAt;
  const timer = setTimeout(
    () => abort.abort(firstTokenTimeout(answerBy - startedAt)),
    Math.max(0, answerBy - startedAt),
  );
  try {
    const response = await PROVIDERS[call.step.provider].send(call, candidate.target, env, abort.signal);
    const traceId = response.headers.get("x-ds-trace-id");
    if (!response.ok) {
      const error = await upstreamError(response, candidate.target.name);
      return {
        ok: false,
        error,
        retryable: isRetryableStatus(response.status),
        status: response.status,
        requestedWaitMs: requestedWaitMs(response.headers, now()),
      };
    }
    if (!response.body) return failed("The upstream answered without a body.");
    if (call.stream) {
      const first = await awaitFirstEvent(response.body, firstTokenAt, now() + deadlines.commitAfterMs, now);
      if (first.kind === "timeout")
        return { ok: false, error: firstTokenTimeout(firstTokenAt - startedAt), retryable: true };
      if (first.kind === "ended") return failed("The upstream closed the stream without an answer.");
      return { ok: true, answer: { kind: "stream", source: first.source }, traceId };
    }
    const text = (await response.text()).trimStart();
    if (text === "") return failed("The upstream closed the connection without an answer.");
    return { ok: true, answer: { kind: "json", text }, traceId };
  } catch (error) {
    if (abort.signal.reason instanceof RouterError)
      return { ok: false, error: abort.signal.reason, retryable: true };
    if (error instanceof RouterError) return { ok: false, error, retryable: error.code === "upstream_error" };
    if (abort.signal.aborted) throw error;
    return failed(`Could not reach the upstream '${candidate.target.name}'.`);
  } finally {
    clearTimeout(timer);
  }
}

function failed(message: string): SendResult {
  return { ok: false, error: new RouterError("upstream_error", message), retryable: true };
}

function firstTokenTimeout(ms: number): RouterError {
  return new RouterError("deadline_exceeded", `The upstream sent no answer within ${Math.round(ms)} ms.`);
}

function deadlineExceeded(last: RouterError | undefined): RouterError {
  const why = last ? ` The last attempt failed: ${last.message}` : "";
  return new RouterError(
    "deadline_exceeded",
    `The request's deadline passed before an upstream answered.${why}`,
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
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
  pass: StepPass,
  now: () => number,
): { settle(outcome: AttemptOutcome): void } {
  const startedAt = now();
  candidate.state.inFlight++;
  let settled = false;
  return {
    settle(outcome) {
      if (settled) return;
      settled = true;
      candidate.state.inFlight--;
      pass.release(outcome);
      // A 429 says "too many at once", not "broken": admission's adaptive limit answers it. Ejecting
      // the target would turn an overload into 503s for everyone (Envoy's outlier detection agrees).
      const broken = outcome.kind === "failure" && outcome.status !== 429;
      if (outcome.kind === "success") {
        candidate.state.breaker.onSuccess();
        candidate.state.recordTtft(outcome.latencyMs ?? now() - startedAt);
      } else if (broken) candidate.state.breaker.onFailure(now());
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
