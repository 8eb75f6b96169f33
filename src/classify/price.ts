import type { PricePeriod, Rates } from "../config/prices";

const BEIJING_OFFSET_MS = 8 * 3600_000;

interface RatesAt {
  rates: Rates;
  peak: boolean;
}

/** The rates in force at `now`: the latest period that has started, then peak or off-peak. */
export function ratesAt(periods: readonly PricePeriod[], now: number): RatesAt | undefined {
  const current = periodAt(periods, now);
  if (!current) return undefined;
  if (!current.peak || !isPeak(current, now)) return { rates: current.offPeak, peak: false };
  return { rates: current.peak, peak: true };
}

/** The latest period that has started by `now`. */
export function periodAt(periods: readonly PricePeriod[], now: number): PricePeriod | undefined {
  let current: PricePeriod | undefined;
  let currentFrom = Number.NEGATIVE_INFINITY;
  for (const period of periods) {
    const from = startOf(period);
    if (from <= now && from > currentFrom) {
      current = period;
      currentFrom = from;
    }
  }
  return current;
}

/** Periods come from the policy, which lives as long as the isolate: each start is parsed once. */
const starts = new WeakMap<PricePeriod, number>();

function startOf(period: PricePeriod): number {
  let from = starts.get(period);
  if (from === undefined) {
    from = Date.parse(period.from);
    starts.set(period, from);
  }
  return from;
}

function isPeak(period: PricePeriod, now: number): boolean {
  if (period.weekendsOffPeak) {
    const beijingDay = new Date(now + BEIJING_OFFSET_MS).getUTCDay();
    if (beijingDay === 0 || beijingDay === 6) return false;
  }
  const hour = new Date(now).getUTCHours();
  return period.peakHoursUtc.some(([start, end]) => hour >= start && hour < end);
}

interface TokenCounts {
  cacheHitTokens: number;
  cacheMissTokens: number;
  outputTokens: number;
}

export function costUsd(tokens: TokenCounts, rates: Rates): number {
  const usd =
    (tokens.cacheHitTokens * rates.inputCacheHit +
      tokens.cacheMissTokens * rates.inputCacheMiss +
      tokens.outputTokens * rates.output) /
    1_000_000;
  // Whole 1e-12 dollars, far below any price: records, spans and logs read 0.0000438, not 4.3799999999999994e-5.
  return Math.round(usd * 1e12) / 1e12;
}
