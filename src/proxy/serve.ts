import type { Context } from "hono";
import { MAX_WAIT_HEADER, PoolGates, parseMaxWait } from "../admission/gate";
import { holdWhileQueued } from "../admission/hold";
import { lookupCache } from "../cache/prompt-cache";
import { type Classification, classify, type InferenceRequest } from "../classify/classify";
import type { Policy } from "../config/policy";
import type { AppEnv } from "../env";
import { RouterError, toRouterError } from "../errors";
import { poolAvailability } from "../routing/availability";
import { planRoute, type RoutePlan } from "../routing/plan";
import { accountFor } from "./accounting";
import { type Attempt, attemptPlan, type RequestDeadlines } from "./attempt";
import { type AnswerEnd, type AnswerObserver, jsonAnswer, streamAnswer } from "./respond";

/** The caller's request after validation, plus how it arrived. */
export interface InferenceCall {
  request: InferenceRequest;
  rawBody: string;
  /** Arrived under DeepSeek's /beta base. */
  beta: boolean;
}

/**
 * One inference request, start to finish: classify, plan, send (falling back across the plan before
 * the first byte), then relay the answer and account for it when it ends.
 */
export async function serveInference(c: Context<AppEnv>, call: InferenceCall): Promise<Response> {
  const policy = c.get("policy");
  const tenant = c.get("tenant");
  const classification = classify(
    call.request,
    {
      type: c.req.header("x-router-type"),
      priority: c.req.header("x-router-priority"),
      latency: c.req.header("x-router-latency"),
    },
    tenant,
    policy,
    Date.now(),
  );
  const allowDegrade = c.req.header("x-router-degrade") === "allow" || tenant.allowDegrade;
  const plan = planRoute(classification, policy, poolAvailability(policy, Date.now()), allowDegrade);

  const headers = decisionHeaders(classification, plan.reason);
  const departure = departureOf(c.req.raw.signal);
  const clientSignal = departure.signal;
  const deadlines = requestDeadlines(
    c.req.header("x-router-deadline-ms"),
    classification,
    policy,
    plan,
    Date.now(),
  );
  const maxWaitMs = parseMaxWait(c.req.header(MAX_WAIT_HEADER));

  const sentAt = performance.now();
  const stream = call.request.body.stream === true;
  const finish = accountFor(c, classification, policy, stream, sentAt);
  // Before admission: a hit or a coalesced answer takes no concurrency slot and costs nothing upstream.
  const cache = await lookupCache(c, {
    call,
    classification,
    plan,
    headers,
    signal: clientSignal,
    totalAt: deadlines.totalAt,
    account: finish,
  }).catch((error: unknown) => {
    finish({
      model: classification.model,
      status: toRouterError(error).status,
      outcome: "rejected",
      reachedUpstream: false,
    });
    throw error;
  });
  if (cache.served) return cache.served;

  const admission = new PoolGates(
    c.env.POOL_GATE,
    policy,
    {
      tenant,
      priority: classification.priority,
      latency: classification.latency,
      maxWaitMs,
      totalAt: deadlines.totalAt,
    },
    (promise) => c.executionCtx.waitUntil(promise),
  );
  // Admission (a PoolGate lease per plan step) happens inside attemptPlan and nowhere else, so only a
  // request that got past the cache lookup above ever takes a concurrency slot.
  const attempted = attemptPlan(
    plan,
    policy,
    {
      endpoint: call.request.endpoint,
      body: call.request.body,
      rawBody: call.rawBody,
      stream,
      beta: call.beta,
    },
    c.env,
    clientSignal,
    deadlines,
    admission,
  );
  const respond = async (): Promise<Response> => {
    let attempt: Attempt;
    try {
      attempt = await attempted;
    } catch (error) {
      cache.fail(error, clientSignal.aborted);
      const routerError = error instanceof RouterError ? error : undefined;
      finish({
        cache: cache.status,
        model: classification.model,
        status: routerError?.status ?? 499,
        outcome: clientSignal.aborted ? "cancelled" : "rejected",
        reachedUpstream: false,
        upstreamMs: performance.now() - sentAt,
      });
      if (clientSignal.aborted && !routerError) {
        throw new RouterError("client_closed", "The client closed the request before an answer.", {
          cause: error,
        });
      }
      throw routerError ? routerError.withHeaders(headers) : error;
    }
    const upstreamMs = performance.now() - sentAt;
    c.set("waitedMs", c.get("waitedMs") + upstreamMs);

    const { step, candidate } = attempt;
    headers.set("x-router-model", step.model);
    headers.set("x-router-pool", step.pool);
    headers.set("x-router-target", candidate.target.name);
    headers.set("x-router-queue-ms", String(Math.round(attempt.queuedMs)));
    if (attempt.retries > 0) headers.set("x-router-retries", String(attempt.retries));
    if (step.degraded) headers.set("x-router-degraded", step.degraded);
    if (attempt.traceId) headers.set("x-ds-trace-id", attempt.traceId);

    const accounting: AnswerObserver = {
      end: (end: AnswerEnd) => {
        // The upstream's own latency: the wait for a slot and earlier attempts are not its doing.
        const latencyMs =
          end.firstTokenMs === undefined ? undefined : Math.max(0, end.firstTokenMs - attempt.queuedMs);
        attempt.settle({ kind: settlement(end), status: 200, latencyMs });
        finish({
          cache: cache.status,
          model: step.model,
          pool: step.pool,
          status: 200,
          outcome: end.outcome,
          finishReason: end.finishReason,
          reported: end.usage,
          reachedUpstream: true,
          outputEvents: end.outputEvents,
          firstTokenMs: end.firstTokenMs,
          upstreamMs,
        });
      },
    };
    const observers: AnswerObserver[] = [
      accounting,
      cache.observe(step, candidate.target.name, attempt.answer.kind),
    ];
    const { answer } = attempt;
    if (answer.kind === "stream") {
      const pool = policy.pools[step.pool];
      return streamAnswer(answer.source, headers, clientSignal, sentAt, observers, {
        firstTokenAt: attempt.firstTokenAt,
        idleMs: pool?.timeouts.idleMs ?? 30_000,
        totalAt: deadlines.totalAt,
        abort: attempt.abort,
      });
    }
    try {
      return jsonAnswer(answer.text, headers, sentAt, observers);
    } catch (error) {
      throw error instanceof RouterError ? error.withHeaders(headers) : error;
    }
  };
  if (!stream) return respond();
  // A stream still queued after a moment is committed with keep-alives; x-router-queue-ms can then only
  // say how long it had waited by the commit.
  return holdWhileQueued(respond(), admission.queued, headers, {
    commit(notice) {
      headers.set("x-router-model", notice.step.model);
      headers.set("x-router-pool", notice.step.pool);
      headers.set("x-router-queue-ms", String(Math.round(notice.waitedMs)));
      c.set("waitedMs", c.get("waitedMs") + performance.now() - sentAt);
    },
    leave: (reason) => departure.abort(reason),
  });
}

