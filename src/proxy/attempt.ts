import { type AttemptOutcome, OPEN_GATE, type StepGate, type StepPass } from "../admission/step-gate";
import type { Policy, PoolSpec } from "../config/policy";
import { RouterError } from "../errors";
import { metrics } from "../observe/metrics";
import { poolHasTarget } from "../routing/availability";
import type { PlanStep, RoutePlan } from "../routing/plan";
import { type Candidate, selectTarget } from "../routing/select";
import { targetState } from "../routing/target-state";
import type { Timeline, TimelineEvent } from "../trace";
import { type JsonAnswer, readJsonAnswer, streamedError, upstreamError } from "../upstream/errors";
import { awaitFirstEvent } from "../upstream/first-event";
import { PROVIDERS } from "../upstream/providers";
import { type ProviderEnv, secretOf, type UpstreamCall } from "../upstream/providers/types";
import type { RelaySource } from "../upstream/relay";
import { requestedWaitMs, retryBudget, retryDelayMs } from "../upstream/retry";

/** When the whole request must be done, and how long the router holds a stream before committing. */
export interface RequestDeadlines {
  /** When the router received the request (epoch ms, the clock of `totalAt`). */
  receivedAt: number;
  totalAt: number;
  latency: "interactive" | "background";
  /**
   * Hold a stream whose first-token deadline is far off at most this long waiting for its first data
   * event; a nearer deadline is waited out ({@link commitPoint}).
   */
  commitAfterMs: number;
}

