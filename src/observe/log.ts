import type { RequestOutcome } from "../answer";
import type { Usage } from "../usage";

/** One line per finished inference request: what it was, how it ended, what it used. */
export interface CompletionRecord {
  requestId: string;
  tenant: string;
  model: string;
  pool?: string;
  stream: boolean;
  status: number;
  outcome: RequestOutcome;
  finishReason?: string;
  /** The answer's usage plus that of every attempt the upstream may have billed on the way. */
  usage?: Usage;
  /** Some of the usage was estimated because the upstream never reported it. */
  estimated?: boolean;
  /** The answer's cost plus that of every spent attempt: what the ledger's rows for it add up to. */
  costUsd?: number;
  /** Attempts sent upstream that did not answer (cut, stalled, abandoned) and are booked as estimates. */
  spentAttempts?: number;
  cache?: string;
  upstreamMs: number;
  firstTokenMs?: number;
  totalMs: number;
}

export function logCompletion(record: CompletionRecord): void {
  console.log(JSON.stringify({ event: "completion", ...record }));
}
