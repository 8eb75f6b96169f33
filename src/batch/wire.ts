import type { BatchRecord, LineTotals } from "./types";

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
const usd = (value: number) => Math.round(value * 1e8) / 1e8;

const BUDGET_RULE =
  "Each line spends the tenant's and the creating key's limits and budgets when it runs, at the price in force then. " +
  "Once a dollar budget is spent, every line still to run fails with budget_exhausted (402) and is never sent upstream.";

/**
 * OpenAI's batch object, plus what this router adds: `scheduled_start_at` (when a waiting batch will
 * start; it waits in `validating`, the one pre-start status OpenAI clients know), `schedule`, and
 * `cost` (what its lines cost at the prices in force when each ran, and what they would have cost at
 * peak price), and `budget` (which key's limits its lines spend, and what a spent budget does to them).
 */
export function batchObject(record: BatchRecord, totals: LineTotals) {
  return {
    id: record.id,
    object: "batch" as const,
    endpoint: record.endpoint,
    model: record.model,
    errors: record.errors ? { object: "list" as const, data: record.errors } : null,
    input_file_id: record.inputFileId,
    completion_window: record.completionWindow,
    status: record.status,
    output_file_id: record.outputFileId,
    error_file_id: record.errorFileId,
    created_at: seconds(record.createdAt),
    in_progress_at: seconds(record.inProgressAt),
    expires_at: seconds(record.expiresAt),
    finalizing_at: seconds(record.finalizingAt),
    completed_at: seconds(record.completedAt),
    failed_at: seconds(record.failedAt),
    expired_at: seconds(record.expiredAt),
    cancelling_at: seconds(record.cancellingAt),
    cancelled_at: seconds(record.cancelledAt),
    request_counts: { total: totals.total, completed: totals.completed, failed: totals.failed },
    usage: {
      input_tokens: totals.inputTokens,
      input_tokens_details: { cached_tokens: totals.cachedTokens },
      output_tokens: totals.outputTokens,
      output_tokens_details: { reasoning_tokens: totals.reasoningTokens },
      total_tokens: totals.inputTokens + totals.outputTokens,
    },
    metadata: record.metadata,
    schedule: record.schedule,
    scheduled_start_at: record.status === "failed" ? null : seconds(record.start.startAt),
    schedule_reason: record.start.reason,
    cost: {
      usd: usd(totals.costUsd),
      at_peak_usd: usd(totals.peakCostUsd),
      saved_usd: usd(totals.peakCostUsd - totals.costUsd),
    },
    budget: {
      key_id: record.keyId ?? null,
      on_exhausted: "fail_unsent" as const,
      description: BUDGET_RULE,
    },
  };
}

export type BatchObject = ReturnType<typeof batchObject>;

/** An error-file line for a request that never got an HTTP answer (cancelled, expired). */
export function unansweredLine(
  batchId: string,
  index: number,
  customId: string,
  ending: "cancelled" | "expired",
): string {
  const error =
    ending === "expired"
      ? {
          code: "batch_expired",
          message: "This request could not be executed before the completion window expired.",
        }
      : {
          code: "batch_cancelled",
          message: "This request was not executed because the batch was cancelled.",
        };
  return JSON.stringify({ id: lineResultId(batchId, index), custom_id: customId, response: null, error });
}

export function lineResultId(batchId: string, index: number): string {
  return `batch_req_${batchId.slice("batch_".length)}_${index}`;
}
