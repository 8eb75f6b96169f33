import type { Context } from "hono";
import { MAX_WAIT_HEADER, PoolGates, parseMaxWait } from "../admission/gate";
import type { AnswerEnd, AnswerObserver } from "../answer";
import { lookupCache, type PromptCache } from "../cache/prompt-cache";
import { usageCostUsd } from "../classify/catalog";
import { type Classification, classify, type InferenceCall } from "../classify/classify";
import { fingerprintPrompt } from "../classify/fingerprint";
import type { Limits } from "../config/limits";
import type { Policy } from "../config/policy";
import type { AppEnv } from "../env";
import { RouterError, reportError, toRouterError } from "../errors";
import { callAsEndUser } from "../frontend/identity";
import { parseWholeNumber } from "../headers";
import { recordsKept } from "../observe/otel-config";
import { payloadCapture } from "../observe/payload";
import { timelineOf } from "../observe/recorder";
import { poolAvailability } from "../routing/availability";
import { planRoute, type RoutePlan, routeReason } from "../routing/plan";
import { wireOf } from "../surfaces";
import {
  capMaxTokens,
  checkModel,
  effectiveLimits,
  type LimitScopes,
  rateLimitView,
  reserveSpend,
  type Spend,
  scopesOf,
} from "../tenancy/enforce";
import { surfaceOf } from "../trace";
import { PROVIDERS } from "../upstream/providers";
import { type Accounts, accountFor } from "./accounting";
import { type Attempt, attemptPlan, type RequestDeadlines } from "./attempt";
import { holdWhileQueued } from "./hold";
import { jsonAnswer, readAnswer, streamAnswer } from "./respond";

/** What the router decided about a request before any I/O: pure, from the request, policy and clock. */
interface Decision {
  classification: Classification;
  plan: RoutePlan;
  deadlines: RequestDeadlines;
  maxWaitMs: number | undefined;
  stream: boolean;
}

/** One request being served: its decision, and the request-scoped parts every later step shares. */
interface RequestScope {
  c: Context<AppEnv>;
  call: InferenceCall;
  decision: Decision;
  /** Decision headers; copied onto every answer and error this request gets. */
  headers: Headers;
  /** The caller's departure, from the runtime's signal or a cancelled response body. */
  departure: AbortController;
  accounts: Accounts;
  sentAt: number;
}

/**
 * One inference request, start to finish: decide (classify, plan, deadlines), ask the cache, then
 * admit and send (falling back across the plan before the first byte), and respond with the answer,
 * accounting for it when it ends.
 */
export async function serveInference(c: Context<AppEnv>, asked: InferenceCall): Promise<Response> {
  const endUser = c.get("endUser");
  const scopes = scopesOf(c.get("tenant"), c.get("routerKey"), endUser);
  const limits = effectiveLimits(scopes);
  const capped = withinMaxTokens(asked, limits);
  // A frontend token's verified end user replaces whatever user the body names (issue 23).
  const call = endUser ? callAsEndUser(capped, endUser.id) : capped;
  timelineOf(c).ask(call.request.body.model);
  const decision = decide(c, call, Date.now());
  noteDecision(c, call, decision);
  checkModel(decision.classification, call.request.body.model, limits);
  const sentAt = performance.now();
  const scope: RequestScope = {
    c,
    call,
    decision,
    headers: decisionHeaders(decision.classification, decision.plan.reason),
    departure: departureOf(c.req.raw.signal),
    accounts: accountFor(c, decision.classification, c.get("policy"), decision.stream, sentAt),
    sentAt,
  };
  // From here the accounting records the request, however and whenever it ends (issue 25).
  timelineOf(c).accounted = true;
  // Where the caller stands, for a cache hit too; a reservation below replaces them.
  for (const [name, value] of Object.entries(rateLimitView(scopes, Date.now())))
    scope.headers.set(name, value);
  // Before admission: a hit or a coalesced answer takes no concurrency slot and costs nothing upstream.
  const cache = await lookupCache({
    call,
    tenant: c.get("tenant"),
    endUser: endUser?.id,
    policy: c.get("policy"),
    cacheControl: c.req.header("cache-control"),
    routerCache: c.req.header("x-router-cache"),
    env: c.env,
    waitUntil: (work) => c.executionCtx.waitUntil(work),
    classification: decision.classification,
    plan: decision.plan,
    headers: scope.headers,
    signal: scope.departure.signal,
    totalAt: decision.deadlines.totalAt,
    account: scope.accounts.finish,
  }).catch((error: unknown) => {
    scope.accounts.finish(failure(scope, error, undefined));
    throw error;
  });
  if (cache.served) return cache.served;

  // Only past the cache: a hit costs nothing and counts against no limit.
  const spend = await reserveOrDegrade(scope, scopes).catch((error: unknown) => {
    scope.accounts.finish(failure(scope, error, cache.status));
    cache.fail(error, false);
    throw toRouterError(error).withHeaders(scope.headers);
  });
  if (spend) {
    for (const [name, value] of Object.entries(spend.headers)) scope.headers.set(name, value);
    scope.accounts.onCharged(spend.settle);
  }

  const gates = new PoolGates(
    c.env.POOL_GATE,
    c.get("policy"),
    {
      tenant: c.get("tenant"),
      priority: decision.classification.priority,
      latency: decision.classification.latency,
      maxWaitMs: decision.maxWaitMs,
      totalAt: decision.deadlines.totalAt,
    },
    (promise) => c.executionCtx.waitUntil(promise),
  );
  const answer = admitAndSend(scope, gates, cache);
  if (!decision.stream) return answer;
  // A stream still queued after a moment is committed with keep-alives; x-router-queue-ms can then only
  // say how long it had waited by the commit.
  return holdWhileQueued(answer, gates.queued, scope.headers, {
    commit(notice) {
      scope.headers.set("x-router-model", notice.step.model);
      scope.headers.set("x-router-pool", notice.step.pool);
      scope.headers.set("x-router-queue-ms", String(Math.round(notice.waitedMs)));
      c.set("waitedMs", c.get("waitedMs") + performance.now() - sentAt);
    },
    leave: (reason) => scope.departure.abort(reason),
    fail: (error) => reportError(error, c.get("requestId")),
    endpoint: wireOf(call).endpoint,
  });
}

