import { modelPrices } from "../classify/catalog";
import { costUsd, periodAt } from "../classify/price";
import type { Policy } from "../config/policy";
import { activePolicy } from "../config/policy-source";
import { internalRequest } from "../middleware/internal-call";
import { type Usage, usageFromWire } from "../usage";
import type { Claim, LineMessage, LineOutcome } from "./types";
import { lineResultId } from "./wire";

/** The batch lines' queue, as wrangler.toml names it. */
export const BATCH_QUEUE = "deepseek-router-batch-lines";

/** The router's own fetch handler: every line goes through it, exactly as a caller's request would. */
export type AppFetch = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

/** Tests only: runs before a line goes to the pipeline and after it answered; a throw is a crash. */
export interface ConsumerHooks {
  beforeRun?(line: LineMessage): void;
  afterRun?(line: LineMessage): void;
}

/** Answers that mean "not now" (saturated, failing upstream): the line is given back and retried later. */
const RETRYABLE = new Set([429, 500, 502, 503, 504]);
/** After this many runs that ended in a retryable answer, the last answer is the line's result. */
const MAX_ATTEMPTS = 8;
/**
 * A line refused for its budget (402 `budget_exhausted`) runs again this many times, this far apart.
 * The authority counts what it lent isolates as spent, so lines still running can hold the rest of a
 * budget with reservations (their prompt and `max_tokens`) they will not use. What holders report is
 * told apart (429 `budget_reserved`, retried soon); this covers what they could not (a report past its
 * freshness). Once they have settled, a budget that is really spent refuses the line again, and that
 * refusal is its result.
 */
const BUDGET_RECHECKS = 2;
const BUDGET_RECHECK_S = 3;

/**
 * The BATCH_LINES consumer. Each message names one line; the line is claimed from its batch (so a
 * duplicate or redelivered message never runs it twice), sent through the app as its tenant at low
 * priority and background latency (classification, routing, admission, cache and accounting all
 * apply), and its answer recorded against the claim. Saturation and upstream failures give the line
 * back and retry the message with backoff; only a message whose line is settled is acknowledged.
 */
export async function runBatchLines(
  batch: MessageBatch<LineMessage>,
  env: Env,
  ctx: ExecutionContext,
  app: AppFetch,
  hooks: ConsumerHooks = {},
): Promise<void> {
  const policy = await activePolicy(env, Date.now());
  const pricing = policy.ok ? policy.value.policy : undefined;
  await Promise.all(batch.messages.map((message) => runLine({ message, env, ctx, app, hooks, pricing })));
}

interface LineRun {
  message: Message<LineMessage>;
  env: Env;
  ctx: ExecutionContext;
  app: AppFetch;
  hooks: ConsumerHooks;
  pricing: Policy | undefined;
}

async function runLine(run: LineRun): Promise<void> {
  const { message, env } = run;
  const { tenant, batchId, index } = message.body;
  const batches = env.BATCHES.getByName(tenant);
  let claim: Claim;
  try {
    claim = await batches.claim(batchId, index);
  } catch (error) {
    return retryAfterError(message, error);
  }
  if (claim.kind === "skip") return message.ack();
  if (claim.kind === "wait") return message.retry({ delaySeconds: claim.retryInS });

  run.hooks.beforeRun?.(message.body);
  let answer: Answer;
  try {
    answer = await execute(run, claim);
  } catch (error) {
    // The pipeline itself threw (it renders its own errors, so this is rare): give the line back.
    await batches.release(batchId, index, claim.token).catch(() => {});
    return retryAfterError(message, error);
  }
  run.hooks.afterRun?.(message.body);

  const delaySeconds = retryDelay(answer, claim.attempt);
  if (delaySeconds !== undefined) {
    await batches.release(batchId, index, claim.token);
    return message.retry({ delaySeconds });
  }
  try {
    await batches.complete(batchId, index, claim.token, outcomeOf(message.body, claim, answer, run.pricing));
  } catch (error) {
    // Not recorded: the claim's lease runs out and the line runs again, booked under the same ledger key.
    return retryAfterError(message, error);
  }
  message.ack();
}

interface Answer {
  status: number;
  requestId: string;
  body: unknown;
  model: string | null;
  costUsd: number;
  retryAfterS: number | undefined;
}

