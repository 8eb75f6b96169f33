import type { Usage } from "./usage";

/**
 * The answer's shapes, shared by the relay that produces an answer (proxy/), the cache that keeps and
 * shares it (cache/) and the records that account for it (observe/, ledger/). A leaf: it imports
 * nothing but types below it.
 */

export type AnswerOutcome = "complete" | "truncated" | "failed" | "cancelled";

/** DeepSeek's finish reason for an answer its inference system cut short for lack of resources. */
export const INTERRUPTED_FINISH = "insufficient_system_resource";

/** An answer that reached its end: complete, unless the upstream says it cut the answer short. */
export function endedOutcome(finishReason: string | undefined): AnswerOutcome {
  return finishReason === INTERRUPTED_FINISH ? "truncated" : "complete";
}

/** How an answer ended, reported once when the stream closes (or the JSON is read). */
export interface AnswerEnd {
  outcome: AnswerOutcome;
  finishReason?: string;
  usage?: Usage;
  /** Events that carried output: the basis for estimating usage the upstream never reported. */
  outputEvents?: number;
  /** From sending the request upstream to the first token; the JSON's arrival when not streamed. */
  firstTokenMs?: number;
}

/** What the relay has read of a stream so far; observers see it at each event. */
export interface StreamSoFar {
  readonly usage: Usage | undefined;
  readonly finishReason: string | undefined;
  /** An in-band error event, if one came. */
  readonly upstreamError: unknown;
  /** The answer's final event arrived: `[DONE]`, or another surface's own (`message_stop`, …). */
  readonly done: boolean;
}

/**
 * Something else that watches an answer as it is relayed (the cache's capture, for one): it sees the
 * bytes the caller sees, each SSE event's payload once the relay has parsed it (streams only, so no
 * observer parses the stream again), then how the answer ended. It must be cheap and must not throw.
 */
export interface AnswerObserver {
  chunk?(bytes: Uint8Array): void;
  event?(payload: string, soFar: StreamSoFar): void;
  end(end: AnswerEnd): void;
}

/** How a request ended for billing and the log: an answer's outcome, or refused before any answer. */
export type RequestOutcome = AnswerOutcome | "rejected";

/** How a request ended, as far as billing and the log care. */
export interface Finished {
  model: string;
  pool?: string;
  status: number;
  outcome: RequestOutcome;
  finishReason?: string;
  /** The usage the upstream reported, if it did. */
  reported?: Usage;
  /** Whether an upstream started generating for this request (and may bill for it). */
  reachedUpstream: boolean;
  /** Streamed events that carried output, for estimating usage the upstream never reported. */
  outputEvents?: number;
  firstTokenMs?: number;
  upstreamMs?: number;
  /** x-router-cache outcome, when the cache answered or was consulted. */
  cache?: string;
  /** What a cache hit would have cost upstream. */
  savedUsd?: number;
}
