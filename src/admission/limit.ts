import type { ReleaseOutcome } from "./types";

/**
 * The adaptive concurrency limit of one gate (AIMD with a latency signal). Pure: the clock comes in.
 *
 * DeepSeek's real ceiling moves (it scales with the account balance and with server load) and it
 * answers `429`/`503` when it is crossed, so the configured ceiling is an upper bound, not a promise.
 * - Multiplicative decrease on an upstream 429/503 (×0.9) of a lease granted after the last decrease.
 *   The requests already in flight when the upstream tipped over fail together and are one signal,
 *   not twenty (TCP ignores losses of what was sent before its last cut the same way); but a refusal
 *   of a lease granted since then says the new limit is still too high. A time-based cooldown would
 *   miss that: a refused request frees its slot at once, and the same excess slot would be granted
 *   and refused over and over until the cooldown ended.
 * - More gently (×0.95, at most once per cooldown), when the recent time to first token rises to
 *   `ttftTolerance`× its healthy baseline (the upstream is queueing internally: the gradient signal).
 *   The baseline drifts up slowly, so a lasting change in the request mix becomes the new normal
 *   within a few dozen answers instead of shrinking the limit forever.
 * - Additive increase on each answered request while the limit is actually in use (in flight ≥ half
 *   of it), by `growth`/limit per answer: the limit grows by `growth` slots per limit's worth of answers.
 *   `growth` is 2% of the ceiling (at least one slot), so a 2,500 ceiling recovers from a halving in
 *   25 rounds, not 1,250.
 * - Never above the ceiling, never below `MIN_LIMIT`.
 */
export interface AdaptiveLimit {
  value: number;
  lastDecreaseAt: number;
  /** Fast-moving average of time to first token (ms), over answered requests. */
  ttftRecent?: number;
  /** The healthy baseline: follows drops at once and rises slowly. */
  ttftBaseline?: number;
  samples: number;
}

export const LIMIT_TUNING = {
  /** On an upstream 429/503. Gentle, as in Netflix's AIMD limiter: a halving strands capacity. */
  decreaseFactor: 0.9,
  /** On rising latency: a hint, so a gentler step still. */
  latencyDecreaseFactor: 0.95,
  /** Between latency-triggered decreases. */
  cooldownMs: 1_000,
  ttftTolerance: 2,
  /** Answers seen before the latency signal is trusted. */
  minSamples: 20,
  recentWeight: 0.2,
  baselineRiseWeight: 0.05,
  growthShare: 0.02,
} as const;

export const MIN_LIMIT = 1;

export function initialLimit(ceiling: number): AdaptiveLimit {
  return { value: ceiling, lastDecreaseAt: 0, samples: 0 };
}

/** The whole number of slots the gate grants. */
export function effectiveLimit(limit: AdaptiveLimit, ceiling: number): number {
  return Math.max(MIN_LIMIT, Math.min(ceiling, Math.floor(limit.value)));
}

/** Whether an upstream status means "too much concurrency": DeepSeek's 429 and 503 "too busy". */
export function isOverloadStatus(status: number | undefined): boolean {
  return status === 429 || status === 503;
}

/** One released lease, as the limit needs to see it. */
export interface Released {
  outcome: ReleaseOutcome;
  /** When the lease was granted. */
  grantedAt: number;
  /** Leases held before this release. */
  inFlight: number;
}

/** The limit after one released lease. */
export function observeOutcome(
  limit: AdaptiveLimit,
  { outcome, grantedAt, inFlight }: Released,
  ceiling: number,
  now: number,
): AdaptiveLimit {
  if (isOverloadStatus(outcome.status)) {
    if (grantedAt <= limit.lastDecreaseAt) return limit;
    return decrease(limit, now, LIMIT_TUNING.decreaseFactor);
  }
  const answered = outcome.kind === "success" && (outcome.status === undefined || outcome.status < 300);
  if (!answered) return limit;
  const next = outcome.latencyMs === undefined ? limit : withTtft(limit, outcome.latencyMs);
  if (latencyRising(next) && now - next.lastDecreaseAt >= LIMIT_TUNING.cooldownMs) {
    return decrease(next, now, LIMIT_TUNING.latencyDecreaseFactor);
  }
  if (inFlight * 2 < next.value) return next;
  const growth = Math.max(1, ceiling * LIMIT_TUNING.growthShare);
  return { ...next, value: Math.min(ceiling, next.value + growth / Math.max(1, next.value)) };
}

function decrease(limit: AdaptiveLimit, now: number, factor: number): AdaptiveLimit {
  return {
    ...limit,
    value: Math.max(MIN_LIMIT, limit.value * factor),
    lastDecreaseAt: now,
    // The baseline survives; the recent average restarts so one slow spell is not punished twice.
    ttftRecent: limit.ttftBaseline,
  };
}

function withTtft(limit: AdaptiveLimit, ttftMs: number): AdaptiveLimit {
  const sample = Math.max(0, ttftMs);
  const recent =
    limit.ttftRecent === undefined
      ? sample
      : limit.ttftRecent + LIMIT_TUNING.recentWeight * (sample - limit.ttftRecent);
  const baseline =
    limit.ttftBaseline === undefined || recent < limit.ttftBaseline
      ? recent
      : limit.ttftBaseline + LIMIT_TUNING.baselineRiseWeight * (recent - limit.ttftBaseline);
  return { ...limit, ttftRecent: recent, ttftBaseline: baseline, samples: limit.samples + 1 };
}

function latencyRising(limit: AdaptiveLimit): boolean {
  if (limit.samples < LIMIT_TUNING.minSamples) return false;
  if (limit.ttftRecent === undefined || limit.ttftBaseline === undefined) return false;
  // A floor keeps near-zero baselines (a cache-warm local upstream) from tripping on jitter.
  return limit.ttftRecent > LIMIT_TUNING.ttftTolerance * Math.max(limit.ttftBaseline, 50);
}
