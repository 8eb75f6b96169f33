import type { Context } from "hono";
import { modelPrices } from "../classify/catalog";
import { type Classification, classify, type InferenceRequest } from "../classify/classify";
import { costUsd, ratesAt } from "../classify/price";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { type CompletionRecord, logCompletion } from "../observe/log";
import { poolAvailability } from "../routing/availability";
import { planRoute } from "../routing/plan";
import { type Attempt, attemptPlan } from "./attempt";
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
  const clientSignal = c.req.raw.signal;
  const upstreamAbort = new AbortController();
  const abortUpstream = () => upstreamAbort.abort(clientSignal.reason);
  clientSignal.addEventListener("abort", abortUpstream, { once: true });

  const sentAt = performance.now();
  const record: CompletionRecord = {
    requestId: c.get("requestId"),
    tenant: tenant.id,
    model: classification.model,
    stream: call.request.body.stream === true,
    status: 0,
    outcome: "rejected",
    upstreamMs: 0,
    totalMs: 0,
  };
  const log = (patch: Partial<CompletionRecord>) => {
    clientSignal.removeEventListener("abort", abortUpstream);
    logCompletion({ ...record, ...patch, totalMs: round(performance.now() - sentAt) });
  };

  let attempt: Attempt;
  try {
    attempt = await attemptPlan(
      plan,
      policy,
      {
        endpoint: call.request.endpoint,
        body: call.request.body,
        rawBody: call.rawBody,
        stream: record.stream,
        beta: call.beta,
      },
      c.env,
      upstreamAbort.signal,
      Date.now,
    );
  } catch (error) {
    const routerError = error instanceof RouterError ? error : undefined;
    log({ status: routerError?.status ?? 499, outcome: clientSignal.aborted ? "cancelled" : "rejected" });
    throw routerError ? routerError.withHeaders(headers) : error;
  }
  const upstreamMs = performance.now() - sentAt;
  c.set("waitedMs", c.get("waitedMs") + upstreamMs);
  record.upstreamMs = round(upstreamMs);

  const { step, candidate } = attempt;
  headers.set("x-router-model", step.model);
  headers.set("x-router-pool", step.pool);
  headers.set("x-router-target", candidate.target.name);
  headers.set("x-router-queue-ms", String(Math.round(attempt.queuedMs)));
  if (step.degraded) headers.set("x-router-degraded", step.degraded);
  const traceId = attempt.response.headers.get("x-ds-trace-id");
  if (traceId) headers.set("x-ds-trace-id", traceId);

  const accounting: AnswerObserver = {
    end: (end: AnswerEnd) => {
      attempt.settle({ kind: settlement(end), status: 200, latencyMs: end.firstTokenMs });
      const rates = ratesAt(modelPrices(policy, step.model), Date.now());
      const spent =
        end.usage && rates
          ? costUsd(
              {
                cacheHitTokens: end.usage.cacheHitTokens,
                cacheMissTokens: end.usage.cacheMissTokens,
                outputTokens: end.usage.completionTokens,
              },
              rates.rates,
            )
          : undefined;
      log({
        model: step.model,
        pool: step.pool,
        status: 200,
        outcome: end.outcome,
        finishReason: end.finishReason,
        usage: end.usage,
        costUsd: spent,
        firstTokenMs: end.firstTokenMs === undefined ? undefined : round(end.firstTokenMs),
      });
    },
  };
  const observers: AnswerObserver[] = [accounting];
  const body = attempt.response.body;
  if (!body) {
    attempt.settle({ kind: "failure", status: 200 });
    throw new RouterError("upstream_error", "The upstream answered without a body.").withHeaders(headers);
  }
  if (record.stream) return streamAnswer(body, headers, clientSignal, sentAt, observers);
  return jsonAnswer(attempt.response, headers, sentAt, observers).catch((error: unknown) => {
    throw error instanceof RouterError ? error.withHeaders(headers) : error;
  });
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

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