/** One line through the app, as its tenant: the same path, limits and accounting as any request. */
async function execute(run: LineRun, claim: Extract<Claim, { kind: "run" }>): Promise<Answer> {
  const { tenant, batchId, index } = run.message.body;
  // FIM is DeepSeek's /beta/completions; OpenAI names it /v1/completions.
  const path = claim.url === "/v1/completions" ? "/beta/completions" : claim.url;
  const requestId = `batch-${batchId.slice("batch_".length)}-${index}`;
  const request = internalRequest(
    `https://batch.internal${path}`,
    {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-request-id": requestId,
        "x-router-priority": "low",
        "x-router-latency": "background",
      },
      body: claim.body,
    },
    { tenantId: tenant, keyId: claim.keyId, ledgerKey: `batch:${batchId}:${index}:${claim.generation}` },
  );
  const response = await run.app(request, run.env, run.ctx);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Kept as text: the caller sees exactly what the pipeline answered.
  }
  const retryAfter = Number(response.headers.get("retry-after"));
  return {
    status: response.status,
    requestId: response.headers.get("x-request-id") ?? requestId,
    body,
    model: response.headers.get("x-router-model"),
    costUsd: Number(response.headers.get("x-router-cost-usd")) || 0,
    retryAfterS: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  };
}

function outcomeOf(
  line: LineMessage,
  claim: Extract<Claim, { kind: "run" }>,
  answer: Answer,
  policy: Policy | undefined,
): LineOutcome {
  const ok = answer.status === 200;
  const usage =
    ok && typeof answer.body === "object" && answer.body !== null
      ? usageFromWire((answer.body as { usage?: unknown }).usage)
      : undefined;
  const result = JSON.stringify({
    id: lineResultId(line.batchId, line.index),
    custom_id: claim.customId,
    response: { status_code: answer.status, request_id: answer.requestId, body: answer.body },
    error: null,
  });
  return {
    result,
    ok,
    usage: {
      input: usage?.promptTokens ?? 0,
      cached: usage?.cacheHitTokens ?? 0,
      output: usage?.completionTokens ?? 0,
      reasoning: usage?.reasoningTokens ?? 0,
    },
    costUsd: answer.costUsd,
    peakCostUsd: usage && policy && answer.model ? peakCostUsd(policy, answer.model, usage, Date.now()) : 0,
  };
}

/** What `usage` would have cost at the peak rates of the price period in force at `now`. */
function peakCostUsd(policy: Policy, model: string, usage: Usage, now: number): number {
  const period = periodAt(modelPrices(policy, model), now);
  const rates = period?.peak ?? period?.offPeak;
  if (!rates) return 0;
  return costUsd(
    {
      cacheHitTokens: usage.cacheHitTokens,
      cacheMissTokens: usage.cacheMissTokens,
      outputTokens: usage.completionTokens,
    },
    rates,
  );
}

/** How long until a line that got `answer` on its `attempt`-th run runs again; undefined when the answer is its result. */
function retryDelay(answer: Answer, attempt: number): number | undefined {
  const code = (answer.body as { error?: { code?: unknown } } | null)?.error?.code;
  // The budget is held by requests in flight (other lines, often): soon, not backed off.
  if (code === "budget_reserved")
    return attempt < MAX_ATTEMPTS ? Math.ceil(answer.retryAfterS ?? BUDGET_RECHECK_S) : undefined;
  if (RETRYABLE.has(answer.status))
    return attempt < MAX_ATTEMPTS ? backoffSeconds(attempt, answer.retryAfterS) : undefined;
  const budget = answer.status === 402 && code === "budget_exhausted";
  return budget && attempt <= BUDGET_RECHECKS ? BUDGET_RECHECK_S : undefined;
}

/** 5 s, 10 s, 20 s … capped at 5 minutes; an upstream's Retry-After is honoured when longer. */
function backoffSeconds(attempt: number, retryAfterS?: number): number {
  const backoff = Math.min(300, 5 * 2 ** Math.max(0, attempt - 1));
  return Math.ceil(Math.max(backoff, retryAfterS ?? 0));
}

function retryAfterError(message: Message<LineMessage>, error: unknown): void {
  console.error(JSON.stringify({ event: "batch_line_retry", ...message.body, error: String(error) }));
  message.retry({ delaySeconds: backoffSeconds(message.attempts) });
}
