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
  usage?: Usage;
  /** The usage was estimated because the upstream never reported it. */
  estimated?: boolean;
  costUsd?: number;
  cache?: string;
  upstreamMs: number;
  firstTokenMs?: number;
  totalMs: number;
  /** The verified end user of a frontend token (`u_…`), when the request came with one. */
  endUser?: string;
}

export function logCompletion(record: CompletionRecord): void {
  console.log(JSON.stringify({ event: "completion", ...record }));
}