/** The attempt that produced the caller's answer, with what is needed to account for it. */
export interface Attempt {
  step: PlanStep;
  candidate: Candidate;
  /** DeepSeek's trace id, when the upstream sent one. */
  traceId: string | null;
  /** The answer: a stream positioned at its start, or a non-streamed JSON text read whole (and parsed). */
  answer: { kind: "stream"; source: RelaySource } | { kind: "json"; text: string; body: JsonAnswer };
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
function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

type SendResult =
  | { ok: true; answer: Attempt["answer"]; traceId: string | null }
  | {
      ok: false;
      error: RouterError;
      retryable: boolean;
      status?: number;
      requestedWaitMs?: number;
      /** Sent, and not refused with a status: the upstream may bill it though no answer came of it. */
      mayBill?: boolean;
    };

/** An upstream attempt the upstream may bill that did not become the caller's answer. */
export interface SpentAttempt {
  step: PlanStep;
  /** What the router made of it: the error it retried or gave up on, or the client's departure. */
  status: number;
}

/** Everything one run of a plan needs; `gate`, `now` and `random` default to the real ones. */
export interface PlanRun {
  plan: RoutePlan;
  policy: Policy;
  call: Omit<UpstreamCall, "step">;
  env: ProviderEnv;
  /** The caller's departure: it withdraws waiters, aborts the upstream call and stops retries. */
  signal: AbortSignal;
  deadlines: RequestDeadlines;
  gate?: StepGate;
  /** Keeps work alive past the response (delayed releases); defaults to running it unattended. */
  waitUntil?: (work: Promise<unknown>) => void;
  /** Told of every attempt the upstream may bill that did not answer, so usage never goes missing. */
  onSpent?: (spent: SpentAttempt) => void;
  /** Told of each admission wait, attempt, fallback and degrade, for the request's record (issue 25). */
  timeline?: Timeline;
  now?: () => number;
  random?: () => number;
}

/**
 * Tries the plan's steps in order until one yields an answer, all before anything is sent to the caller.
 * Within a step, a retryable failure (network error, 429, 5xx, no first token in time, an empty answer)
 * is retried with full-jitter backoff, honouring Retry-After within a cap and the request's deadline,
 * and only while the pool's retry budget allows; then the plan moves on to its next step. A caller
 * error (other 4xx) is final. A departed caller ends the run at once: no retry is sent for it.
 */
export async function attemptPlan(run: PlanRun): Promise<Attempt> {
  const { plan, policy, signal, deadlines, gate = OPEN_GATE, now = Date.now } = run;
  let lastError: RouterError | undefined;
  let queuedMs = 0;
  let retries = 0;
  const timeline = run.timeline;
  for (const [index, step] of plan.steps.entries()) {
    const pool = policy.pools[step.pool] as PoolSpec;
    const budget = retryBudget(step.pool, pool.retries.budgetRatio);
    if (index > 0)
      timeline?.note({ kind: "fallback", pool: step.pool, model: step.model, reason: lastError?.code });
    if (step.degraded)
      timeline?.note({ kind: "degrade", pool: step.pool, model: step.model, reason: step.degraded });
    /** The failed attempt the next one retries: marked retried once the retry is sent, not before. */
    let retried: TimelineEvent | undefined;
    for (let retry = 0; ; retry++) {
      signal.throwIfAborted();
      if (now() >= deadlines.totalAt) throw deadlineExceeded(lastError);
      if (!poolHasTarget(step.pool, pool, now())) break;
      let pass: StepPass;
      const enteredAt = performance.now();
      try {
        pass = await gate.enter(step, index === plan.steps.length - 1, signal);
      } catch (error) {
        if (signal.aborted || !(error instanceof RouterError)) throw error;
        metrics.event({ kind: "shed", pool: step.pool, reason: error.code });
        timeline?.admission(enteredAt, {
          pool: step.pool,
          waitedMs: performance.now() - enteredAt,
          reason: error.code,
        });
        lastError = error;
        break;
      }
      timeline?.admission(enteredAt, { pool: step.pool, waitedMs: pass.queuedMs });
      queuedMs += pass.queuedMs;
      const candidate = chooseTarget(step.pool, pool, now());
      if (!candidate) {
        pass.release({ kind: "abandoned" });
        break;
      }
      // The budget is a share of the requests callers made, so a retry is not itself counted as one.
      if (retry === 0) budget.recordRequest(now());
      else {
        // A retry counts once it goes: the wait before it may have ended with no target or no slot.
        if (retried) retried.retried = true;
        retries++;
        metrics.event({ kind: "retry", pool: step.pool });
      }
      const sentAt = performance.now();
      const where = { pool: step.pool, model: step.model, target: candidate.target.name };
      const sent = await sendTracked(run, step, candidate, pass).catch((error: unknown) => {
        const left = signal.aborted;
        timeline?.attempt(sentAt, {
          ...where,
          status: left ? 499 : 0,
          reason: left ? "client_closed" : "error",
        });
        throw error;
      });
      if (sent.ok) {
        // An answer under way proves the target: a half-open probe closes the breaker now. Were it
        // closed only when the answer ends, a long stream's probe would turn everyone else away.
        candidate.state.breaker.onSuccess();
        timeline?.attempt(sentAt, { ...where, status: 200 });
        countAnswered(plan, index, queuedMs);
        return { ...sent.attempt, queuedMs, retries };
      }
      retried = timeline?.attempt(sentAt, {
        ...where,
        status: sent.status ?? 0,
        reason: sent.error.code,
      });
      lastError = sent.error;
      if (!sent.retryable) throw sent.error;
      const delay = retryDelayMs(
        retry,
        sent.requestedWaitMs,
        pool.retries,
        deadlines.totalAt - now(),
        run.random ?? Math.random,
      );
      if (delay === undefined || !budget.tryRetry(now())) break;
      await sleep(delay, signal);
      queuedMs += delay;
    }
  }
  throw lastError ?? noTargetAvailable(plan, policy, now());
}

type Sent =
  | { ok: true; attempt: Omit<Attempt, "queuedMs" | "retries"> }
  | { ok: false; error: RouterError; retryable: boolean; requestedWaitMs?: number; status?: number };

/**
 * One attempt with its pass: the upstream call is aborted the moment the caller departs (from the
 * abort listener itself, since the handler's own code may never run again), and the pass is settled
 * exactly once: `admission.abortHoldMs` after the cut when the call was cut while the upstream was at
 * it, because an upstream counts a call until it notices the abort, and a slot freed at once would let
 * the next request reach an upstream that still counts the old one (a 429 at a ceiling it enforces).
 */
async function sendTracked(
  run: PlanRun,
  step: PlanStep,
  candidate: Candidate,
  pass: StepPass,
): Promise<Sent> {
  const { signal, deadlines, now = Date.now } = run;
  const pool = run.policy.pools[step.pool] as PoolSpec;
  const tracked = track(candidate, pass, {
    now,
    waitUntil: run.waitUntil,
    holdMs: pool.admission.abortHoldMs,
  });
  const attemptAbort = new AbortController();
  let sent = false;
  let answered = false;
  let departed = false;
  const onDeparture = () => {
    if (departed) return;
    departed = true;
    attemptAbort.abort(signal.reason);
    // An answer that reached the caller is accounted when it ends, with what it relayed.
    if (sent && !answered) run.onSpent?.({ step, status: 499 });
    tracked.settle({ kind: "abandoned" }, { cut: true });
  };
  signal.addEventListener("abort", onDeparture, { once: true });
  const firstTokenAt = Math.min(deadlines.totalAt, now() + pool.timeouts.firstTokenMs[deadlines.latency]);
  const result = await sendOnce({ ...run.call, step }, candidate, run.env, {
    abort: attemptAbort,
    firstTokenAt,
    deadlines,
    now,
    onSent: () => (sent = true),
  }).catch((error: unknown) => {
    signal.removeEventListener("abort", onDeparture);
    if (signal.aborted) onDeparture();
    throw error;
  });
  if (result.ok) {
    answered = true;
    const answer = {
      step,
      candidate,
      traceId: result.traceId,
      answer: result.answer,
      firstTokenAt,
      abort: (reason: RouterError) => attemptAbort.abort(reason),
      settle: (outcome: AttemptOutcome) => {
        signal.removeEventListener("abort", onDeparture);
        tracked.settle(outcome, { cut: outcome.kind !== "success" && attemptAbort.signal.aborted });
      },
    };
    return { ok: true, attempt: answer };
  }
  signal.removeEventListener("abort", onDeparture);
  if (signal.aborted) {
    onDeparture();
    throw signal.reason ?? result.error;
  }
  if (result.mayBill) run.onSpent?.({ step, status: result.error.status });
  const wasOpen = candidate.state.state(now()) === "open";
  tracked.settle(
    { kind: result.retryable ? "failure" : "success", status: result.status },
    { cut: attemptAbort.signal.aborted },
  );
  countFailed(step.pool, candidate, result.status, wasOpen, now());
  return result;
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

/** When one send must show progress, how to stop it, and when it is on its way. */
interface SendTiming {
  abort: AbortController;
  firstTokenAt: number;
  deadlines: RequestDeadlines;
  now: () => number;
  /** The request is on its way: from here on the upstream may bill it, unless it refuses with a status. */
  onSent(): void;
}

/** The longest first-token deadline waited out before committing (30 s: interactive's default). */
export const HOLD_TO_DEADLINE_MS = 30_000;

/**
 * When a stream still waiting for its first data event is committed to the caller. At the attempt's
 * first-token deadline when that is at most {@link HOLD_TO_DEADLINE_MS} away and the caller has waited
 * less than `commitAfterMs` so far: a miss is then retried, or sent to the next step, before the caller
 * has a status (committing every stream at 10 s made a stalled interactive stream end in-band at its
 * deadline, never retried). Otherwise (a background request's far deadline, or a retry after such a
 * wait) after `commitAfterMs`, so a client in a long upstream queue gets keep-alives, not silence. Pure.
 */
export function commitPoint(deadlines: RequestDeadlines, startedAt: number, firstTokenAt: number): number {
  const waited = startedAt - deadlines.receivedAt;
  return firstTokenAt - startedAt <= HOLD_TO_DEADLINE_MS && waited < deadlines.commitAfterMs
    ? firstTokenAt
    : startedAt + deadlines.commitAfterMs;
}

/** One upstream request, up to the point where the router would commit to the caller. */
async function sendOnce(
  call: UpstreamCall,
  candidate: Candidate,
  env: ProviderEnv,
  timing: SendTiming,
): Promise<SendResult> {
  const { abort, firstTokenAt, deadlines, now } = timing;
  const startedAt = now();
  const secret = secretOf(env, candidate.target);
  // A non-streamed answer arrives whole, so only the total deadline bounds it.
  const answerBy = call.stream ? firstTokenAt : deadlines.totalAt;
  const timer = setTimeout(
    () => abort.abort(firstTokenTimeout(answerBy - startedAt)),
    Math.max(0, answerBy - startedAt),
  );
  try {
    timing.onSent();
    const response = await PROVIDERS[call.step.provider].send(call, candidate.target, env, abort.signal);
    const traceId = response.headers.get("x-ds-trace-id");
    if (!response.ok) {
      const error = await upstreamError(response, { name: candidate.target.name, secret });
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
      const commitAt = commitPoint(deadlines, startedAt, firstTokenAt);
      const first = await awaitFirstEvent(response.body, firstTokenAt, commitAt, now);
      if (first.kind === "timeout")
        return {
          ok: false,
          error: firstTokenTimeout(firstTokenAt - startedAt),
          retryable: true,
          mayBill: true,
        };
      if (first.kind === "ended") return failed("The upstream closed the stream without an answer.");
      if (first.kind === "error")
        return { ok: false, error: streamedError(first.payload, secret), retryable: true };
      return { ok: true, answer: { kind: "stream", source: first.source }, traceId };
    }
    const text = (await response.text()).trimStart();
    if (text === "") return failed("The upstream closed the connection without an answer.");
    const json = readJsonAnswer(text, secret);
    if (json.kind === "invalid") return failed(json.message);
    // An error is an error whatever the status: never an answer, never cached or shared as one.
    if (json.kind === "error") return { ok: false, error: json.error, retryable: true };
    return { ok: true, answer: { kind: "json", text, body: json.body }, traceId };
  } catch (error) {
    if (abort.signal.reason instanceof RouterError)
      return { ok: false, error: abort.signal.reason, retryable: true, mayBill: true };
    if (error instanceof RouterError) {
      // upstream_error: the connection failed after sending, or never connected. workerd reports both
      // alike, and the upstream may have taken (and will bill) the first, so it counts as spent.
      const broken = error.code === "upstream_error";
      return { ok: false, error, retryable: broken, mayBill: broken };
    }
    if (abort.signal.aborted) throw error;
    return failed(`The upstream '${candidate.target.name}' broke off its answer.`);
  } finally {
    clearTimeout(timer);
  }
}

/** A failure after the request was sent: retryable, and the upstream may bill it. */
function failed(message: string): SendResult {
  return { ok: false, error: new RouterError("upstream_error", message), retryable: true, mayBill: true };
}

function firstTokenTimeout(ms: number): RouterError {
  return new RouterError(
    "deadline_exceeded",
    `The upstream sent no answer within ${Math.max(1, Math.ceil(ms))} ms.`,
  );
}

function deadlineExceeded(last: RouterError | undefined): RouterError {
  const why = last ? ` The last attempt failed: ${last.message}` : "";
  return new RouterError(
    "deadline_exceeded",
    `The request's deadline passed before an upstream answered.${why}`,
  );
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
  hold: { now: () => number; waitUntil?: (work: Promise<unknown>) => void; holdMs: number },
): { settle(outcome: AttemptOutcome, how: { cut: boolean }): void } {
  const { now, waitUntil = () => {} } = hold;
  const startedAt = now();
  candidate.state.inFlight++;
  let settled = false;
  return {
    settle(outcome, { cut }) {
      if (settled) return;
      settled = true;
      candidate.state.inFlight--;
      if (cut && hold.holdMs > 0) waitUntil(delay(hold.holdMs).then(() => pass.release(outcome)));
      else pass.release(outcome);
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