/**
 * The request's end as every waiter, hold and retry loop sees it: the runtime's request signal, or
 * the router seeing its own response body cancelled (the signal does not fire for a body it handed back).
 */
function departureOf(requestSignal: AbortSignal): AbortController {
  const departure = new AbortController();
  if (requestSignal.aborted) departure.abort(requestSignal.reason);
  else requestSignal.addEventListener("abort", () => departure.abort(requestSignal.reason), { once: true });
  return departure;
}

const MAX_DEADLINE_MS = 3_600_000;
/** How long the router holds a stream waiting for its first data event before committing to the client. */
const COMMIT_AFTER_MS = 10_000;

/** The request's total deadline: `x-router-deadline-ms` if set, capped by the primary pool's limit. */
function requestDeadlines(
  header: string | undefined,
  classification: Classification,
  policy: Policy,
  plan: RoutePlan,
  now: number,
): RequestDeadlines {
  const latency = classification.latency;
  const first = plan.steps[0] ? policy.pools[plan.steps[0].pool] : undefined;
  const poolTotal = first?.timeouts.totalMs[latency] ?? MAX_DEADLINE_MS;
  let requested: number | undefined;
  if (header !== undefined) {
    requested = Number(header);
    if (!Number.isInteger(requested) || requested <= 0 || requested > MAX_DEADLINE_MS) {
      throw new RouterError(
        "invalid_request",
        `Header x-router-deadline-ms must be a whole number of milliseconds from 1 to ${MAX_DEADLINE_MS}.`,
        {
          param: "x-router-deadline-ms",
        },
      );
    }
  }
  return {
    totalAt: now + Math.min(requested ?? poolTotal, poolTotal),
    latency,
    commitAfterMs: COMMIT_AFTER_MS,
  };
}

function settlement(end: AnswerEnd): "success" | "failure" | "abandoned" {
  if (end.outcome === "complete") return "success";
  return end.outcome === "cancelled" ? "abandoned" : "failure";
}

function decisionHeaders(classification: Classification, reason: string): Headers {
  const c = classification;
  return new Headers({
    "x-router-model": c.model,
    "x-router-class": `${c.type}; ${c.latency}; priority=${c.priority}${c.priorityCapped ? " (capped)" : ""}; ~${c.promptTokens}+${c.outputTokens} tokens; ~$${c.estimatedCostUsd.toFixed(6)}${c.peakPricing ? " peak" : ""}`,
    "x-router-reason": reason,
  });
}