/**
 * Reserves the request on its tenant's limits. A spent budget is refused, unless degrading is allowed
 * and the plan's cheaper model fits what is left: then only those degraded steps are tried, announced
 * in `x-router-degraded` like every degrade.
 */
async function reserveOrDegrade(scope: RequestScope, scopes: LimitScopes): Promise<Spend | undefined> {
  const { c, decision } = scope;
  const reserve = (classification: Classification) =>
    reserveSpend({
      authorities: c.env.SPEND_AUTHORITY,
      scopes,
      classification,
      now: Date.now(),
      waitUntil: (work) => c.executionCtx.waitUntil(work),
    });
  try {
    return await reserve(decision.classification);
  } catch (error) {
    if (!(error instanceof RouterError) || error.code !== "budget_exhausted") throw error;
    const { classification } = decision;
    const cheaper = decision.plan.steps.find((step) => step.degraded && step.model !== classification.model);
    if (!cheaper) throw error;
    const estimatedCostUsd = usageCostUsd(
      c.get("policy"),
      cheaper.model,
      {
        promptTokens: classification.promptTokens,
        completionTokens: classification.outputTokens,
        cacheHitTokens: 0,
        cacheMissTokens: classification.promptTokens,
        reasoningTokens: 0,
      },
      Date.now(),
    );
    if (!(estimatedCostUsd < classification.estimatedCostUsd)) throw error;
    const spend = await reserve({ ...classification, estimatedCostUsd }).catch(() => Promise.reject(error));
    const steps = decision.plan.steps
      .filter((step) => step.model === cheaper.model && step.degraded)
      .map((step) => ({ ...step, degraded: `${step.degraded} (budget)` }));
    decision.plan = { ...decision.plan, steps };
    return spend;
  }
}

/** The call with the key's `max_tokens` cap applied (400 above it; the cap itself when it sets none). */
function withinMaxTokens(call: InferenceCall, limits: Limits): InferenceCall {
  // Another front door names the cap by its own field, in a refusal and in the body it sends upstream
  // (Anthropic's `max_tokens` is required, so only the Responses API can arrive without one).
  const field = call.surface?.endpoint === "responses" ? "max_output_tokens" : "max_tokens";
  const body = capMaxTokens(call.request.body, limits, field);
  if (!body) return call;
  const request = { ...call.request, body } as InferenceCall["request"];
  if (!call.surface) return { ...call, request, rawBody: JSON.stringify(body) };
  const wire = { ...call.surface.body, [field]: body.max_tokens };
  return { ...call, request, surface: { ...call.surface, body: wire }, rawBody: JSON.stringify(wire) };
}

/**
 * The pipeline's refusals at its decision, for a call that runs later (a kept Response, issue 24): the
 * key's `max_tokens` cap, an unknown or unroutable model, a model the key may not use, made as
 * {@link serveInference} makes them, so the errors are a plain request's. Pool health is left out: an
 * open circuit now is no reason to refuse an answer that runs later.
 */
