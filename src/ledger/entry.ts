import type { RequestOutcome } from "../answer";
import { NO_USAGE, type Usage } from "../usage";

/**
 * One row of usage: a request's own (`kind: "request"`), or an earlier attempt of it that reached the
 * upstream and was retried (`kind: "attempt"`; the upstream may have billed it). `entryId` is minted by
 * the router and makes recording idempotent; `requestId` is only the caller's correlation id, which a
 * caller may reuse, so it must never decide what is recorded.
 */
export interface LedgerEntry {
  entryId: string;
  kind: "request" | "attempt";
  requestId: string;
  at: number;
  model: string;
  pool: string | null;
  status: number;
  outcome: RequestOutcome;
  /** HIT, COALESCED and the like cost nothing upstream. */
  cache: string | null;
  usage: Usage;
  /** True when the upstream never reported usage (a broken or cancelled stream) and it was estimated. */
  estimated: boolean;
  costUsd: number;
  savedUsd: number;
  /** Who spent it, as dollar budgets count it: the router key's id and a frontend token's end user. */
  keyId: string | null;
  endUser: string | null;
}

/** Whose spend to sum: the whole tenant's (neither set), one key's, or one end user's. */
export interface Spender {
  keyId?: string;
  endUser?: string;
}

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cacheHitTokens: number;
  cacheMissTokens: number;
  reasoningTokens: number;
  costUsd: number;
  savedUsd: number;
}

export interface UsageSummary {
  tenant: string;
  from: number;
  to: number;
  totals: UsageTotals;
  byModel: Array<{ model: string } & UsageTotals>;
  byDay: Array<{ day: string } & UsageTotals>;
  byOutcome: Record<string, number>;
}

/**
 * The usage to record for an answer: the upstream's own figures when it reported them, otherwise an
 * estimate (the prompt estimate, plus one token per streamed output event), since DeepSeek bills for
 * what it generated before a stream broke or the client left, and reports it only at the end.
 */
export function usageToRecord(
  reported: Usage | undefined,
  reachedUpstream: boolean,
  estimatedPromptTokens: number,
  outputEvents: number,
): { usage: Usage; estimated: boolean } {
  if (reported) return { usage: reported, estimated: false };
  if (!reachedUpstream) return { usage: NO_USAGE, estimated: false };
  return {
    usage: {
      ...NO_USAGE,
      promptTokens: estimatedPromptTokens,
      cacheMissTokens: estimatedPromptTokens,
      completionTokens: outputEvents,
    },
    estimated: true,
  };
}
