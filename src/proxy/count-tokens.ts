import type { Context } from "hono";
import { classify, type InferenceRequest } from "../classify/classify";
import type { AppEnv } from "../env";
import { poolAvailability } from "../routing/availability";
import { planRoute } from "../routing/plan";
import { checkModel, effectiveLimits, scopesOf } from "../tenancy/enforce";
import { sendUpstream } from "../upstream/client";
import { secretOf } from "../upstream/providers/types";

/** How long the router waits for DeepSeek's count before answering from its own estimator. */
const UPSTREAM_COUNT_MS = 5_000;
export const TOKEN_COUNT_HEADER = "x-router-token-count";

/**
 * `count_tokens` for the Anthropic surface. DeepSeek answers it at its `/anthropic` base though it does not
 * document it (api-surfaces.md §1.11), so the count comes from the first DeepSeek pool the request would
 * be routed to; when no planned pool is DeepSeek's, or it does not answer with a count, the router's estimator
 * answers and `x-router-token-count: estimate` says so (`upstream` otherwise). It is not inference: no
 * admission, no cache, no ledger row. The caller's model list holds as for inference; a frontend token
 * (which lives in a browser, where anyone can copy it) always gets the estimate, since the upstream's
 * count spends the router's DeepSeek key with no limit to bound it.
 */
export async function countTokens(
  c: Context<AppEnv>,
  request: InferenceRequest,
  wire: { body: Record<string, unknown>; headers: Record<string, string> },
): Promise<Response> {
  const policy = c.get("policy");
  const now = Date.now();
  const classification = classify(request, {}, c.get("tenant"), policy, now);
  const endUser = c.get("endUser");
  checkModel(
    classification,
    request.body.model,
    effectiveLimits(scopesOf(c.get("tenant"), c.get("routerKey"), endUser)),
  );
  if (endUser) return answer(classification.promptTokens, "estimate");
  const plan = planRoute(classification, policy, poolAvailability(policy, now), false);
  const step = plan.steps.find((planned) => planned.provider === "deepseek");
  const target = step ? policy.pools[step.pool]?.targets[0] : undefined;
  if (step && target) {
    const counted = await sendUpstream(
      { name: target.name, baseUrl: target.baseUrl ?? "", apiKey: secretOf(c.env, target) },
      "/anthropic/v1/messages/count_tokens",
      JSON.stringify({ ...wire.body, model: step.upstreamModel }),
      AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(UPSTREAM_COUNT_MS)]),
      wire.headers,
    )
      .then(readCount)
      .catch(() => undefined);
    if (counted !== undefined) return answer(counted, "upstream");
  }
  return answer(classification.promptTokens, "estimate");
}

async function readCount(response: Response): Promise<number | undefined> {
  if (!response.ok) {
    await response.body?.cancel();
    return undefined;
  }
  const body = (await response.json().catch(() => undefined)) as { input_tokens?: unknown } | undefined;
  const count = body?.input_tokens;
  return typeof count === "number" && Number.isInteger(count) && count >= 0 ? count : undefined;
}

/** Counting is free upstream, so it spends no limit or budget and says so with a cost of 0. */
function answer(inputTokens: number, source: "upstream" | "estimate"): Response {
  return Response.json(
    { input_tokens: inputTokens },
    { headers: { [TOKEN_COUNT_HEADER]: source, "x-router-cost-usd": "0" } },
  );
}
