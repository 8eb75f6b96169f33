import type { PricePeriod } from "../config/prices";
import { mintId } from "./ids";
import { planStart, type Schedule } from "./schedule";
import type { BatchRecord } from "./types";
import type { BatchEndpoint, BatchLine, LineError } from "./validate";

const WINDOW_MS = 24 * 3_600_000;

/** What `POST /v1/batches` asks of a tenant's batch object. */
export interface CreateBatch {
  tenant: string;
  /** The managed key that created the batch: its limits and budgets apply to every line when it runs. */
  keyId: string | null;
  inputFileId: string;
  endpoint: BatchEndpoint;
  metadata: Record<string, string> | null;
  schedule: Schedule;
  /** Per model name: the price tables a line naming it may be billed under, for the start time. */
  prices: Record<string, PricePeriod[][]>;
  servedModels: string[];
}

/**
 * A new batch, pure: `failed` with OpenAI's error list if the input has bad lines, lines for another
 * endpoint or more than one model; otherwise waiting in `validating` for its planned start.
 */
export function newBatchRecord(args: {
  input: CreateBatch;
  lines: readonly BatchLine[];
  errors: readonly LineError[];
  now: number;
}): BatchRecord {
  const { input, lines, now } = args;
  const model = lines[0]?.model ?? null;
  const failed = [...args.errors, ...mismatches(lines, input.endpoint)];
  const expiresAt = now + WINDOW_MS;
  return {
    id: mintId("batch_", now),
    tenant: input.tenant,
    keyId: input.keyId,
    endpoint: input.endpoint,
    model,
    inputFileId: input.inputFileId,
    completionWindow: "24h",
    metadata: input.metadata,
    schedule: input.schedule,
    start: planStart({
      schedule: input.schedule,
      tables: input.prices[model ?? ""] ?? [],
      lineCount: lines.length,
      now,
      expiresAt,
    }),
    status: failed.length > 0 ? "failed" : "validating",
    ending: null,
    errors: failed.length > 0 ? failed : null,
    outputFileId: null,
    errorFileId: null,
    createdAt: now,
    expiresAt,
    inProgressAt: null,
    finalizingAt: null,
    completedAt: null,
    failedAt: failed.length > 0 ? now : null,
    expiredAt: null,
    cancellingAt: null,
    cancelledAt: null,
  };
}

/** OpenAI's rules for a whole file: every line calls the batch's endpoint, and names one model. */
function mismatches(lines: readonly BatchLine[], endpoint: BatchEndpoint): LineError[] {
  const errors: LineError[] = [];
  const stray = lines.find((line) => line.url !== endpoint);
  if (stray) {
    const message = `The line's url '${stray.url}' is not the batch's endpoint '${endpoint}'.`;
    errors.push({ code: "url_mismatch", line: stray.line, message, param: null });
  }
  if (new Set(lines.map((line) => line.model)).size > 1) {
    const message = "Every line of a batch must name the same model.";
    errors.push({ code: "model_mismatch", line: null, message, param: null });
  }
  return errors;
}
