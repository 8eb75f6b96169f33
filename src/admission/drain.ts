/**
 * How fast a gate frees slots, counted per second over a sliding window: constant memory and time at
 * any rate. Pure: the clock comes in.
 */
export class DrainRate {
  private readonly slots: Array<{ second: number; count: number }>;
  private since: number | undefined;

  constructor(private readonly windowSeconds = 10) {
    this.slots = Array.from({ length: windowSeconds }, () => ({ second: -1, count: 0 }));
  }

  record(now: number): void {
    this.since ??= now;
    const second = Math.floor(now / 1000);
    const slot = this.slots[second % this.windowSeconds] as { second: number; count: number };
    if (slot.second !== second) {
      slot.second = second;
      slot.count = 0;
    }
    slot.count++;
  }

  /** Slots freed per second over the window (or since the first release, if that is shorter). */
  perSecond(now: number): number {
    if (this.since === undefined) return 0;
    const current = Math.floor(now / 1000);
    let total = 0;
    for (const slot of this.slots) {
      if (current - slot.second < this.windowSeconds) total += slot.count;
    }
    const spanS = Math.min(this.windowSeconds, Math.max(1, (now - this.since) / 1000));
    return total / spanS;
  }
}

export const RETRY_AFTER_BOUNDS = { minMs: 250, maxMs: 60_000, unknownMs: 5_000 } as const;

/**
 * When a shed request would likely find a slot: `ahead + 1` slots must free first, at `perSecond`.
 * With no releases in the window (every holder is a long stream) there is nothing to measure, so a
 * few seconds is a modest guess; the bounds keep the answer useful to a client's backoff.
 */
export function retryAfterMs(ahead: number, perSecond: number): number {
  if (!(perSecond > 0)) return RETRY_AFTER_BOUNDS.unknownMs;
  const estimate = ((ahead + 1) / perSecond) * 1000;
  return Math.round(Math.min(RETRY_AFTER_BOUNDS.maxMs, Math.max(RETRY_AFTER_BOUNDS.minMs, estimate)));
}

/**
 * A tenant's own drain: by Little's law each held slot frees after the gate's mean holding time
 * (in flight ÷ drain rate), so a tenant holding `held` slots frees them at `held/inFlight` of the rate.
 */
export function tenantDrainPerSecond(perSecond: number, held: number, inFlight: number): number {
  return inFlight > 0 ? (perSecond * held) / inFlight : 0;
}