export function refuseAtDecision(c: Context<AppEnv>, asked: InferenceCall, latency?: string): void {
  const limits = effectiveLimits(scopesOf(c.get("tenant"), c.get("routerKey"), c.get("endUser")));
  const call = withinMaxTokens(asked, limits);
  const { classification } = decide(c, call, Date.now(), { latency, anyPool: true });
  checkModel(classification, call.request.body.model, limits);
}

/**
 * Pure: what the request is, where it may go, and by when it must be done. `latency` stands in for the
 * caller's `x-router-latency`; `anyPool` plans as if every pool were healthy.
 */
function decide(
  c: Context<AppEnv>,
  call: InferenceCall,
  now: number,
  options: { latency?: string; anyPool?: boolean } = {},
): Decision {
  const policy = c.get("policy");
  const tenant = c.get("tenant");
  const classification = classify(
    call.request,
    {
      type: c.req.header("x-router-type"),
      priority: c.req.header("x-router-priority"),
      latency: options.latency ?? c.req.header("x-router-latency"),
    },
    tenant,
    policy,
    now,
  );
  const allowDegrade = c.req.header("x-router-degrade") === "allow" || tenant.allowDegrade;
  const availability = options.anyPool ? () => true : poolAvailability(policy, now);
  const plan = relayable(planRoute(classification, policy, availability, allowDegrade), call);
  return {
    classification,
    plan,
    deadlines: requestDeadlines(c.req.header("x-router-deadline-ms"), classification, policy, plan, now),
    maxWaitMs: parseMaxWait(c.req.header(MAX_WAIT_HEADER)),
    stream: call.request.body.stream === true,
  };
}

/**
 * Another front door's request is relayed in its own wire format, never translated: only the steps whose
 * provider serves that format stay in the plan. Pure. Refused when none of the planned pools can.
 */
function relayable(plan: RoutePlan, call: InferenceCall): RoutePlan {
  const endpoint = call.surface?.endpoint;
  if (!endpoint || plan.steps.length === 0) return plan;
  const steps = plan.steps.filter((step) => PROVIDERS[step.provider].relays?.includes(endpoint));
  if (steps.length > 0) return { ...plan, steps };
  const surface = endpoint === "messages" ? "Anthropic Messages" : "Responses";
  const pools = plan.steps.map((step) => step.pool).join(", ");
  throw new RouterError(
    "unroutable",
    `The ${surface} API is relayed to DeepSeek's own endpoint and is not translated, and no pool planned for this request reaches DeepSeek (${pools}). Route this model to a DeepSeek pool, or use /v1/chat/completions.`,
    { param: "model" },
  );
}

/**
 * Admission (a PoolGate lease per plan step) happens inside attemptPlan and nowhere else, so only a
 * request that got past the cache ever takes a concurrency slot. Every failure before an answer is
 * accounted here, once, and handed to the cache's followers.
 */
async function admitAndSend(scope: RequestScope, gates: PoolGates, cache: PromptCache): Promise<Response> {
  const { c, call, decision } = scope;
  const signal = scope.departure.signal;
  const upstream = cache.upstreamSignal(signal);
  let attempt: Attempt;
  try {
    attempt = await attemptPlan({
      plan: decision.plan,
      policy: c.get("policy"),
      call: {
        ...wireOf(call),
        rawBody: call.rawBody,
        stream: decision.stream,
        beta: call.beta,
        ...(call.surface ? { headers: call.surface.headers } : {}),
      },
      env: c.env,
      signal: upstream,
      deadlines: decision.deadlines,
      gate: gates,
      waitUntil: (work) => c.executionCtx.waitUntil(work),
      onSpent: scope.accounts.spent,
      timeline: c.get("timeline"),
    });
  } catch (error) {
    // The queue's and the upstream's time, as for an answer (see `respond`): a failed attempt's wait
    // is not the router's overhead either.
    c.set("waitedMs", c.get("waitedMs") + performance.now() - scope.sentAt);
    cache.fail(error, signal.aborted);
    scope.accounts.finish(failure(scope, error, cache.status));
    if (signal.aborted && !(error instanceof RouterError)) {
      throw new RouterError("client_closed", "The client closed the request before an answer.", {
        cause: error,
      });
    }
    throw toRouterError(error).withHeaders(scope.headers);
  }
  return respond(scope, attempt, cache, upstream);
}

/**
 * The answer, relayed: stream or JSON, with the decision headers of the step that served it. `upstream`
 * stops the stream's upstream call (see {@link PromptCache.upstreamSignal}).
 */
