import type { TargetSpec } from "../config/policy";
import { type BreakerState, CircuitBreaker } from "./breaker";

/**
 * What one isolate knows about one upstream target: requests in flight from here, an EWMA of time to
 * first token, and its circuit breaker. It lives in isolate memory on purpose: the hot path reads it
 * with no I/O, and the signals it tracks (an upstream failing or slowing down) are global, so every
 * isolate sees them in its own traffic within a few requests. docs/ARCHITECTURE.md has the trade-off.
 */
export class TargetState {
  inFlight = 0;
  ewmaTtftMs: number | undefined;
  readonly breaker = new CircuitBreaker();

  static readonly ALPHA = 0.3;

  recordTtft(ms: number): void {
    this.ewmaTtftMs =
      this.ewmaTtftMs === undefined ? ms : TargetState.ALPHA * ms + (1 - TargetState.ALPHA) * this.ewmaTtftMs;
  }

  state(now: number): BreakerState {
    return this.breaker.state(now);
  }
}

const registry = new Map<string, TargetState>();

/** Keyed by where the target points too, so a policy that moves a target starts it afresh. */
export function targetState(pool: string, target: TargetSpec): TargetState {
  const key = `${pool}/${target.name}@${target.baseUrl ?? ""}`;
  let state = registry.get(key);
  if (!state) {
    state = new TargetState();
    registry.set(key, state);
  }
  return state;
}
