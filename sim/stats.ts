/** Counters a test (or the router's own suite) reads to see what reached the "upstream". */

export interface RecentRequest {
  path: string;
  method: string;
  model?: string;
  stream?: boolean;
  authorization?: string;
  /** The `accept-encoding` the request came with, if any. */
  acceptEncoding?: string;
  /** `anthropic-version` and `anthropic-beta`, as sent to the Anthropic base. */
  anthropic?: Record<string, string>;
  body?: unknown;
  /** Response status, once decided. */
  status?: number;
  /** The exact text of a generated answer as it was sent (up to 256 KiB), for byte-level comparisons. */
  sent?: string;
  /** Unix milliseconds of arrival. */
  at: number;
}

/** How a response that got past the headers ended. */
export type EndReason = "completed" | "aborted" | "cut" | "stalled" | "blank" | "queueTimeout";

export interface SimStats {
  /** Every request received (control API excluded). */
  requests: number;
  byPath: Record<string, number>;
  byStatus: Record<string, number>;
  /** Requests holding a concurrency slot now. */
  inFlight: number;
  peakInFlight: number;
  /** Requests waiting for a slot now (overload "queue"). */
  queuedNow: number;
  /** Responses that ran to their natural end (finish_reason and [DONE], or the full JSON body). */
  completed: number;
  /** Responses the client abandoned (disconnect or abort) before they ended, queued ones included. */
  aborted: number;
  /** Responses the server ended without an answer: cut, stall timeout, blank body, queue timeout. */
  interrupted: number;
  /** Concurrency rejections (not injected faults; see `faults`). */
  rejected429: number;
  rejected503: number;
  /** Requests that ever waited in the queue. */
  queued: number;
  queueTimeouts: number;
  /** Injected faults by kind (status faults as `status:<code>`). */
  faults: Record<string, number>;
  promptTokens: number;
  cacheHitTokens: number;
  /** Completion tokens actually sent (an aborted stream counts what went out). */
  completionTokens: number;
  recent: RecentRequest[];
}

export const RECENT_LIMIT = 50;

export function emptyStats(): SimStats {
  return {
    requests: 0,
    byPath: {},
    byStatus: {},
    inFlight: 0,
    peakInFlight: 0,
    queuedNow: 0,
    completed: 0,
    aborted: 0,
    interrupted: 0,
    rejected429: 0,
    rejected503: 0,
    queued: 0,
    queueTimeouts: 0,
    faults: {},
    promptTokens: 0,
    cacheHitTokens: 0,
    completionTokens: 0,
    recent: [],
  };
}

export function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Folds an ended response into the counters. */
export function recordEnd(stats: SimStats, reason: EndReason): void {
  if (reason === "completed") stats.completed++;
  else if (reason === "aborted") stats.aborted++;
  else {
    stats.interrupted++;
    if (reason === "queueTimeout") stats.queueTimeouts++;
  }
}
