import type { PoolRetries } from "../config/policy";

/**
 * When and how long to wait before retrying an upstream call. Pure: clocks and randomness come in.
 * Full jitter (`random(0, min(cap, base·2^n))`, AWS Builders' Library) spreads a thundering herd;
 * an upstream's own Retry-After / retry-after-ms wins when it asks for longer, within a cap.
 */
export function fullJitterMs(retry: number, policy: PoolRetries, random: () => number): number {
  return Math.floor(random() * Math.min(policy.capMs, policy.baseMs * 2 ** retry));
}

/** The upstream's requested wait: `retry-after-ms`, or `retry-after` as seconds or an HTTP date. */
export function requestedWaitMs(headers: Headers, now: number): number | undefined {
  const ms = Number(headers.get("retry-after-ms"));
  if (headers.has("retry-after-ms") && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get("retry-after");
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The delay before retry number `retry` (0-based), or undefined when the step should not be retried:
 * out of retries, the upstream asks for longer than the cap, or the wait would pass the deadline.
 */
export function retryDelayMs(
  retry: number,
  requested: number | undefined,
  policy: PoolRetries,
  remainingMs: number,
  random: () => number,
): number | undefined {
  if (retry >= policy.max) return undefined;
  if (requested !== undefined && requested > policy.retryAfterCapMs) return undefined;
  const delay = Math.max(requested ?? 0, fullJitterMs(retry, policy, random));
  return delay < remainingMs ? delay : undefined;
}

/**
 * Envoy-style retry budget: retries may add at most `ratio` of the requests seen in the last
 * `windowMs`, plus a small floor so a quiet pool can still retry. Without it, a failing upstream
 * would be hit with up to (1 + maxRetries)× its load exactly when it is weakest.
 */
export class RetryBudget {
  // Counts per one-second slot over the window: constant memory and time at any request rate.
  private readonly slots: Array<{ second: number; requests: number; retries: number }>;

  constructor(
    private readonly ratio = 0.1,
    private readonly floor = 3,
    windowSeconds = 10,
  ) {
    this.slots = Array.from({ length: windowSeconds }, () => ({ second: -1, requests: 0, retries: 0 }));
  }

  recordRequest(now: number): void {
    this.slot(now).requests++;
  }

  /** Takes one retry from the budget if there is one. */
  tryRetry(now: number): boolean {
    const current = Math.floor(now / 1000);
    let requests = 0;
    let retries = 0;
    for (const slot of this.slots) {
      if (current - slot.second < this.slots.length) {
        requests += slot.requests;
        retries += slot.retries;
      }
    }
    if (retries >= Math.max(this.floor, Math.floor(requests * this.ratio))) return false;
    this.slot(now).retries++;
    return true;
  }

  private slot(now: number): { second: number; requests: number; retries: number } {
    const second = Math.floor(now / 1000);
    const slot = this.slots[second % this.slots.length] as {
      second: number;
      requests: number;
      retries: number;
    };
    if (slot.second !== second) {
      slot.second = second;
      slot.requests = 0;
      slot.retries = 0;
    }
    return slot;
  }
}

const budgets = new Map<string, RetryBudget>();

/** One budget per pool per isolate, like Envoy's per-cluster budget per proxy. */
export function retryBudget(pool: string, ratio: number): RetryBudget {
  const key = `${pool}:${ratio}`;
  let budget = budgets.get(key);
  if (!budget) {
    budget = new RetryBudget(ratio);
    budgets.set(key, budget);
  }
  return budget;
}
