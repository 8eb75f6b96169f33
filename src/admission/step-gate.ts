import type { PlanStep } from "../routing/plan";

/** How an attempt ended, as admission and health tracking need to know it. */
export interface AttemptOutcome {
  kind: "success" | "failure" | "abandoned";
  /** The upstream's HTTP status, when it answered. */
  status?: number;
  /** Time to first token, or to the whole answer when not streamed. */
  latencyMs?: number;
}

/** Permission to send one attempt upstream; released exactly once, with how the attempt went. */
export interface StepPass {
  queuedMs: number;
  release(outcome: AttemptOutcome): void;
}

/**
 * Admission control for plan steps. `enter` resolves with a pass once the step's pool has room, or
 * throws a RouterError (429 + Retry-After) when the request is shed. With `lastStep` false it may
 * throw at once when the pool is full, so the plan moves on to its next step instead of queueing.
 */
export interface StepGate {
  enter(step: PlanStep, lastStep: boolean, signal: AbortSignal): Promise<StepPass>;
}

/** No admission control: every step may go at once. */
export const OPEN_GATE: StepGate = {
  enter: async () => ({ queuedMs: 0, release() {} }),
};
