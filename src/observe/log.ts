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
  /** The verified end user of a frontend token (`u_…`), when the request came with one. */
  endUser?: string;
}

/** The Worker var that chooses which completions are logged; optional. */
export interface LogVars {
  /**
   * "all" (default): every completion. "failures": only those that did not end `complete` with a 2xx,
   * what an operator tails in an incident; the request records (issue 25) still hold every request.
   * "off": none. Each line is a Workers Logs event, billed per event.
   */
  COMPLETION_LOGS?: string;
}

export function logCompletion(env: object, record: CompletionRecord): void {
  const mode = (env as LogVars).COMPLETION_LOGS;
  if (mode === "off") return;
  if (mode === "failures" && record.outcome === "complete" && record.status < 400) return;
  console.log(JSON.stringify({ event: "completion", ...record }));
}
