import { usageCostUsd } from "../classify/catalog";
import { estimateTextTokens } from "../classify/tokens";
import type { Policy } from "../config/policy";
import { type LedgerEntry, usageToRecord } from "../ledger/entry";
import type { OwnedCall } from "./types";

/** Kept events that carry generated output: one token each, as the pipeline estimates a cut stream. */
const OUTPUT_EVENTS = new Set([
  "response.output_text.delta",
  "response.reasoning_text.delta",
  "response.function_call_arguments.delta",
  "response.custom_tool_call_input.delta",
]);

export function isOutputEvent(kind: OwnedCall["kind"], name: string | null, data: string): boolean {
  if (kind === "responses") return name !== null && OUTPUT_EVENTS.has(name);
  return data !== "[DONE]" && !data.startsWith('{"error"');
}

/**
 * The ledger row of a call whose owner died mid-call, when the pipeline's own accounting died with it:
 * estimated from the request's text and the output events kept, under the entry id the pipeline books
 * (`owned:<id>`), so a row the pipeline did write is never counted twice. Pure.
 */
export function lostCallEntry(o: {
  call: OwnedCall;
  outputEvents: number;
  policy: Policy;
  now: number;
}): LedgerEntry {
  const { usage } = usageToRecord(undefined, true, estimateTextTokens(o.call.body), o.outputEvents);
  return {
    entryId: `owned:${o.call.id}`,
    kind: "request",
    requestId: o.call.id,
    at: o.now,
    model: o.call.model,
    pool: null,
    status: 500,
    outcome: "failed",
    cache: null,
    usage,
    estimated: true,
    costUsd: usageCostUsd(o.policy, o.call.model, usage, o.now),
    savedUsd: 0,
    keyId: o.call.keyId,
    endUser: o.call.endUser?.id ?? null,
  };
}
