/**
 * A circuit breaker for one upstream target. Closed: requests flow and failures are counted. Open:
 * the target is ejected for a cool-down. Half-open: one probe at a time decides between closing and
 * re-opening with a doubled cool-down. Pure state transitions: every method takes `now`.
 */
interface BreakerConfig {
  /** Consecutive failures that open the circuit. */
  consecutiveFailures: number;
  cooldownMs: number;
  maxCooldownMs: number;
}

const DEFAULT_BREAKER: BreakerConfig = {
  consecutiveFailures: 5,
  cooldownMs: 5_000,
  maxCooldownMs: 60_000,
};

export type BreakerState = "closed" | "open" | "half-open";

export class CircuitBreaker {
  private failures = 0;
  private openedUntil = 0;
  private cooldownMs: number;
  private probing = false;
  private tripped = false;

  constructor(private readonly config: BreakerConfig = DEFAULT_BREAKER) {
    this.cooldownMs = config.cooldownMs;
  }

  state(now: number): BreakerState {
    if (!this.tripped) return "closed";
    return now < this.openedUntil ? "open" : "half-open";
  }

  /** Whether a request may go to this target now; in half-open, only the single probe may. */
  tryAcquire(now: number): boolean {
    const state = this.state(now);
    if (state === "closed") return true;
    if (state === "open" || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** Milliseconds until the target may be probed again (0 when it may be tried now). */
  retryInMs(now: number): number {
    return this.state(now) === "open" ? this.openedUntil - now : 0;
  }

  onSuccess(): void {
    this.failures = 0;
    this.probing = false;
    this.tripped = false;
    this.cooldownMs = this.config.cooldownMs;
  }

  onFailure(now: number): void {
    this.failures++;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe) {
      this.cooldownMs = Math.min(this.cooldownMs * 2, this.config.maxCooldownMs);
      this.open(now);
    } else if (!this.tripped && this.failures >= this.config.consecutiveFailures) {
      this.open(now);
    }
  }

  /** The probe ended without a verdict (e.g. the client left); let another request probe. */
  onAbandon(): void {
    this.probing = false;
  }

  private open(now: number): void {
    this.tripped = true;
    this.openedUntil = now + this.cooldownMs;
  }
}