function respond(scope: RequestScope, attempt: Attempt, cache: PromptCache, upstream: AbortSignal): Response {
  const { c, decision, headers, sentAt } = scope;
  const upstreamMs = performance.now() - sentAt;
  c.set("waitedMs", c.get("waitedMs") + upstreamMs);
  stampServedBy(headers, attempt, decision);

  const { step, candidate } = attempt;
  const accounting: AnswerObserver = {
    end: (end: AnswerEnd) => {
      // The upstream's own latency: the wait for a slot and earlier attempts are not its doing.
      const latencyMs =
        end.firstTokenMs === undefined ? undefined : Math.max(0, end.firstTokenMs - attempt.queuedMs);
      attempt.settle({ kind: settlement(end), status: 200, latencyMs });
      scope.accounts.finish({
        cache: cache.status,
        model: step.model,
        pool: step.pool,
        status: 200,
        // An answer that went on for identical requests after this caller left was not this caller's.
        outcome: scope.departure.signal.aborted ? "cancelled" : end.outcome,
        finishReason: end.finishReason,
        reported: end.usage,
        reachedUpstream: true,
        outputEvents: end.outputEvents,
        firstTokenMs: end.firstTokenMs,
        upstreamMs,
      });
    },
  };
  // Payload capture (opt-in) first: the accounting's record names where the payload went.
  const capture = payloadCapture(c, scope.call.rawBody, {
    endpoint: wireOf(scope.call).endpoint,
    stream: attempt.answer.kind === "stream",
  });
  const observers = [
    ...(capture ? [capture] : []),
    accounting,
    cache.observe(step, candidate.target.name, attempt.answer.kind),
    ...(scope.call.observers ?? []),
  ];
  const { endpoint } = wireOf(scope.call);
  const { answer } = attempt;
  if (answer.kind === "stream") {
    const pool = c.get("policy").pools[step.pool];
    return streamAnswer(answer.source, headers, upstream, sentAt, observers, {
      firstTokenAt: attempt.firstTokenAt,
      idleMs: pool?.timeouts.idleMs ?? 30_000,
      totalAt: decision.deadlines.totalAt,
      abort: attempt.abort,
      endpoint,
      clientLeft: (reason) => scope.departure.abort(reason),
    });
  }
  const { usage } = readAnswer(answer.body, endpoint);
  const cost = usage ? usageCostUsd(c.get("policy"), step.model, usage, Date.now()) : 0;
  headers.set("x-router-cost-usd", cost.toFixed(8));
  return jsonAnswer(answer, headers, sentAt, observers, endpoint);
}

/** The request ended before an answer: a departure is the caller's doing (499), anything else ours. */
function failure(scope: RequestScope, error: unknown, cache: string | undefined) {
  const departed = scope.departure.signal.aborted;
  timelineOf(scope.c).errorCode ??= departed ? "client_closed" : toRouterError(error).code;
  return {
    cache,
    model: scope.decision.classification.model,
    status: departed ? 499 : toRouterError(error).status,
    outcome: departed ? ("cancelled" as const) : ("rejected" as const),
    reachedUpstream: false,
    upstreamMs: performance.now() - scope.sentAt,
  };
}

/** The request's record (issue 25): what was asked, through which door, and what the router made of it. */
function noteDecision(c: Context<AppEnv>, call: InferenceCall, decision: Decision): void {
  const { endpoint, body } = wireOf(call);
  const { classification: k } = decision;
  const metadata = body.metadata as { user_id?: unknown } | undefined;
  const endUser = typeof body.user === "string" ? body.user : metadata?.user_id;
  timelineOf(c).decide({
    surface: surfaceOf(endpoint),
    endpoint,
    classification: { type: k.type, latency: k.latency, priority: k.priority, why: k.why },
    route: decision.plan.reason,
    stream: decision.stream,
    ...(typeof endUser === "string" ? { endUser: endUser.slice(0, 128) } : {}),
    // Only a kept record reads the fingerprints: with records off the hashing is not done at all.
    ...(recordsKept(c.env) ? { prompt: fingerprintPrompt(call.request.body, call.rawBody) } : {}),
  });
}

function stampServedBy(headers: Headers, attempt: Attempt, decision: Decision): void {
  const { step, candidate } = attempt;
  headers.set("x-router-model", step.model);
  headers.set("x-router-pool", step.pool);
  headers.set("x-router-target", candidate.target.name);
  headers.set("x-router-queue-ms", String(Math.round(attempt.queuedMs)));
  headers.set("x-router-reason", routeReason(decision.classification.why, decision.plan, step));
  if (attempt.retries > 0) headers.set("x-router-retries", String(attempt.retries));
  if (step.degraded) headers.set("x-router-degraded", step.degraded);
  if (attempt.traceId) headers.set("x-ds-trace-id", attempt.traceId);
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
/** How long the router holds a stream with a far first-token deadline before committing to the client. */
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
  const requested = parseWholeNumber("x-router-deadline-ms", header, { min: 1, max: MAX_DEADLINE_MS });
  return {
    receivedAt: now,
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
