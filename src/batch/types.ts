import type { Schedule, StartPlan } from "./schedule";
import type { BatchEndpoint, LineError } from "./validate";

/** The queue message of one line: which line, never its content (lines can exceed a message's 128 KB). */
export interface LineMessage {
  tenant: string;
  batchId: string;
  index: number;
}

type BatchStatus =
  | "validating"
  | "failed"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "expired"
  | "cancelling"
  | "cancelled";

/** A batch as the Durable Object keeps it; the line table holds the rest. Times are Unix ms. */
export interface BatchRecord {
  id: string;
  tenant: string;
  /** The managed key that created it (absent on batches created before keys gated lines). */
  keyId?: string | null;
  endpoint: BatchEndpoint;
  model: string | null;
  inputFileId: string;
  completionWindow: "24h";
  metadata: Record<string, string> | null;
  schedule: Schedule;
  start: StartPlan;
  status: BatchStatus;
  /** The terminal status a finalizing batch will reach. */
  ending: "completed" | "cancelled" | "expired" | null;
  errors: LineError[] | null;
  outputFileId: string | null;
  errorFileId: string | null;
  createdAt: number;
  expiresAt: number;
  inProgressAt: number | null;
  finalizingAt: number | null;
  completedAt: number | null;
  failedAt: number | null;
  expiredAt: number | null;
  cancellingAt: number | null;
  cancelledAt: number | null;
}

/** Sums over a batch's lines, from the line table: exact by construction. */
export interface LineTotals {
  total: number;
  completed: number;
  failed: number;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costUsd: number;
  peakCostUsd: number;
}

/** What the consumer may do with a line it was sent. */
export type Claim =
  | {
      kind: "run";
      token: string;
      /** Runs of this line so far, this one included. */
      attempt: number;
      /**
       * Times the line was given back after a complete answer (429, 5xx). A crash does not count, so a
       * rerun after a crash books usage under the same ledger key as the run it replaces.
       */
      generation: number;
      customId: string;
      url: BatchEndpoint;
      body: string;
      /** The line runs under this managed key's limits and budgets as well as its tenant's. */
      keyId: string | null;
    }
  /** Someone else holds it, or the batch has not started: try again in `retryInS`. */
  | { kind: "wait"; retryInS: number }
  /** Already finished, cancelled or expired: acknowledge. */
  | { kind: "skip" };

/** One line's result, as the consumer hands it to the batch. */
export interface LineOutcome {
  /** The output-file line, JSON. */
  result: string;
  /** A 200 answer (output file) rather than an error (error file). */
  ok: boolean;
  usage: { input: number; cached: number; output: number; reasoning: number };
  costUsd: number;
  peakCostUsd: number;
}
